"""Normalise the engine's input frames into flat numpy arrays, in one place.

Dates become int64 day numbers (days since 1970-01-01), money whole cents, statuses booleans,
and every policy and claim carries the position of its customer in the customer frame, so
that per-customer sums are `np.bincount` calls instead of Python loops or joins.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .policy import TierPolicy

# A missing date counts as "never" (a missing end date: cover that does not end; a missing
# start or report date: not yet known), so it sorts after every real date.
NO_DATE = np.int64(2**40)
EPOCH = dt.date(1970, 1, 1)
PRODUCT_TYPES = (
    "life",
    "health",
    "critical_illness",
    "accident",
    "property",
    "motor",
    "travel",
)


def day_number(d: dt.date | dt.datetime | pd.Timestamp | str) -> int:
    """The day number (days since 1970-01-01) of a calendar date; times of day are dropped."""
    if isinstance(d, str):
        d = dt.date.fromisoformat(d[:10])
    if isinstance(d, dt.datetime):  # also pd.Timestamp
        d = d.date()
    return (d - EPOCH).days


def from_day_number(n: int) -> dt.date:
    """The calendar date of a day number."""
    return EPOCH + dt.timedelta(days=int(n))


def to_day_numbers(values) -> np.ndarray:
    """Day numbers (int64) of a column of dates (datetime64 of any unit, dates or strings).

    Missing dates become NO_DATE.
    """
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        s = pd.to_datetime(s)
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    arr = s.to_numpy()
    days = arr.astype("datetime64[D]").astype(np.int64)
    return np.where(np.isnat(arr), NO_DATE, days)


def cents(amounts) -> np.ndarray:
    """Money (floats with two decimals, or missing) as whole cents (int64)."""
    values = pd.to_numeric(pd.Series(amounts), errors="coerce").fillna(0.0).to_numpy(np.float64)
    return np.rint(values * 100).astype(np.int64)


@dataclass(frozen=True)
class Prepared:
    """The input frames as arrays, restricted to what was known at the as-of date D."""

    customer_ids: pd.Index
    as_of: int
    birth: np.ndarray
    gender: np.ndarray
    city: np.ndarray
    # Policies that started on or before D and belong to a known customer.
    p_cust: np.ndarray
    p_start: np.ndarray
    p_end: np.ndarray
    p_premium_cents: np.ndarray
    p_term: np.ndarray
    p_single: np.ndarray
    p_product: np.ndarray
    product_names: tuple[str, ...]
    # Claims reported on or before D and belonging to a known customer.
    c_cust: np.ndarray
    c_loss: np.ndarray
    c_report: np.ndarray
    c_status_ok: np.ndarray
    c_fraud: np.ndarray
    c_amount_cents: np.ndarray
    # Each claim's product type (the code of its policy's, as p_product; -1: policy unknown).
    c_product: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of customers."""
        return len(self.customer_ids)


def prepare(
    customers: pd.DataFrame, policies: pd.DataFrame, claims: pd.DataFrame, as_of: dt.date, policy: TierPolicy
) -> Prepared:
    """Normalise the three frames for an as-of date (see the module docstring).

    Policies that started after D and claims reported after D are dropped here, once, so
    that no later step can see them. Raises ValueError on duplicate customer ids.
    """
    d = day_number(as_of)
    ids = pd.Index(customers["customer_id"].to_numpy(dtype=np.int64), name="customer_id")
    if not ids.is_unique:
        raise ValueError("customers: customer_id must be unique")

    p_cust = ids.get_indexer(policies["customer_id"].to_numpy(dtype=np.int64))
    p_start = to_day_numbers(policies["start_date"])
    keep = (p_cust >= 0) & (p_start <= d)
    product_raw = policies["product_type"].to_numpy(dtype=object)[keep]
    extra = sorted(set(pd.unique(product_raw)) - set(PRODUCT_TYPES), key=str)
    names = PRODUCT_TYPES + tuple(extra)
    product = pd.Categorical(product_raw, categories=list(names)).codes.astype(np.int64)

    c_cust = ids.get_indexer(claims["customer_id"].to_numpy(dtype=np.int64))
    c_report = to_day_numbers(claims["report_date"])
    ckeep = (c_cust >= 0) & (c_report <= d)
    cl = claims.loc[ckeep]
    excluded = list(policy.excluded_claim_statuses)

    pol = policies.loc[keep]
    c_product = np.full(len(cl), -1, dtype=np.int64)
    if len(pol) and "policy_id" in cl.columns and "policy_id" in pol.columns:  # no policy: no product to name
        where = pd.Index(pol["policy_id"].to_numpy(dtype=np.int64)).get_indexer(
            cl["policy_id"].to_numpy(dtype=np.int64)
        )
        c_product = np.where(where >= 0, product[np.maximum(where, 0)], -1)
    return Prepared(
        customer_ids=ids,
        as_of=d,
        birth=to_day_numbers(customers["birth_date"]),
        gender=customers["gender"].astype(object).fillna("?").to_numpy(dtype=object),
        city=customers["city"].astype(object).fillna("?").to_numpy(dtype=object),
        p_cust=p_cust[keep].astype(np.int64),
        p_start=p_start[keep],
        p_end=to_day_numbers(pol["end_date"]),
        p_premium_cents=cents(pol["annual_premium"]),
        p_term=pd.to_numeric(pol["term_years"]).fillna(0).to_numpy(np.int64),
        p_single=(pol["payment_mode"].astype(object) == "single").to_numpy(dtype=bool),
        p_product=product,
        product_names=names,
        c_cust=c_cust[ckeep].astype(np.int64),
        c_loss=to_day_numbers(cl["loss_date"]),
        c_report=c_report[ckeep],
        c_status_ok=~cl["status"].astype(object).isin(excluded).to_numpy(dtype=bool),
        c_fraud=cl["fraud_suspected"].fillna(False).astype(bool).to_numpy(dtype=bool),
        c_amount_cents=cents(cl["paid_amount"]) + cents(cl["reserve_amount"]),
        c_product=c_product,
    )
