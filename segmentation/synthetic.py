"""A synthetic portfolio (customers, policies, claims) for benchmarks and demos.

Pure numpy/pandas and seeded: the same (n_customers, seed) gives the same frames. About 2
policies and 3 claims per customer; claim frequency depends on age, product and a
per-customer frailty, so that the frequency model has something to find.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import numpy as np
import pandas as pd

from .frames import PRODUCT_TYPES, day_number

AS_OF = dt.date(2025, 6, 30)
_PRODUCT_P = np.array([0.20, 0.22, 0.10, 0.15, 0.10, 0.15, 0.08])
_PRODUCT_RATE = np.array([0.05, 0.60, 0.08, 0.30, 0.15, 0.40, 0.50])  # relative frequency
_PRODUCT_PREMIUM = np.array([9000, 2500, 6000, 400, 1500, 4500, 200], dtype=float)
_LONG_TERM = np.array([True, False, True, False, False, False, False])
_STATUS = np.array(["paid", "approved", "under_review", "registered", "reported", "rejected", "withdrawn"])
_STATUS_P = np.array([0.55, 0.10, 0.08, 0.05, 0.07, 0.10, 0.05])
_CITIES = np.array([f"city_{i:02d}" for i in range(30)])


class SyntheticPortfolio(NamedTuple):
    customers: pd.DataFrame
    policies: pd.DataFrame
    claims: pd.DataFrame
    as_of: dt.date


def _dates(days: np.ndarray) -> np.ndarray:
    """datetime64[ns] from day numbers (the dtype a database read usually gives)."""
    return days.astype("datetime64[D]").astype("datetime64[ns]")


def _category(values: np.ndarray) -> pd.Categorical:
    return pd.Categorical(values)


def make_portfolio(
    n_customers: int, seed: int = 0, as_of: dt.date = AS_OF, claims_per_customer: float = 3.0
) -> SyntheticPortfolio:
    """Build a seeded synthetic portfolio of n_customers, as seen on `as_of`.

    A few policies start after as_of and a few claims are reported after it, so that the
    as-of rule has something to exclude.
    """
    rng = np.random.default_rng(seed)
    d = day_number(as_of)
    n = int(n_customers)
    ids = np.arange(1, n + 1, dtype=np.int64)
    age = rng.uniform(18, 85, n)
    city_p = 1.0 / np.arange(1, len(_CITIES) + 1)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "birth_date": _dates((d - age * 365.25).astype(np.int64)),
            "gender": _category(rng.choice(np.array(["M", "F"]), n)),
            "city": _category(rng.choice(_CITIES, n, p=city_p / city_p.sum())),
            "source": _category(
                rng.choice(np.array(["referral", "cold_visit", "community", "related_trade", "other"]), n)
            ),
        }
    )

    per_customer = 1 + rng.poisson(1.0, n)
    owner = np.repeat(np.arange(n), per_customer)
    m = len(owner)
    product = rng.choice(len(PRODUCT_TYPES), m, p=_PRODUCT_P)
    long_term = _LONG_TERM[product]
    start = d - rng.integers(-60, 12 * 365, m)  # about 1 in 70 starts after as_of
    term = np.where(long_term, rng.choice(np.array([5, 10, 15, 20, 30]), m), 1)
    length = np.where(product == PRODUCT_TYPES.index("travel"), rng.integers(7, 31, m), term * 365 + term // 4)
    end = start + length
    mode = np.where(
        long_term,
        rng.choice(np.array(["annual", "monthly", "single"]), m, p=[0.6, 0.3, 0.1]),
        rng.choice(np.array(["annual", "single"]), m),
    )
    premium = np.round(_PRODUCT_PREMIUM[product] * rng.lognormal(0.0, 0.9, m), 2)
    policies = pd.DataFrame(
        {
            "policy_id": np.arange(1, m + 1, dtype=np.int64),
            "customer_id": ids[owner],
            "product_type": _category(np.array(PRODUCT_TYPES)[product]),
            "start_date": _dates(start),
            "end_date": _dates(end),
            "term_years": term.astype(np.int64),
            "payment_mode": _category(mode),
            "annual_premium": premium,
            "status": _category(np.where(end > d, "in_force", "expired")),
        }
    )

    # Claims: Poisson counts over each policy's covered days up to a month after as_of,
    # scaled so that the portfolio has about claims_per_customer claims per customer.
    cover_end = np.minimum(end, d + 30)
    years = np.maximum(cover_end - start, 0) / 365.0
    age_factor = 0.5 + ((age[owner] - 45) / 25) ** 2
    frailty = rng.gamma(2.0, 0.5, n)[owner]
    expected = _PRODUCT_RATE[product] * age_factor * frailty * years
    expected *= claims_per_customer * n / max(expected.sum(), 1e-12)
    count = rng.poisson(expected)
    pol = np.repeat(np.arange(m), count)
    k = len(pol)
    span = np.maximum(cover_end[pol] - start[pol], 1)
    loss = start[pol] + (rng.random(k) * span).astype(np.int64)
    report = loss + rng.geometric(0.1, k) - 1
    status = rng.choice(_STATUS, k, p=_STATUS_P)
    amount = np.round(premium[pol] * rng.lognormal(-0.7, 1.0, k), 2)
    settled = np.isin(status, ["paid", "approved"])
    open_ = np.isin(status, ["under_review", "registered", "reported"])
    claims = pd.DataFrame(
        {
            "claim_id": np.arange(1, k + 1, dtype=np.int64),
            "policy_id": pol.astype(np.int64) + 1,
            "customer_id": ids[owner[pol]],
            "loss_date": _dates(loss),
            "report_date": _dates(report),
            "status": _category(status),
            "paid_amount": np.where(settled, amount, 0.0),
            "reserve_amount": np.where(open_, amount, 0.0),
            "fraud_suspected": rng.random(k) < 0.005,
        }
    )
    return SyntheticPortfolio(customers, policies, claims, as_of)
