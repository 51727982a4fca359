"""The one definition of every per-customer metric of the tier rules (TIER_RULES.md).

Reports reuse these functions so that a loss ratio or an earned premium means the same thing
everywhere. Every feature is computed from the per-customer whole-number sums of
aggregates.py (premium in cents, cent-days earned, days covered, claim counts), whether the
engine summed them from rows or the database did: the features are then the same to the bit.

Windows for an as-of date D, as half-open day ranges [start, end):
- window    = [D - window_days + 1, D + 1)      (D - 1094 ... D by default)
- last year = [D - last_year_days + 1, D + 1)
- recent    = [D - recent_days + 1, D + 1)
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .aggregates import aggregate, portfolio_totals
from .frames import Prepared, prepare
from .policy import TierPolicy

DAYS_PER_YEAR = 365  # the 1/365 method: a year is 365 days, also in a leap year

FEATURE_COLUMNS = (
    "annual_premium",
    "tenure_years",
    "long_term_regular",
    "n_products",
    "earned_premium",
    "exposure_years",
    "incurred",
    "claims_3y",
    "claims_12m",
    "claims_recent_180d",
    "fraud_flag",
    "loss_ratio",
    "credible_loss_ratio",
)


def covered_days(start, end, window_start, window_end_exclusive) -> np.ndarray:
    """Days of [window_start, window_end_exclusive) covered by [start, end), per policy.

    All arguments are day numbers (arrays or scalars); end dates are exclusive.
    """
    lo = np.maximum(np.asarray(start, dtype=np.int64), window_start)
    hi = np.minimum(np.asarray(end, dtype=np.int64), window_end_exclusive)
    return np.maximum(hi - lo, 0)


def earned_premium_1_365(annual_premium, start, end, window_start, window_end_exclusive) -> np.ndarray:
    """Premium earned in a window by the 1/365 method: premium x days covered / 365."""
    days = covered_days(start, end, window_start, window_end_exclusive)
    return np.asarray(annual_premium, dtype=np.float64) * days / DAYS_PER_YEAR


def loss_ratio(incurred, earned) -> np.ndarray:
    """incurred / earned; 0 when both are 0, infinite when only earned is 0."""
    incurred = np.asarray(incurred, dtype=np.float64)
    earned = np.asarray(earned, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = incurred / earned
    ratio = np.where(earned == 0, np.where(incurred == 0, 0.0, np.inf), ratio)
    return ratio


def credibility(exposure_years, k: float) -> np.ndarray:
    """Z = exposure / (exposure + k): how far a customer's own experience is trusted."""
    e = np.asarray(exposure_years, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = e / (e + k)
    return np.where(e + k == 0, 0.0, z)


def credible_loss_ratio(ratio, exposure_years, portfolio_lr: float, k: float) -> np.ndarray:
    """Z x loss_ratio + (1 - Z) x portfolio_lr; infinite when the loss ratio is."""
    ratio = np.asarray(ratio, dtype=np.float64)
    z = credibility(exposure_years, k)
    finite = np.where(np.isinf(ratio), 0.0, ratio)
    # 0 x inf would be NaN when Z = 0, so an infinite ratio is carried over explicitly.
    return np.where(np.isinf(ratio), np.inf, z * finite + (1.0 - z) * portfolio_lr)


def portfolio_loss_ratio(features: pd.DataFrame) -> float:
    """Σ incurred / Σ earned_premium over all customers (same 0 / infinity rule)."""
    return float(loss_ratio(features["incurred"].sum(), features["earned_premium"].sum()))


def compute_features(
    customers: pd.DataFrame,
    policies: pd.DataFrame,
    claims: pd.DataFrame,
    as_of: dt.date,
    policy: TierPolicy | None = None,
    *,
    portfolio_lr: float | None = None,
) -> pd.DataFrame:
    """Per-customer features as of D, indexed by customer_id (one row per customer).

    `portfolio_lr` is the portfolio loss ratio used for credibility; when None it is
    computed from these customers, which is only right when they are the whole portfolio
    (a partition must be given the portfolio's value).
    """
    policy = policy or TierPolicy()
    prep = prepare(customers, policies, claims, as_of, policy)
    return features_from_prepared(prep, prep.as_of, policy, portfolio_lr=portfolio_lr)


def features_from_prepared(
    prep: Prepared, d: int, policy: TierPolicy, *, portfolio_lr: float | None = None
) -> pd.DataFrame:
    """compute_features on prepared arrays, as of day number d (d may precede prep.as_of:
    the risk model uses this to see the portfolio as it was at an earlier cut-off)."""
    return features_from_aggregates(aggregate(prep, d, policy), d, policy, portfolio_lr=portfolio_lr)


def portfolio_lr_from_totals(incurred_cents: int, earned_cent_days: int) -> float:
    """The portfolio loss ratio from exact whole-number totals (aggregates.portfolio_totals)."""
    return float(loss_ratio(incurred_cents / 100, earned_cent_days / (100 * DAYS_PER_YEAR)))


def features_from_aggregates(
    aggs: pd.DataFrame, d: int, policy: TierPolicy, *, portfolio_lr: float | None = None
) -> pd.DataFrame:
    """The features of FEATURE_COLUMNS from the per-customer sums of aggregates.aggregate
    (or of the database) as of day number d."""
    first_start = aggs["first_start"].to_numpy(np.int64)
    earned = aggs["earned_cent_days"].to_numpy(np.int64) / (100 * DAYS_PER_YEAR)
    exposure = aggs["exposure_days"].to_numpy(np.int64) / DAYS_PER_YEAR
    incurred = aggs["incurred_cents"].to_numpy(np.int64) / 100
    ratio = loss_ratio(incurred, earned)
    if portfolio_lr is None:
        portfolio_lr = portfolio_lr_from_totals(*portfolio_totals(aggs))
    frame = pd.DataFrame(
        {
            "annual_premium": aggs["premium_cents"].to_numpy(np.int64) / 100,
            "tenure_years": np.where(first_start <= d, (d - first_start) / DAYS_PER_YEAR, 0.0),
            "long_term_regular": aggs["long_term_regular"].to_numpy(np.int64),
            "n_products": aggs["n_products"].to_numpy(np.int64),
            "earned_premium": earned,
            "exposure_years": exposure,
            "incurred": incurred,
            "claims_3y": aggs["claims_3y"].to_numpy(np.int64),
            "claims_12m": aggs["claims_12m"].to_numpy(np.int64),
            "claims_recent_180d": aggs["claims_recent"].to_numpy(np.int64),
            "fraud_flag": aggs["fraud"].to_numpy(np.int64) > 0,
            "loss_ratio": ratio,
            "credible_loss_ratio": credible_loss_ratio(ratio, exposure, portfolio_lr, policy.credibility_k),
        },
        index=aggs.index,
    )
    return frame
