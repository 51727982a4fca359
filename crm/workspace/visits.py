"""Visits and follow-ups (拜访/回访): logging them, reminders, weekly and monthly counts."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm import audit
from crm.customers.services import get_customer
from crm.db import utcnow
from crm.models import Customer, CustomerTier, User
from crm.models.workspace import VISIT_KINDS, Visit
from crm.workspace.metrics import FOLLOW_UP_HORIZON_DAYS, VIP_VISIT_INTERVAL_DAYS


class VisitError(ValueError):
    """A visit could not be logged or changed; the message says why."""


@dataclass(frozen=True)
class VisitInput:
    kind: str
    visit_date: dt.date
    outcome: str
    next_step: str = ""
    next_step_due: dt.date | None = None


def log_visit(
    session: Session, actor: audit.Actor, manager: User, customer_id: int, data: VisitInput, today: dt.date
) -> Visit:
    """Log a visit of ``manager`` with one of their customers.

    Logging it closes the customer's earlier open follow-ups of this manager: the contact
    they asked for has now happened. Raises NotVisible (not their customer) or VisitError.
    """
    customer = get_customer(session, manager, customer_id)
    if data.kind not in VISIT_KINDS:
        raise VisitError(_l("unknown kind %(kind)s", kind=repr(data.kind)))
    if data.visit_date > today:
        raise VisitError(_l("a visit cannot be logged in advance"))
    if data.next_step_due is not None and not data.next_step.strip():
        raise VisitError(_l("a due date needs a next step"))
    if data.next_step_due is not None and data.next_step_due < data.visit_date:
        raise VisitError(_l("the next step cannot be due before the visit"))
    now = utcnow()
    closed = (
        session.execute(
            update(Visit)
            .where(
                Visit.customer_id == customer.id,
                Visit.manager_id == manager.id,
                Visit.next_step_due.is_not(None),
                Visit.follow_up_done_at.is_(None),
                Visit.visit_date <= data.visit_date,
            )
            .values(follow_up_done_at=now)
            .returning(Visit.id)
        )
        .scalars()
        .all()
    )
    visit = Visit(
        customer_id=customer.id,
        manager_id=manager.id,
        kind=data.kind,
        visit_date=data.visit_date,
        outcome=data.outcome.strip(),
        next_step=data.next_step.strip(),
        next_step_due=data.next_step_due,
        created_at=now,
    )
    session.add(visit)
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change(
            "visit.log",
            "customer",
            customer.id,
            None,
            {
                "visit_id": visit.id,
                "kind": visit.kind,
                "visit_date": visit.visit_date,
                "next_step_due": visit.next_step_due,
                "closed_follow_ups": sorted(closed),
            },
        ),
    )
    return visit


def complete_follow_up(session: Session, actor: audit.Actor, manager: User, visit_id: int) -> None:
    """Mark a follow-up as done, once (a conditional UPDATE); raises VisitError when it is not open."""
    done = session.execute(
        update(Visit)
        .where(
            Visit.id == visit_id,
            Visit.manager_id == manager.id,
            Visit.next_step_due.is_not(None),
            Visit.follow_up_done_at.is_(None),
        )
        .values(follow_up_done_at=utcnow())
        .returning(Visit.customer_id)
    ).scalar()
    if done is None:
        raise VisitError(_l("this follow-up is not open (done already, or not yours)"))
    audit.record(session, actor, audit.Change("visit.follow_up_done", "customer", done, None, {"visit_id": visit_id}))


def _own(stmt, user: User):
    return stmt.where(Visit.manager_id == user.id) if user.role == "account_manager" else stmt


def due_follow_ups(session: Session, user: User, today: dt.date, limit: int = 50) -> list[Visit]:
    """Open follow-ups due within the horizon or overdue, soonest first (a manager's own only)."""
    horizon = today + dt.timedelta(days=FOLLOW_UP_HORIZON_DAYS)
    stmt = select(Visit).where(
        Visit.next_step_due.is_not(None), Visit.next_step_due <= horizon, Visit.follow_up_done_at.is_(None)
    )
    return list(session.scalars(_own(stmt, user).order_by(Visit.next_step_due, Visit.id).limit(limit)))


def count_due(session: Session, user: User, today: dt.date) -> int:
    horizon = today + dt.timedelta(days=FOLLOW_UP_HORIZON_DAYS)
    stmt = (
        select(func.count())
        .select_from(Visit)
        .where(Visit.next_step_due.is_not(None), Visit.next_step_due <= horizon, Visit.follow_up_done_at.is_(None))
    )
    return session.scalar(_own(stmt, user)) or 0


def customer_visits(session: Session, customer_id: int, limit: int = 20) -> list[Visit]:
    return list(
        session.scalars(
            select(Visit)
            .where(Visit.customer_id == customer_id)
            .order_by(Visit.visit_date.desc(), Visit.id.desc())
            .limit(limit)
        )
    )


def recent_visits(session: Session, user: User, limit: int = 50) -> list[Visit]:
    return list(
        session.scalars(_own(select(Visit), user).order_by(Visit.visit_date.desc(), Visit.id.desc()).limit(limit))
    )


def _period_rows(session: Session, user: User, start: dt.date, end: dt.date):
    stmt = select(
        Visit.manager_id, Visit.visit_date, Visit.kind, Visit.customer_id, Visit.outcome, Visit.next_step
    ).where(Visit.visit_date >= start, Visit.visit_date < end)
    return session.execute(_own(stmt, user)).all()


def week_start(day: dt.date) -> dt.date:
    """The Monday of ``day``'s ISO week."""
    return day - dt.timedelta(days=day.weekday())


def weekly_counts(session: Session, user: User, today: dt.date, weeks: int = 8) -> tuple[list[dt.date], dict]:
    """Visits per manager per ISO week (Monday–Sunday), the last ``weeks`` weeks up to today's.

    Returns (week Mondays oldest first, {manager_id: [count per week]}).
    """
    mondays = [week_start(today) - dt.timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
    counts: dict[int, list[int]] = defaultdict(lambda: [0] * weeks)
    for manager_id, day, *_ in _period_rows(session, user, mondays[0], mondays[-1] + dt.timedelta(days=7)):
        counts[manager_id][mondays.index(week_start(day))] += 1
    return mondays, dict(counts)


def is_effective(outcome: str, next_step: str) -> bool:
    """An effective visit (有效拜访) records both what came of it and what happens next."""
    return bool((outcome or "").strip()) and bool((next_step or "").strip())


@dataclass
class WeekRate:
    due: int = 0  # customers due a face-to-face visit that week
    visited: int = 0  # of them, visited face to face that week
    effective: int = 0  # effective visits of any kind logged that week

    @property
    def rate(self) -> float | None:
        return self.visited / self.due if self.due else None


def face_to_face_rates(session: Session, user: User, today: dt.date, weeks: int = 8) -> tuple[list[dt.date], dict]:
    """The weekly face-to-face visit rate (面访率) per manager, the last ``weeks`` ISO weeks.

    Due that week: the customers with a follow-up due in it, and the manager's VIPs (tier now)
    without a face-to-face visit in the VIP_VISIT_INTERVAL_DAYS before its Monday. Visited: of
    those, the ones visited face to face (kind ``visit``) in the week. Returns (Mondays, {manager:
    [WeekRate per week]}).
    """
    mondays = [week_start(today) - dt.timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
    first, end = mondays[0], mondays[-1] + dt.timedelta(days=7)
    lookback = first - dt.timedelta(days=VIP_VISIT_INTERVAL_DAYS)
    rows = session.execute(
        _own(
            select(
                Visit.manager_id,
                Visit.customer_id,
                Visit.kind,
                Visit.visit_date,
                Visit.next_step_due,
                Visit.outcome,
                Visit.next_step,
            ).where(
                ((Visit.visit_date >= lookback) & (Visit.visit_date < end))
                | ((Visit.next_step_due >= first) & (Visit.next_step_due < end))
            ),
            user,
        )
    ).all()
    vips = select(Customer.account_manager_id, Customer.id).join(CustomerTier, CustomerTier.customer_id == Customer.id)
    vips = vips.where(CustomerTier.tier == "vip", Customer.account_manager_id.is_not(None))
    if user.role == "account_manager":
        vips = vips.where(Customer.account_manager_id == user.id)
    vip_of: dict[int, set[int]] = defaultdict(set)
    for manager_id, customer_id in session.execute(vips):
        vip_of[manager_id].add(customer_id)
    out: dict[int, list[WeekRate]] = {}
    for i, monday in enumerate(mondays):
        sunday_end = monday + dt.timedelta(days=7)
        due: dict[int, set[int]] = defaultdict(set)
        visited: dict[int, set[int]] = defaultdict(set)
        seen_recently: dict[int, set[int]] = defaultdict(set)
        effective: dict[int, int] = defaultdict(int)
        for manager_id, customer_id, kind, day, next_due, outcome, next_step in rows:
            if next_due is not None and monday <= next_due < sunday_end:
                due[manager_id].add(customer_id)
            if kind == "visit" and monday - dt.timedelta(days=VIP_VISIT_INTERVAL_DAYS) <= day < monday:
                seen_recently[manager_id].add(customer_id)
            if monday <= day < sunday_end:
                if kind == "visit":
                    visited[manager_id].add(customer_id)
                effective[manager_id] += is_effective(outcome, next_step)
        for manager_id in set(due) | set(vip_of) | set(effective):
            due[manager_id] |= vip_of.get(manager_id, set()) - seen_recently[manager_id]
            week = WeekRate(len(due[manager_id]), len(due[manager_id] & visited[manager_id]), effective[manager_id])
            out.setdefault(manager_id, [WeekRate() for _ in mondays])[i] = week
    return mondays, {m: weeks_ for m, weeks_ in out.items() if any(w.due or w.effective for w in weeks_)}


@dataclass
class MonthSummary:
    manager_id: int
    visits: int = 0
    calls: int = 0
    events: int = 0
    customers: int = 0
    effective: int = 0

    @property
    def total(self) -> int:
        return self.visits + self.calls + self.events


def monthly_summary(session: Session, user: User, year: int, month: int) -> list[MonthSummary]:
    """Per manager, one calendar month: visits, calls, events and distinct customers contacted."""
    start = dt.date(year, month, 1)
    end = dt.date(year + (month == 12), month % 12 + 1, 1)
    rows: dict[int, MonthSummary] = {}
    seen: dict[int, set] = defaultdict(set)
    for manager_id, _day, kind, customer_id, outcome, next_step in _period_rows(session, user, start, end):
        summary = rows.setdefault(manager_id, MonthSummary(manager_id))
        summary.effective += is_effective(outcome, next_step)
        field = {"visit": "visits", "call": "calls", "event": "events"}[kind]
        setattr(summary, field, getattr(summary, field) + 1)
        seen[manager_id].add(customer_id)
    for manager_id, summary in rows.items():
        summary.customers = len(seen[manager_id])
    return sorted(rows.values(), key=lambda s: s.manager_id)


def visit_count(session: Session, manager_ids: list[int], year: int, until: dt.date | None = None) -> int:
    """Visits logged by these managers in ``year`` (up to ``until``, inclusive, when given)."""
    if not manager_ids:
        return 0
    end = min(dt.date(year + 1, 1, 1), until + dt.timedelta(days=1)) if until else dt.date(year + 1, 1, 1)
    return (
        session.scalar(
            select(func.count())
            .select_from(Visit)
            .where(Visit.manager_id.in_(manager_ids), Visit.visit_date >= dt.date(year, 1, 1), Visit.visit_date < end)
        )
        or 0
    )
