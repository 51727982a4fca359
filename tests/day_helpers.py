"""Builders for the account manager's day: tier runs written as a run writes them (the state
left behind kept in tier_history, the moves published), visits, coupons and review cases."""

from __future__ import annotations

import datetime as dt

from crm import events
from crm.audit import Actor
from crm.models import CustomerTier, TierRun, User
from crm.models.review import ReviewCase
from crm.models.tiers import TierHistory
from crm.workspace import visits
from tests.clock_helpers import business_today

ACTOR = Actor("system", "tests")
REASONS = {"vip": "V_PREMIUM", "watchlist": "W_FRAUD", "standard": ""}


def tier_run(database, tiers: dict[int, str], as_of: dt.date | None = None) -> int:
    """A completed publishing run that sets these customers' tiers; returns its id."""
    as_of = as_of or business_today()
    with database.transaction() as s:
        run = TierRun(mode="publish", state="completed", trigger="cli", started_by="tests", as_of=as_of)
        s.add(run)
        s.flush()
        moves = []
        for cid, tier in tiers.items():
            state = s.get(CustomerTier, cid)
            old = state.tier if state else None
            if state is None:
                s.add(
                    CustomerTier(
                        customer_id=cid,
                        tier=tier,
                        reasons=REASONS[tier],
                        computed_tier=tier,
                        run_id=run.id,
                        as_of=as_of,
                    )
                )
            else:
                s.add(TierHistory.of(state))
                state.tier, state.computed_tier, state.reasons, state.run_id = tier, tier, REASONS[tier], run.id
            if old != tier:
                moves.append(events.TierMove(cid, old, tier))
        s.flush()
        events.publish(s, events.TiersChanged(tuple(moves), run.id, ACTOR))
        return run.id


def log_visit(database, manager_email: str, customer_id: int, next_step: str = "", due: dt.date | None = None):
    from sqlalchemy import select

    day = business_today()
    with database.transaction() as s:
        manager = s.scalar(select(User).where(User.email == manager_email))
        data = visits.VisitInput("visit", day, "谈了续保和体检", next_step, due)
        return visits.log_visit(s, Actor.for_user(manager), manager, customer_id, data, day).id


def open_case(database, customer_id: int, policy_id: int, due: dt.date) -> int:
    with database.transaction() as s:
        case = ReviewCase(
            queue="underwriting",
            reason="watchlist_new_business",
            policy_id=policy_id,
            customer_id=customer_id,
            sla_days=3,
            due_on=due,
            settings_version="tests",
        )
        s.add(case)
        s.flush()
        return case.id
