"""A dry run of tier-policy settings not yet saved: the recalculation's own preview mode
(crm.jobs.recalc, RunRequest(mode="preview")) given the draft as its policy file, so that the
editor shows how many customers would move between which tiers with the very engine a
publication uses. The run is recorded (a preview, its policy version ``draft-…``) and
changes no tier."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import audit
from crm.db import Database
from crm.jobs import recalc
from crm.models import CustomerTier
from crm.tiers.policy import draft_policy, write_draft
from segmentation.policy import TierPolicy

TIERS = ("vip", "standard", "watchlist")


@dataclass(frozen=True)
class Move:
    before: str | None  # None: a customer without a tier yet
    after: str
    customers: int


@dataclass(frozen=True)
class Preview:
    policy: TierPolicy
    run_id: int
    as_of: dt.date
    customers: int
    now: dict[str, int]  # customers per tier as they stand
    then: dict[str, int]  # customers per tier with the draft
    moves: list[Move]  # biggest first
    sample: list[dict]  # a few movers: customer_id, from, to, reasons

    @property
    def moved(self) -> int:
        return sum(m.customers for m in self.moves)


def tier_counts(session: Session) -> dict[str, int]:
    """Customers per tier as published now."""
    rows = session.execute(select(CustomerTier.tier, func.count()).group_by(CustomerTier.tier)).all()
    return {tier: n for tier, n in rows}


def preview_draft(database: Database, actor: audit.Actor, settings: dict, as_of: dt.date) -> Preview:
    """Recalculate as of ``as_of`` with ``settings`` (a policy's values) without publishing.

    Raises ValueError for settings TierPolicy refuses, recalc.AlreadyRunning when a run is
    queued or under way, and the run's own error when it fails (recorded on the run).
    """
    policy = draft_policy(settings)
    with database.session() as session:
        now = tier_counts(session)
    with tempfile.TemporaryDirectory(prefix="crm-policy-draft-") as tmp:
        path = write_draft(policy, Path(tmp))
        req = recalc.RunRequest(
            as_of=as_of, actor=actor, trigger="ui", mode="preview", policy_file=str(path), workers=1
        )
        summary = recalc.recalculate(database, req)
    moves = []
    for key, n in summary.moves.items():
        before, _arrow, after = key.partition("→")
        moves.append(Move(None if before in ("", "new") else before, after, int(n)))
    moves.sort(key=lambda m: (-m.customers, m.before or "", m.after))
    return Preview(
        policy=policy,
        run_id=summary.run_id,
        as_of=as_of,
        customers=summary.customers,
        now={t: now.get(t, 0) for t in TIERS},
        then={t: int(summary.counts.get(t, 0)) for t in TIERS},
        moves=moves,
        sample=summary.sample,
    )
