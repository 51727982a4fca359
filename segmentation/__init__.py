"""The scoring engine of the CRM: features, tiers, value and risk scores. Pure: pandas,
numpy, scikit-learn and the standard library; DataFrames in, DataFrames out.

Typical run (see engine.py): stats = fit_portfolio_stats(...) once, then
score_portfolio(..., model=stats.model, portfolio_lr=stats.portfolio_loss_ratio) per
partition of customers, then diff_results(new, old) to find what changed.
"""

from .engine import PortfolioStats, diff_results, fit_portfolio_stats, score_portfolio
from .features import compute_features, portfolio_loss_ratio
from .policy import TierPolicy
from .risk_model import FittedModel, build_training_frame, fit_frequency_model, predict_frequency
from .scores import risk_score, value_score
from .tiers import assign_tiers, explain

__all__ = [
    "FittedModel",
    "PortfolioStats",
    "TierPolicy",
    "assign_tiers",
    "build_training_frame",
    "compute_features",
    "diff_results",
    "explain",
    "fit_frequency_model",
    "fit_portfolio_stats",
    "portfolio_loss_ratio",
    "predict_frequency",
    "risk_score",
    "score_portfolio",
    "value_score",
]
