"""Figures the dashboard reads live from other features, by indexed queries only."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.models import TierRun
from crm.models.review import ACTIVE_STATES, QUEUES, ReviewCase

TREND_RUNS = 12


def queue_figures(session: Session, today: dt.date) -> dict[str, dict]:
    """Per review queue: open cases (not yet decided) and SLA breaches (due date passed).

    Answered by the (queue, state, due_on) index of review_cases.
    """
    figures = {}
    for queue in QUEUES:
        active = (
            select(func.count())
            .select_from(ReviewCase)
            .where(ReviewCase.queue == queue, ReviewCase.state.in_(ACTIVE_STATES))
        )
        figures[queue] = {
            "active": session.scalar(active) or 0,
            "overdue": session.scalar(active.where(ReviewCase.due_on < today)) or 0,
        }
    return figures


def tier_trend(session: Session) -> list[dict]:
    """Tier counts of the last completed publish runs, oldest first, and the newest run's moves."""
    runs = list(
        session.scalars(
            select(TierRun)
            .where(TierRun.state == "completed", TierRun.mode == "publish")
            .order_by(TierRun.id.desc())
            .limit(TREND_RUNS)
        )
    )
    return [
        {
            "id": r.id,
            "as_of": r.as_of.isoformat(),
            "counts": json.loads(r.counts or "{}"),
            "moves": json.loads(r.moves or "{}"),
            "changed": r.changed,
        }
        for r in reversed(runs)
    ]
