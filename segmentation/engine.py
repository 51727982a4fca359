"""Score a portfolio: features, value and risk scores, tiers; in one pass or in partitions.

A run is two passes. `fit_portfolio_stats` looks at the whole portfolio once: its loss
ratio (for credibility) and the frequency model. `score_portfolio` then scores any subset of
customers (say, an id range, with their policies and claims) given those stats; every
number it computes depends only on the customer's own rows and the stats, so scoring
partitions gives exactly what one pass over the whole portfolio gives. (Exactly, to the
last bit, as long as each partition's policies and claims keep the relative order they
have in the full frames, e.g. both read ordered by id: float sums follow row order.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .aggregates import aggregate, portfolio_totals
from .features import FEATURE_COLUMNS, features_from_aggregates, portfolio_lr_from_totals
from .frames import day_number, prepare
from .policy import TierPolicy
from .risk_model import FittedModel, fit_frequency_model, predict_from_aggregates, training_from_prepared
from .scores import published, risk_score, value_score
from .tiers import assign_tiers

RESULT_COLUMNS = FEATURE_COLUMNS + (
    "value_score",
    "predicted_frequency",
    "risk_score",
    "computed_tier",
    "computed_reasons",
    "tier",
    "reasons",
)


@dataclass(frozen=True)
class PortfolioStats:
    """What every partition of a run must share."""

    portfolio_loss_ratio: float
    model: FittedModel


def fit_portfolio_stats(
    customers: pd.DataFrame,
    policies: pd.DataFrame,
    claims: pd.DataFrame,
    as_of: dt.date,
    policy: TierPolicy | None = None,
    model_sample: int | None = None,
    random_state: int = 0,
) -> PortfolioStats:
    """First pass of a run: portfolio loss ratio and frequency model, from all customers.

    model_sample: fit the model on this many customers drawn at random (seeded), to bound
    the fitting time on big portfolios; None = all customers.
    """
    policy = policy or TierPolicy()
    prep = prepare(customers, policies, claims, as_of, policy)
    plr = portfolio_lr_from_totals(*portfolio_totals(aggregate(prep, prep.as_of, policy)))
    if model_sample is not None and model_sample < len(customers):
        rng = np.random.default_rng(random_state)
        ids = customers["customer_id"].to_numpy(dtype=np.int64)
        chosen = np.sort(rng.choice(ids, size=model_sample, replace=False))
        customers = customers[np.isin(ids, chosen)]
        policies = policies[np.isin(policies["customer_id"].to_numpy(np.int64), chosen)]
        claims = claims[np.isin(claims["customer_id"].to_numpy(np.int64), chosen)]
        prep = prepare(customers, policies, claims, as_of, policy)
    model = fit_model(training_from_prepared(prep, policy), policy, random_state)
    return PortfolioStats(portfolio_loss_ratio=plr, model=model)


def fit_model(train: pd.DataFrame, policy: TierPolicy, random_state: int = 0) -> FittedModel:
    """The frequency model of a run, from training rows (risk_model.training_from_aggregates)."""
    return fit_frequency_model(
        train,
        random_state,
        min_policies=policy.model_min_policies,
        credibility_k=policy.credibility_k,
        boosted_min_gain=policy.model_boosted_min_gain,
    )


def score_portfolio(
    customers: pd.DataFrame,
    policies: pd.DataFrame,
    claims: pd.DataFrame,
    as_of: dt.date,
    policy: TierPolicy | None = None,
    previous_tier: pd.Series | None = None,
    overrides: pd.DataFrame | None = None,
    model: FittedModel | None = None,
    portfolio_lr: float | None = None,
) -> pd.DataFrame:
    """Features, scores and tiers of each customer as of D, indexed by customer_id.

    Pass `model` and `portfolio_lr` from fit_portfolio_stats when scoring a partition;
    when either is None it is computed here from the customers given (a single pass).
    Overrides that expired by as_of are ignored.
    """
    policy = policy or TierPolicy()
    prep = prepare(customers, policies, claims, as_of, policy)
    if model is None:
        model = fit_model(training_from_prepared(prep, policy), policy)
    return score_aggregates(
        aggregate(prep, prep.as_of, policy), as_of, policy, previous_tier, overrides, model, portfolio_lr
    )


def score_aggregates(
    aggs: pd.DataFrame,
    as_of: dt.date,
    policy: TierPolicy,
    previous_tier: pd.Series | None,
    overrides: pd.DataFrame | None,
    model: FittedModel,
    portfolio_lr: float | None = None,
) -> pd.DataFrame:
    """score_portfolio from the per-customer sums as of D (aggregates.aggregate).
    portfolio_lr None: these customers are the
    portfolio, and give its ratio."""
    d = day_number(as_of)
    features = features_from_aggregates(aggs, d, policy, portfolio_lr=portfolio_lr)
    frequency = predict_from_aggregates(model, aggs, d, policy, features)
    tiers = assign_tiers(features, previous_tier, overrides, policy, as_of=as_of)
    result = features.assign(
        value_score=published(value_score(features, policy)),
        predicted_frequency=frequency,
        risk_score=published(risk_score(frequency, model.reference_frequency)),
    )
    return pd.concat([result, tiers], axis=1)[list(RESULT_COLUMNS)]


DIFFED = ("tier", "reasons", "value_score", "risk_score")  # what a change is a change of


def _change_flags(new: pd.DataFrame, old: pd.DataFrame) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Per field of DIFFED, which customers of `new` changed it (every field of a customer
    absent from `old`); and `old` aligned on `new`."""
    prior = old.reindex(new.index)
    seen = new.index.isin(old.index)
    flags = {}
    for name in DIFFED:
        a, b = new[name], prior[name]
        if name.endswith("_score"):
            a, b = published(a), published(b)
        flags[name] = ~seen | (a.astype(object).to_numpy() != b.astype(object).to_numpy())
    return flags, prior


def changed_customers(new: pd.DataFrame, old: pd.DataFrame | None) -> pd.Series:
    """The customers of `new` that diff_results reports, with their old tier (NaN: none),
    without its columns of old and new values: a run keeps this much of every partition."""
    if old is None or old.empty:  # a first run: everyone is new
        return pd.Series(np.nan, index=new.index, dtype=object, name="old_tier")
    flags, prior = _change_flags(new, old)
    any_change = np.logical_or.reduce(list(flags.values()))
    return prior["tier"].astype(object)[any_change].rename("old_tier")


def diff_results(new: pd.DataFrame, old: pd.DataFrame | None) -> pd.DataFrame:
    """Customers of `new` whose tier, reasons, value or risk score (as published) changed.

    A customer absent from `old` counts as changed. Customers only in `old` are not
    reported: `new` may be one partition of a run. Columns: old_/new_ tier, reasons,
    value_score, risk_score, and `changed` (tuple of the names of what changed).
    """
    flags, prior = _change_flags(new, old if old is not None else pd.DataFrame(columns=list(DIFFED)))
    any_change = np.logical_or.reduce([flags[f] for f in DIFFED])
    idx = new.index[any_change]
    out = pd.DataFrame(index=idx)
    for name in DIFFED:
        out[f"old_{name}"] = prior.loc[idx, name].astype(object)
        out[f"new_{name}"] = new.loc[idx, name].astype(object)
    # A table of the 16 possible tuples avoids building a tuple per customer in Python.
    table = np.empty(1 << len(DIFFED), dtype=object)
    for mask in range(len(table)):
        table[mask] = tuple(f for i, f in enumerate(DIFFED) if mask & (1 << i))
    codes = sum(flags[f].astype(np.int64) << i for i, f in enumerate(DIFFED))
    out["changed"] = table[codes[any_change]]
    return out
