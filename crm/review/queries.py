"""Reading the queues: one page of cases (keyset on priority, id), counts, a case with its subject.

Every query is answered by an index of review_cases ((queue, state, priority, id) for pages,
(queue, state, due_on) for overdue counts), never a scan of customers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from crm.audit import trail_for
from crm.customers.services import NotVisible, get_customer
from crm.models import Claim, Customer, CustomerTier, Policy, User
from crm.models.review import ACTIVE_STATES, QUEUES, ReviewCase
from crm.review.outcomes import waiting_for
from crm.review.services import CaseNotFound

PAGE_SIZE = 50
STATE_FILTERS = {
    "active": ACTIVE_STATES,
    "open": ("open",),
    "in_review": ("in_review",),
    "escalated": ("escalated",),
    "decided": ("approved", "rejected"),
    "closed": ("closed",),
}


@dataclass(frozen=True)
class QueueFilter:
    state: str = "active"
    mine: bool = False
    overdue: bool = False
    after: tuple[int, int] | None = None  # (priority, id) of the last row of the previous page
    vip: bool = False  # the VIP claims channel: fast-tracked cases only (the top of the priority index)


ASSIGNEE = aliased(User, name="assignee")


def queue_states(f: QueueFilter) -> tuple[str, ...]:
    """The states ``f`` asks for (overdue: only those still active)."""
    states = STATE_FILTERS.get(f.state, ACTIVE_STATES)
    return tuple(s for s in states if s in ACTIVE_STATES) if f.overdue else states


def case_rows(user: User, queue: str, f: QueueFilter, today: dt.date, states) -> Select:
    """Rows of (case, customer name, customer ref, assignee's e-mail, assignee's name, the
    claimed amount of a claim's case) of the queue's cases in ``states`` (a condition on
    ReviewCase.state) under ``f``'s filters, unordered."""
    stmt = (
        select(
            ReviewCase, Customer.name, Customer.customer_ref, ASSIGNEE.email, ASSIGNEE.full_name, Claim.claimed_amount
        )
        .join(Customer, Customer.id == ReviewCase.customer_id)
        .outerjoin(ASSIGNEE, ASSIGNEE.id == ReviewCase.assignee_id)
        .outerjoin(Claim, Claim.id == ReviewCase.claim_id)
        .where(ReviewCase.queue == queue, states)
    )
    if f.mine:
        stmt = stmt.where(ReviewCase.assignee_id == user.id)
    if f.vip:
        stmt = stmt.where(ReviewCase.fast_track.is_(True))
    if f.overdue:
        stmt = stmt.where(ReviewCase.due_on < today)
    return stmt


def list_cases(session: Session, user: User, queue: str, f: QueueFilter, today: dt.date, limit: int = PAGE_SIZE):
    """One page of case_rows; and the next cursor."""
    rows = []
    # One ordered index scan per state, merged here: a single query over several states
    # would have to sort every active case of the queue to find the first page.
    for state in queue_states(f):
        stmt = case_rows(user, queue, f, today, ReviewCase.state == state)
        if f.after:
            p, i = f.after
            stmt = stmt.where(or_(ReviewCase.priority < p, and_(ReviewCase.priority == p, ReviewCase.id > i)))
        rows += session.execute(stmt.order_by(ReviewCase.priority.desc(), ReviewCase.id).limit(limit + 1)).all()
    rows = sorted(rows, key=lambda r: (-r[0].priority, r[0].id))[: limit + 1]
    last = rows[limit - 1][0] if len(rows) > limit else None
    return rows[:limit], (f"{last.priority}.{last.id}" if last else None)


def queue_counts(session: Session, queue: str, today: dt.date, user_id: int | None = None, vip: bool = False) -> dict:
    """Active, open, overdue and (with ``user_id``) 'mine' counts of one queue (``vip``: of its
    fast-tracked cases, the VIP claims channel)."""
    base = select(func.count()).select_from(ReviewCase).where(ReviewCase.queue == queue)
    if vip:
        base = base.where(ReviewCase.fast_track.is_(True))
    active = base.where(ReviewCase.state.in_(ACTIVE_STATES))
    counts = {
        "active": session.scalar(active),
        "open": session.scalar(base.where(ReviewCase.state == "open")),
        "overdue": session.scalar(active.where(ReviewCase.due_on < today)),
    }
    if user_id is not None:
        counts["mine"] = session.scalar(active.where(ReviewCase.assignee_id == user_id))
    return counts


def queue_summary(session: Session, today: dt.date) -> dict[str, dict]:
    """Per queue: active and overdue (SLA breached) counts, for dashboards."""
    return {q: queue_counts(session, q, today) for q in QUEUES}


def case_page(session: Session, user: User, case_id: int) -> dict:
    """The case with its subject record, customer (through the user's visibility), tier, and the
    active cases its decision waits for (crm.review.outcomes.waiting_for).

    Raises CaseNotFound, also when an account manager asks about another manager's customer.
    """
    case = session.get(ReviewCase, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    try:
        customer = get_customer(session, user, case.customer_id)
    except NotVisible:
        raise CaseNotFound(case_id) from None
    claim = session.get(Claim, case.claim_id) if case.claim_id else None
    policy = session.get(Policy, case.policy_id) if case.policy_id else claim.policy
    users = {
        u.id: u
        for u in session.scalars(
            select(User).where(
                User.id.in_(
                    [i for i in (case.assignee_id, case.entered_by_id, case.decided_by_id, case.escalated_by_id) if i]
                )
            )
        )
    }
    return {
        "case": case,
        "customer": customer,
        "policy": policy,
        "claim": claim,
        "tier": session.get(CustomerTier, customer.id),
        "users": users,
        "trail": trail_for(session, "review_case", case.id, limit=50),
        "waiting_for": waiting_for(session, case),
    }


def customer_cases(session: Session, customer_id: int, limit: int = 20) -> list[ReviewCase]:
    return list(
        session.scalars(
            select(ReviewCase).where(ReviewCase.customer_id == customer_id).order_by(ReviewCase.id.desc()).limit(limit)
        )
    )
