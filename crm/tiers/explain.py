"""Why a customer is in their tier: the features behind each trigger, computed live."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.jobs import frames
from crm.models import CustomerTier, TierHistory, TierRun
from crm.tiers.policy import current_policy
from segmentation.features import features_from_aggregates
from segmentation.frames import day_number
from segmentation.tiers import explain


@dataclass
class Explanation:
    as_of: dt.date
    features: dict
    items: list[dict]
    portfolio_loss_ratio: float | None


def explain_customer(session: Session, customer_id: int, as_of: dt.date | None = None) -> Explanation | None:
    """The customer's features and every trigger, as of the last published run's date."""
    last = session.scalar(
        select(TierRun)
        .where(TierRun.state == "completed", TierRun.mode == "publish")
        .order_by(TierRun.id.desc())
        .limit(1)
    )
    if last is None:
        return None
    as_of = as_of or last.as_of
    policy = current_policy(session)
    aggs = frames.load_aggregates(session.connection(), customer_id, customer_id + 1, as_of, policy)
    if aggs.empty:
        return None
    feats = features_from_aggregates(aggs, day_number(as_of), policy, portfolio_lr=last.portfolio_loss_ratio or 0.0)
    row = feats.iloc[0]
    return Explanation(
        as_of,
        {k: (float(v) if hasattr(v, "__float__") else v) for k, v in row.items()},
        explain(row, policy),
        last.portfolio_loss_ratio,
    )


def history(session: Session, customer_id: int, limit: int = 50) -> list[TierHistory]:
    """The customer's last ``limit`` states, oldest first: the states they left, then the
    current one (as an unsaved TierHistory row)."""
    current = session.get(CustomerTier, customer_id)
    if current is None:
        return []
    left = list(
        session.scalars(
            select(TierHistory)
            .where(TierHistory.customer_id == customer_id)
            .order_by(TierHistory.id.desc())
            .limit(limit - 1)
        )
    )[::-1]
    return left + [TierHistory.of(current)]
