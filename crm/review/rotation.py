"""Each reviewer pool's round-robin cursor: who gets the next case.

A cursor row per pool (a queue, or 'escalation' for risk officers) remembers who got the last
case; the next case goes to the next active user by id, wrapping around, skipping inactive
users and anyone four eyes rule out for that case. The cursor row is locked on PostgreSQL
(SQLite write transactions are serialised already), so two assigners take turns. Used by
assignment (crm.review.assign) and escalation (crm.review.services).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm.db import utcnow
from crm.models import Customer, User
from crm.models.review import ReviewAssignCursor, ReviewCase


def active_user_ids(session: Session, role: str) -> list[int]:
    return list(session.scalars(select(User.id).where(User.role == role, User.active.is_(True)).order_by(User.id)))


def _lock_cursor(session: Session, pool: str) -> ReviewAssignCursor:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(ReviewAssignCursor.__table__)
        .values(pool=pool, last_user_id=None, updated_at=utcnow())
        .on_conflict_do_nothing()
    )
    stmt = select(ReviewAssignCursor).where(ReviewAssignCursor.pool == pool).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def _pick(candidates: list[int], last: int | None, excluded: set[int]) -> int | None:
    """The first allowed candidate after ``last``, wrapping around."""
    ordered = [i for i in candidates if last is None or i > last] + [
        i for i in candidates if last is not None and i <= last
    ]
    return next((i for i in ordered if i not in excluded), None)


def _excluded(session: Session, case: ReviewCase) -> set[int]:
    manager = session.scalar(select(Customer.account_manager_id).where(Customer.id == case.customer_id))
    return {i for i in (case.entered_by_id, manager) if i is not None}


def next_assignee(session: Session, case: ReviewCase, pool: str, role: str) -> int | None:
    """Advance the pool's cursor to the next user who may take ``case``; None when nobody may."""
    cursor = _lock_cursor(session, pool)
    chosen = _pick(active_user_ids(session, role), cursor.last_user_id, _excluded(session, case))
    if chosen is not None:
        cursor.last_user_id = chosen
        session.flush()
    return chosen
