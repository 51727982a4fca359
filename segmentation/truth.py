"""A portfolio whose true claim rates are known, to prove how well the risk score ranks.

Not the demo portfolio (synthetic.py, whose frequencies carry a per-customer frailty that no
model can see): here each customer's true claim rate per policy-year is a fixed function of
what the engine sees, set in this module:

    rate = BASE x product x age band x gender x city x interactions

with the interactions a model of main effects cannot fit and should not chase: young motor
drivers (x 2.0), older health customers (x 1.5), men's accident cover (x 1.3), and a small
fixed effect for every (city, product type) cell (lognormal, sigma 0.10). Claims are Poisson
at that rate over each policy's cover, year by year (the age band is that of the year), for
six years before the as-of date; 5 % more claims are rejected (they must not count).

A customer holds one to three product types at D (one policy each, in force), and perhaps a
policy that lapsed during the window. Their **true rate** at D is the mean of the true rates
of the product types they hold then: the predicted claims per policy-year that the risk score
is about.

`ranking_report` fits the engine's model and a plain exposure-weighted Poisson GLM (one-hot
age band, gender, city and product type, on the three years of claims) to the same data and
gives each one's Spearman correlation with the true rate, overall and among customers who hold
a single product type. Pure numpy, pandas and scikit-learn; seeded.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.linear_model import PoissonRegressor
from sklearn.preprocessing import OneHotEncoder

from .frames import PRODUCT_TYPES, day_number

AS_OF = dt.date(2025, 6, 30)
BASE = 0.20
AGE_EDGES = (25, 35, 45, 55, 65, 75)
AGE = np.array([1.30, 1.00, 0.90, 1.00, 1.20, 1.50, 1.90])  # per age band
GENDERS = np.array(["M", "F"])
GENDER = np.array([1.10, 0.90])
CITIES = np.array([f"city_{i:02d}" for i in range(10)])
CITY = np.array([0.70, 0.80, 0.90, 1.00, 1.00, 1.10, 1.20, 1.30, 1.45, 1.60])
CITY_P = 1.0 / np.arange(1, len(CITIES) + 1) ** 0.7
PRODUCT = np.array([0.15, 1.60, 0.25, 0.90, 0.45, 1.20, 1.00])  # in PRODUCT_TYPES' order
PRODUCT_P = np.array([0.18, 0.24, 0.10, 0.16, 0.10, 0.15, 0.07])
_P = {name: i for i, name in enumerate(PRODUCT_TYPES)}
CELL = np.exp(np.random.default_rng(20_251_206).normal(0.0, 0.10, (len(CITIES), len(PRODUCT_TYPES))))
YEARS = 6  # of claims history before D (the model's inputs look three years before its cut-offs)


class TruePortfolio(NamedTuple):
    customers: pd.DataFrame
    policies: pd.DataFrame
    claims: pd.DataFrame
    as_of: dt.date
    true_rate: pd.Series  # per customer_id: the mean true rate of the product types held at D
    single_product: pd.Series  # per customer_id: holds exactly one product type at D


def true_rate(age_band, gender, city, product) -> np.ndarray:
    """The true claims per policy-year of (age band, gender code, city code, product code)."""
    age_band, gender, city, product = (np.asarray(a) for a in (age_band, gender, city, product))
    rate = BASE * PRODUCT[product] * AGE[age_band] * GENDER[gender] * CITY[city] * CELL[city, product]
    rate = rate * np.where((product == _P["motor"]) & (age_band == 0), 2.0, 1.0)
    rate = rate * np.where((product == _P["health"]) & (age_band >= 5), 1.5, 1.0)
    return rate * np.where((product == _P["accident"]) & (gender == 0), 1.3, 1.0)


def _age_band(birth: np.ndarray, day: np.ndarray) -> np.ndarray:
    return np.digitize((day - birth) / 365.25, AGE_EDGES)


def _dates(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")


def make_true_portfolio(n_customers: int, seed: int = 0, as_of: dt.date = AS_OF, rate=None) -> TruePortfolio:
    """A seeded portfolio of n_customers with known true rates (see the module docstring).

    rate: another true rate, a function of (age band, gender code, city code, product code)
    arrays like ``true_rate`` (the default)."""
    rate_of = rate or true_rate
    rng = np.random.default_rng(seed)
    d, n = day_number(as_of), int(n_customers)
    ids = np.arange(1, n + 1, dtype=np.int64)
    birth = d - (rng.uniform(18, 85, n) * 365.25).astype(np.int64)
    gender = rng.integers(0, 2, n)
    city = rng.choice(len(CITIES), n, p=CITY_P / CITY_P.sum())

    # Product types held at D: one to three distinct ones, each a policy in force.
    held = np.zeros((n, len(PRODUCT_TYPES)), dtype=bool)
    n_held = rng.choice([1, 2, 3], n, p=[0.5, 0.35, 0.15])
    keys = rng.random((n, len(PRODUCT_TYPES))) ** (1.0 / PRODUCT_P)  # weighted draws without replacement
    order = np.argsort(-keys, axis=1)
    for j in range(3):
        rows = n_held > j
        held[rows, order[rows, j]] = True
    owner, product = np.nonzero(held)
    start = d - rng.integers(30, YEARS * 365, len(owner))
    end = np.full(len(owner), d + 3650)
    # A lapsed policy of a type not held at D for about a third of them, ended in the window.
    lapsed = np.nonzero(rng.random(n) < 0.35)[0]
    lapsed_product = order[lapsed, 3]
    lapsed_end = d - rng.integers(30, 1000, len(lapsed))
    lapsed_start = lapsed_end - rng.integers(200, 1500, len(lapsed))
    owner = np.concatenate([owner, lapsed])
    product = np.concatenate([product, lapsed_product])
    start, end = np.concatenate([start, lapsed_start]), np.concatenate([end, lapsed_end])
    m = len(owner)

    # Claims: Poisson per policy and year (D - 365 j, D - 365 (j - 1)], at the year's age band.
    lo = d - 365 * np.arange(1, YEARS + 1)  # each year's exclusive start
    days = np.maximum(np.minimum(end[:, None], lo[None, :] + 366) - np.maximum(start[:, None], lo[None, :] + 1), 0)
    band = _age_band(birth[owner][:, None], lo[None, :])
    rate = rate_of(band, gender[owner][:, None], city[owner][:, None], product[:, None])
    counts = rng.poisson(rate * days / 365.0 * 1.05)  # 1 in 21 of them rejected below
    pol, year = np.nonzero(counts)
    pol, year = np.repeat(pol, counts[pol, year]), np.repeat(year, counts[pol, year])
    first = np.maximum(start[pol], lo[year] + 1)
    loss = first + (rng.random(len(pol)) * days[pol, year]).astype(np.int64)
    report = loss + rng.geometric(0.1, len(pol)) - 1
    status = np.where(rng.random(len(pol)) < 0.05, "rejected", "paid")

    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "birth_date": _dates(birth),
            "gender": GENDERS[gender],
            "city": CITIES[city],
            "source": "referral",
        }
    )
    policies = pd.DataFrame(
        {
            "policy_id": np.arange(1, m + 1, dtype=np.int64),
            "customer_id": ids[owner],
            "product_type": np.array(PRODUCT_TYPES)[product],
            "start_date": _dates(start),
            "end_date": _dates(end),
            "term_years": 1,
            "payment_mode": "annual",
            "annual_premium": 1000.0,
            "status": np.where(end > d, "in_force", "lapsed"),
        }
    )
    claims = pd.DataFrame(
        {
            "claim_id": np.arange(1, len(pol) + 1, dtype=np.int64),
            "policy_id": pol.astype(np.int64) + 1,
            "customer_id": ids[owner[pol]],
            "loss_date": _dates(loss),
            "report_date": _dates(report),
            "status": status,
            "paid_amount": 500.0,
            "reserve_amount": 0.0,
            "fraud_suspected": False,
        }
    )
    band_d = _age_band(birth, np.full(n, d))
    per_type = rate_of(band_d[:, None], gender[:, None], city[:, None], np.arange(len(PRODUCT_TYPES))[None, :])
    truth = pd.Series((per_type * held).sum(axis=1) / held.sum(axis=1), index=ids, name="true_rate")
    single = pd.Series(held.sum(axis=1) == 1, index=ids, name="single_product")
    return TruePortfolio(customers, policies, claims, as_of, truth, single)


def plain_glm_rates(book: TruePortfolio, window_days: int = 1095) -> pd.Series:
    """The reference: an exposure-weighted Poisson GLM, one-hot age band (at D), gender, city
    and product type, on each policy's exposure and counting claims in the window; a
    customer's rate is the mean of its predictions for the product types held at D."""
    d = day_number(book.as_of)
    c = book.customers.set_index("customer_id")
    p = book.policies
    start = p["start_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    end = p["end_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    exposure = np.maximum(np.minimum(end, d + 1) - np.maximum(start, d - window_days + 1), 0) / 365.0
    k = book.claims
    loss = k["loss_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    report = k["report_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    counting = (k["status"].to_numpy() != "rejected") & (report <= d) & (loss > d - window_days)
    claims = np.bincount(k["policy_id"].to_numpy()[counting] - 1, minlength=len(p)).astype(float)
    birth = c["birth_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    band = pd.Series(_age_band(birth, np.full(len(c), d)), index=c.index)
    x = pd.DataFrame(
        {
            "age_band": band.loc[p["customer_id"]].to_numpy(),
            "gender": c.loc[p["customer_id"], "gender"].to_numpy(),
            "city": c.loc[p["customer_id"], "city"].to_numpy(),
            "product": p["product_type"].to_numpy(),
        }
    )
    keep = exposure > 0
    encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(x[keep])
    glm = PoissonRegressor(alpha=1e-6, max_iter=300, solver="newton-cholesky")
    glm.fit(encode.transform(x[keep]), claims[keep] / exposure[keep], sample_weight=exposure[keep])
    in_force = (start <= d) & (end > d)
    rate = pd.Series(glm.predict(encode.transform(x[in_force])), index=p["customer_id"].to_numpy()[in_force])
    return rate.groupby(level=0).mean().reindex(book.true_rate.index)


def spearman_pair(score: pd.Series, book: TruePortfolio) -> dict:
    """Spearman of a score with the true rate: overall and among single-product customers."""
    truth = book.true_rate
    score = score.reindex(truth.index)
    one = book.single_product.to_numpy()
    return {
        "overall": float(score.corr(truth, method="spearman")),
        "single_product": float(score[one].corr(truth[one], method="spearman")),
    }


def ranking_report(n_customers: int, seed: int = 0, policy=None, model_sample: int | None = None) -> dict:
    """The engine's published risk score and the plain GLM, each against the true rate.

    Returns {"engine": {...}, "plain_glm": {...}, "ratio": {...}, "model": kind, "inputs": ...}:
    the ratios are the engine's Spearman over the plain GLM's (the target is >= 0.90). With
    ``model_sample``, the engine's model is fitted on that many customers (as a run on a big
    portfolio fits it) and scores everyone.
    """
    from .engine import fit_portfolio_stats, score_portfolio  # the engine imports nothing of this module
    from .policy import TierPolicy

    book = make_true_portfolio(n_customers, seed)
    policy = policy or TierPolicy()
    stats = fit_portfolio_stats(book.customers, book.policies, book.claims, book.as_of, policy, model_sample)
    scored = score_portfolio(
        book.customers,
        book.policies,
        book.claims,
        book.as_of,
        policy,
        model=stats.model,
        portfolio_lr=stats.portfolio_loss_ratio,
    )
    engine = spearman_pair(scored["risk_score"], book)
    plain = spearman_pair(plain_glm_rates(book), book)
    return {
        "engine": engine,
        "plain_glm": plain,
        "ratio": {k: engine[k] / plain[k] for k in engine},
        "model": stats.model.kind,
        "inputs": list(getattr(stats.model, "inputs", ()) or ()),
        "metrics": {
            k: stats.model.metrics.get(k)
            for k in ("deviance_model", "deviance_baseline", "gini_normalised", "boosted_gain")
        },
    }
