"""Per-customer sums, the one intermediate between the raw rows and every feature.

Every feature of the tier rules and every input of the risk model is a float computed from
a handful of per-customer sums of whole numbers: premium in cents, days, counts. The sums
are computed here, once, from the prepared rows (numpy), for a whole portfolio or for one
partition of it alike (crm.jobs.frames); being whole numbers they are exact in any order.

For a feature day d (the as-of date D, or the risk model's cut-off T = D - 365):
- policies "started" by d; "in force" at d: started by d and ending after d;
- claims "known" at d: reported by d with the loss in the window [d - window + 1, d];
  "counting": known, with a status that counts.
With ``target_to`` = D (the model's training rows) two more sums look past d: the days of
cover in (d, D] of the policies started by D, and the counting claims reported by D with the
loss in (d, D].
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .frames import NO_DATE, PRODUCT_TYPES, Prepared
from .policy import TierPolicy

HELD = tuple(f"held_{t}" for t in PRODUCT_TYPES)
COUNT_COLUMNS = (
    "premium_cents",  # Σ annual premium in force at d, in cents
    "long_term_regular",  # policies in force at d: term >= long_term_min_years, not single
    "n_products",  # distinct product types in force at d
    "n_in_force",  # policies in force at d
    *HELD,  # 1 if a policy of the type is in force at d
    "first_start",  # first start date among the policies started by d (NO_DATE: none)
    "earned_cent_days",  # Σ premium cents x days covered in the window (earned = / 36,500)
    "exposure_days",  # Σ days covered in the window
    "incurred_cents",  # Σ paid + reserve of the counting claims, in cents
    "claims_3y",  # counting claims
    "claims_12m",  # ... with the loss in the last year
    "claims_recent",  # ... reported in the recent window
    "fraud",  # known claims suspected of fraud
)
TARGET_COLUMNS = ("target_exposure_days", "target_claims")
CUSTOMER_COLUMNS = ("birth", "gender", "city")


def windows(d: int, policy: TierPolicy) -> dict[str, int]:
    """The day numbers that bound the windows of a feature day (see features.py)."""
    return {
        "window_start": d - policy.window_days + 1,
        "year_start": d - policy.last_year_days + 1,
        "recent_start": d - policy.recent_days + 1,
    }


def _covered(start, end, lo: int, hi_exclusive: int) -> np.ndarray:
    return np.maximum(np.minimum(end, hi_exclusive) - np.maximum(start, lo), 0)


def _sum(keys: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Exact per-customer sums of whole numbers (float64 holds them exactly below 2**53)."""
    return np.rint(np.bincount(keys, weights=values.astype(np.float64), minlength=n)).astype(np.int64)


def aggregate(prep: Prepared, d: int, policy: TierPolicy, target_to: int | None = None) -> pd.DataFrame:
    """The per-customer sums as of feature day ``d`` (see the module docstring), indexed by
    customer_id, with the customers' birth day number, gender and city."""
    n, w = prep.n, windows(d, policy)
    started = prep.p_start <= d
    cust, start, end = prep.p_cust[started], prep.p_start[started], prep.p_end[started]
    premium = prep.p_premium_cents[started]
    product = prep.p_product[started]
    in_force = end > d
    long_term = in_force & (prep.p_term[started] >= policy.long_term_min_years) & ~prep.p_single[started]
    n_types = len(prep.product_names) + 1  # +1: the -1 code of a missing product type
    grid = np.bincount(cust[in_force] * n_types + (product[in_force] + 1), minlength=n * n_types).reshape(n, n_types)
    first_start = np.full(n, NO_DATE, dtype=np.int64)
    np.minimum.at(first_start, cust, start)
    days = _covered(start, end, w["window_start"], d + 1)

    known = (prep.c_report <= d) & (prep.c_loss >= w["window_start"]) & (prep.c_loss <= d)
    counting = known & prep.c_status_ok
    ccust = prep.c_cust[counting]
    out = {
        "birth": prep.birth,
        "gender": prep.gender,
        "city": prep.city,
        "premium_cents": _sum(cust[in_force], premium[in_force], n),
        "long_term_regular": np.bincount(cust[long_term], minlength=n),
        "n_products": np.count_nonzero(grid[:, 1:], axis=1),
        "n_in_force": np.bincount(cust[in_force], minlength=n),
    }
    for code, name in enumerate(HELD):
        out[name] = (grid[:, code + 1] > 0).astype(np.int64)
    out.update(
        {
            "first_start": first_start,
            "earned_cent_days": _sum(cust, premium * days, n),
            "exposure_days": _sum(cust, days, n),
            "incurred_cents": _sum(ccust, prep.c_amount_cents[counting], n),
            "claims_3y": np.bincount(ccust, minlength=n),
            "claims_12m": np.bincount(ccust[prep.c_loss[counting] >= w["year_start"]], minlength=n),
            "claims_recent": np.bincount(ccust[prep.c_report[counting] >= w["recent_start"]], minlength=n),
            "fraud": np.bincount(prep.c_cust[known & prep.c_fraud], minlength=n),
        }
    )
    if target_to is not None:
        out["target_exposure_days"] = _sum(prep.p_cust, _covered(prep.p_start, prep.p_end, d + 1, target_to + 1), n)
        ahead = prep.c_status_ok & (prep.c_loss > d) & (prep.c_loss <= target_to) & (prep.c_report <= target_to)
        out["target_claims"] = np.bincount(prep.c_cust[ahead], minlength=n)
    return normalise(pd.DataFrame(out, index=prep.customer_ids))


def normalise(aggs: pd.DataFrame) -> pd.DataFrame:
    """The one set of dtypes of an aggregates frame, wherever its sums were computed."""
    aggs = aggs.copy() if aggs.index.name == "customer_id" else aggs.rename_axis("customer_id")
    for column in aggs.columns:
        if column in ("gender", "city"):
            aggs[column] = aggs[column].astype(object).where(aggs[column].notna(), "?")
        elif column == "birth":
            aggs[column] = aggs[column].fillna(NO_DATE).astype(np.int64)
        elif column == "first_start":
            aggs[column] = aggs[column].fillna(NO_DATE).astype(np.int64)
        else:
            aggs[column] = aggs[column].fillna(0).astype(np.int64)
    return aggs


def portfolio_totals(aggs: pd.DataFrame) -> tuple[int, int]:
    """(Σ incurred cents, Σ earned cent-days) of these customers, exactly."""
    return int(aggs["incurred_cents"].sum()), int(aggs["earned_cent_days"].sum())
