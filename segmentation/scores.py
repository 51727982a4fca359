"""Value and risk scores, 0-100 each (higher = more valuable / riskier).

value_score = 100 x (0.50 x P + 0.20 x L + 0.15 x T + 0.15 x N), where
- P = min(1, ln(1 + annual_premium) / ln(1 + 100,000)): premium in force, log-scaled so
  that going from 1,000 to 10,000 matters as much as from 10,000 to 100,000, capped at
  100,000 (more premium than that adds nothing);
- L = min(long_term_regular, 3) / 3: long-term (10 years+) regular-premium policies, the
  business the branch reports call the most valuable;
- T = min(tenure_years, 20) / 20: years since the first policy;
- N = min(n_products, 4) / 4: distinct product types in force (breadth of the relationship).
Each part is in [0, 1], so the score is in [0, 100]; each part can be shown as its points.

risk_score = 100 x (1 - exp(-f / ref)), where f is the predicted claim frequency (claims
per policy-year, from risk_model) and ref = portfolio rate / ln 2, fixed by the model: a
customer at the portfolio's average frequency scores 50, twice it 75, four times it 93.75.
A fixed transform (not a rank) gives the same score to a customer whatever else is scored.

Both are published (stored, compared between runs, shown and exported) in whole points,
`SCORE_DECIMALS`: a point is the smallest difference worth a member of staff's attention,
and finer steps would move with the calendar alone (a year of tenure is 0.75 value points,
so at two decimals a fifth of all customers would change every night and their history
would fill with 0.01 steps). The features and the predicted frequency are not rounded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .policy import TierPolicy

VALUE_WEIGHTS = {"premium": 0.50, "long_term": 0.20, "tenure": 0.15, "products": 0.15}
PREMIUM_CAP = 100_000.0
LONG_TERM_CAP = 3
TENURE_CAP_YEARS = 20.0
PRODUCTS_CAP = 4
SCORE_DECIMALS = 0


def published(score: pd.Series) -> pd.Series:
    """A score as it is published: rounded to SCORE_DECIMALS (half to even)."""
    return score.astype(np.float64).round(SCORE_DECIMALS)


def value_parts(features: pd.DataFrame) -> pd.DataFrame:
    """The four parts of the value score, each in [0, 1] (see the module docstring)."""
    premium = np.maximum(features["annual_premium"].to_numpy(dtype=np.float64), 0.0)
    return pd.DataFrame(
        {
            "premium": np.minimum(1.0, np.log1p(premium) / np.log1p(PREMIUM_CAP)),
            "long_term": np.minimum(features["long_term_regular"].to_numpy(), LONG_TERM_CAP) / LONG_TERM_CAP,
            "tenure": np.clip(features["tenure_years"].to_numpy(dtype=np.float64), 0.0, TENURE_CAP_YEARS)
            / TENURE_CAP_YEARS,
            "products": np.minimum(features["n_products"].to_numpy(), PRODUCTS_CAP) / PRODUCTS_CAP,
        },
        index=features.index,
    )


def value_score(features: pd.DataFrame, policy: TierPolicy | None = None) -> pd.Series:
    """Customer value, 0-100 (formula in the module docstring; the policy is not used yet
    but is taken so that value weights can become policy settings without a new call)."""
    parts = value_parts(features)
    score = sum(parts[k].to_numpy() * w for k, w in VALUE_WEIGHTS.items())
    return pd.Series(100.0 * score, index=features.index, name="value_score")


def risk_score(frequency: pd.Series, reference_frequency: float) -> pd.Series:
    """Risk, 0-100, from a predicted claim frequency: 100 x (1 - exp(-f / ref))."""
    ref = max(float(reference_frequency), 1e-9)
    f = np.maximum(frequency.to_numpy(dtype=np.float64), 0.0)
    return pd.Series(100.0 * -np.expm1(-f / ref), index=frequency.index, name="risk_score")
