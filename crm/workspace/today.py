"""An account manager's day: what is due on their own customers, and what the last tier run
moved. Every query is bounded by the manager's customers (``customers.account_manager_id``)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from crm.models import Customer, Policy, TierRun
from crm.models.benefits import EntitlementEntry
from crm.models.review import ACTIVE_STATES, ReviewCase
from crm.models.tiers import CustomerTier, TierHistory

RENEWAL_DAYS = 30
BLOCK_LIMIT = 50  # rows per block; the block links to the full list


@dataclass(frozen=True)
class Move:
    customer_id: int
    name: str
    customer_ref: str
    old_tier: str | None  # None: the customer's first tier
    new_tier: str


def latest_run(session: Session) -> TierRun | None:
    """The newest completed publishing run (previews move nobody)."""
    return session.scalar(
        select(TierRun)
        .where(TierRun.state == "completed", TierRun.mode == "publish")
        .order_by(TierRun.id.desc())
        .limit(1)
    )


def run_moves(session: Session, manager_id: int, run_id: int) -> list[Move]:
    """The manager's customers whose tier the run changed: the state the run set against the
    newest state before it (tier_history keeps the states left behind, with their run)."""
    before = (
        select(TierHistory.tier)
        .where(
            TierHistory.customer_id == CustomerTier.customer_id,
            or_(TierHistory.run_id.is_(None), TierHistory.run_id < run_id),
        )
        .order_by(TierHistory.id.desc())
        .limit(1)
        .correlate(CustomerTier)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Customer.id, Customer.name, Customer.customer_ref, before, CustomerTier.tier)
        .join(CustomerTier, CustomerTier.customer_id == Customer.id)
        .where(Customer.account_manager_id == manager_id, CustomerTier.run_id == run_id)
        .order_by(Customer.id)
    ).all()
    return [Move(cid, name, ref, old, new) for cid, name, ref, old, new in rows if old != new]


def move_counts(moves: list[Move]) -> dict[tuple[str | None, str], int]:
    return dict(Counter((m.old_tier, m.new_tier) for m in moves))


def renewals_due(session: Session, manager_id: int, today: dt.date, days: int = RENEWAL_DAYS) -> list[tuple]:
    """(policy, customer) of policies in force whose cover ends within ``days``, soonest first."""
    return list(
        session.execute(
            select(Policy, Customer)
            .join(Customer, Customer.id == Policy.customer_id)
            .where(
                Customer.account_manager_id == manager_id,
                Policy.status == "in_force",
                Policy.voided_at.is_(None),
                Policy.end_date >= today,
                Policy.end_date <= today + dt.timedelta(days=days),
            )
            .order_by(Policy.end_date, Policy.id)
            .limit(BLOCK_LIMIT)
        ).all()
    )


def unused_benefits(session: Session, manager_id: int, today: dt.date) -> list[dict]:
    """The manager's VIPs with units left in the current period of a benefit, the period
    ending soonest first: a balance is the sum of the ledger's quantities in the period."""
    left = func.sum(EntitlementEntry.quantity)
    rows = session.execute(
        select(
            Customer.id,
            Customer.name,
            Customer.customer_ref,
            EntitlementEntry.kind,
            EntitlementEntry.benefit_code,
            EntitlementEntry.period_end,
            left,
        )
        .join(Customer, Customer.id == EntitlementEntry.customer_id)
        .join(CustomerTier, CustomerTier.customer_id == Customer.id)
        .where(
            Customer.account_manager_id == manager_id,
            CustomerTier.tier == "vip",
            EntitlementEntry.period_start <= today,
            EntitlementEntry.period_end > today,
        )
        .group_by(
            Customer.id,
            Customer.name,
            Customer.customer_ref,
            EntitlementEntry.kind,
            EntitlementEntry.benefit_code,
            EntitlementEntry.period_end,
        )
        .having(left > 0)
        .order_by(EntitlementEntry.period_end, Customer.id, EntitlementEntry.benefit_code)
        .limit(BLOCK_LIMIT)
    ).all()
    return [
        {
            "customer_id": cid,
            "name": name,
            "customer_ref": ref,
            "kind": kind,
            "code": code,
            "period_end": end,
            # period_end is the first day after the period: its last day is the day before.
            "days_left": (end - today).days - 1,
            "left": int(n),
        }
        for cid, name, ref, kind, code, end, n in rows
    ]


def open_cases(session: Session, manager_id: int) -> list[tuple]:
    """(case, customer) of the review cases still open on the manager's customers, due first."""
    return list(
        session.execute(
            select(ReviewCase, Customer)
            .join(Customer, Customer.id == ReviewCase.customer_id)
            .where(Customer.account_manager_id == manager_id, ReviewCase.state.in_(ACTIVE_STATES))
            .order_by(ReviewCase.due_on, ReviewCase.id)
            .limit(BLOCK_LIMIT)
        ).all()
    )
