"""Round-robin assignment among the ACTIVE users of the right role (the pool's cursor is in
crm.review.rotation).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.db import utcnow
from crm.models.review import ReviewCase
from crm.review.rotation import next_assignee
from crm.review.services import REVIEWER_ROLE, AlreadyTaken, NotAllowed, get_case, transition


class NoReviewer(NotAllowed):
    """No active user of the role may take the case."""


def assign_round_robin(session: Session, case_id: int, actor: audit.Actor) -> int:
    """Give an open, unassigned case to the next reviewer; returns their id.

    Raises NoReviewer (nobody active may take it), AlreadyTaken (it was claimed meanwhile).
    """
    case = get_case(session, case_id)
    if case.state != "open" or case.assignee_id is not None:
        raise AlreadyTaken(_l("the case is not open and unassigned"))
    user_id = next_assignee(session, case, case.queue, REVIEWER_ROLE[case.queue])
    if user_id is None:
        raise NoReviewer(_l("no active %(role)s may take this case", role=REVIEWER_ROLE[case.queue]))
    t = ReviewCase.__table__
    if not transition(
        session,
        case,
        [t.c.state == "open", t.c.assignee_id.is_(None)],
        {"state": "in_review", "assignee_id": user_id, "assigned_at": utcnow()},
    ):
        raise AlreadyTaken(_l("someone else holds this case already"))
    audit.record(
        session,
        actor,
        audit.Change(
            "review_case.assign",
            "review_case",
            case.id,
            {"state": "open"},
            {"state": "in_review", "assignee_id": user_id, "by": "round_robin"},
        ),
    )
    return user_id


def assign_open_cases(session: Session, queue: str, actor: audit.Actor, limit: int = 500) -> int:
    """Round-robin the most urgent open, unassigned cases of ``queue``; returns how many got a reviewer."""
    ids = list(
        session.scalars(
            select(ReviewCase.id)
            .where(ReviewCase.queue == queue, ReviewCase.state == "open", ReviewCase.assignee_id.is_(None))
            .order_by(ReviewCase.priority.desc(), ReviewCase.id)
            .limit(limit)
        )
    )
    done = 0
    for case_id in ids:
        try:
            assign_round_robin(session, case_id, actor)
            done += 1
        except (NoReviewer, AlreadyTaken):
            continue
    return done
