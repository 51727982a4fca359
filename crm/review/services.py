"""Working a review case: claim, round-robin assignment, escalation, decision, closing.

Every transition is a conditional ``UPDATE … WHERE state = … [AND assignee …]`` whose
rowcount is checked: two reviewers can never hold or decide the same case, whatever the
timing (SQLite ignores FOR UPDATE; this works on both databases). Four eyes: nobody claims or
decides a case about a record they entered or a customer in their own portfolio.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import audit
from crm.db import utcnow
from crm.models import Customer, User
from crm.models.review import ReviewCase
from crm.review import outcomes
from crm.review.rotation import next_assignee

# Who works each queue (risk officers decide what is escalated to them, in both queues).
QUEUE_ROLES = {"underwriting": ("underwriter", "admin"), "claims": ("claims_reviewer", "admin")}
REVIEWER_ROLE = {"underwriting": "underwriter", "claims": "claims_reviewer"}


class ReviewError(Exception):
    """A review action was refused; the message says why."""


class CaseNotFound(ReviewError):
    pass


class NotAllowed(ReviewError):
    pass


class FourEyes(NotAllowed):
    pass


class CoverNotApproved(NotAllowed):
    """A claim on cover entered after its loss waits for a risk officer's approval of the cover."""


class AlreadyTaken(ReviewError):
    pass


class ReasonRequired(ReviewError):
    pass


def get_case(session: Session, case_id: int) -> ReviewCase:
    case = session.get(ReviewCase, case_id)
    if case is None:
        raise CaseNotFound(_l("no review case %(id)s", id=case_id))
    return case


def conflict(session: Session, case: ReviewCase, user_id: int) -> str | None:
    """Why ``user_id`` may not work on ``case`` (four eyes), or None."""
    if case.entered_by_id == user_id:
        return _l("you entered the record under review")
    manager = session.scalar(select(Customer.account_manager_id).where(Customer.id == case.customer_id))
    if manager == user_id:
        return _l("the customer is in your own portfolio")
    return None


def _check_four_eyes(session: Session, case: ReviewCase, user: User) -> None:
    problem = conflict(session, case, user.id)
    if problem:
        raise FourEyes(_l("four eyes: %(problem)s", problem=problem))


def transition(session: Session, case: ReviewCase, where: list, values: dict) -> bool:
    """Apply ``values`` if the case still matches ``where``; True when it did."""
    table = ReviewCase.__table__
    stmt = update(table).where(table.c.id == case.id, *where).values(**values, updated_at=utcnow())
    done = session.connection().execute(stmt).rowcount == 1
    session.expire(case)
    return done


def _reason(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        raise ReasonRequired(_l("a reason is required"))
    return text[:500]


def claim_case(session: Session, case_id: int, user: User, actor: audit.Actor) -> ReviewCase:
    """``user`` takes an open, unassigned case. Raises NotAllowed, FourEyes, AlreadyTaken."""
    case = get_case(session, case_id)
    if user.role not in QUEUE_ROLES[case.queue]:
        raise NotAllowed(_l("your role does not work this queue"))
    _check_four_eyes(session, case, user)
    t = ReviewCase.__table__
    if not transition(
        session,
        case,
        [t.c.state == "open", t.c.assignee_id.is_(None)],
        {"state": "in_review", "assignee_id": user.id, "assigned_at": utcnow()},
    ):
        raise AlreadyTaken(_l("someone else holds this case already"))
    audit.record(
        session,
        actor,
        audit.Change(
            "review_case.claim",
            "review_case",
            case.id,
            {"state": "open"},
            {"state": "in_review", "assignee_id": user.id},
        ),
    )
    return case


def escalate(session: Session, case_id: int, user: User, reason: str | None, actor: audit.Actor) -> ReviewCase:
    """The assignee sends the case to a risk officer (round-robin among active ones, four eyes
    respected; unassigned when none is free). Raises ReasonRequired, NotAllowed."""
    reason = _reason(reason)
    case = get_case(session, case_id)
    if case.state != "in_review" or case.assignee_id != user.id:
        raise NotAllowed(_l("only the reviewer holding a case in review can escalate it"))
    officer = next_assignee(session, case, "escalation", "risk_officer")
    t = ReviewCase.__table__
    now = utcnow()
    if not transition(
        session,
        case,
        [t.c.state == "in_review", t.c.assignee_id == user.id],
        {
            "state": "escalated",
            "assignee_id": officer,
            "assigned_at": now if officer else None,
            "escalated_by_id": user.id,
            "escalated_at": now,
            "escalation_reason": reason,
        },
    ):
        raise AlreadyTaken(_l("the case changed meanwhile; reload it"))
    audit.record(
        session,
        actor,
        audit.Change(
            "review_case.escalate",
            "review_case",
            case.id,
            {"state": "in_review", "assignee_id": user.id},
            {"state": "escalated", "assignee_id": officer, "reason": reason},
        ),
    )
    return case


def decide(
    session: Session,
    case_id: int,
    user: User,
    decision: str,
    reason: str | None,
    actor: audit.Actor,
    conditions: outcomes.Conditions | None = None,
) -> ReviewCase:
    """Approve or reject: the reviewer holding the case, or a risk officer for an escalated one.
    The decision changes its subject (crm.review.outcomes): the claim's status, the policy's
    underwriting outcome (``conditions`` with an acceptance).

    Raises ReasonRequired, NotAllowed (CoverNotApproved among them), FourEyes, AlreadyTaken.
    """
    if decision not in ("approved", "rejected"):
        raise NotAllowed(_l("the decision is 'approved' or 'rejected'"))
    reason = _reason(reason)
    case = get_case(session, case_id)
    t = ReviewCase.__table__
    if case.state == "in_review":
        if case.assignee_id != user.id:
            raise NotAllowed(_l("claim the case before deciding it"))
        holder = t.c.assignee_id == user.id
    elif case.state == "escalated":
        if user.role != "risk_officer" or case.assignee_id not in (None, user.id):
            raise NotAllowed(_l("an escalated case is decided by the risk officer it went to"))
        holder = (t.c.assignee_id == user.id) | t.c.assignee_id.is_(None)
    else:
        raise NotAllowed(_l("a case that is %(state)s cannot be decided", state=case.state))
    _check_four_eyes(session, case, user)
    try:
        outcomes.check(session, case, user, decision, conditions)
    except outcomes.CoverNotApproved as exc:
        raise CoverNotApproved(str(exc)) from None
    except outcomes.OutcomeRefused as exc:
        raise NotAllowed(str(exc)) from None
    before = case.state
    if not transition(
        session,
        case,
        [t.c.state == before, holder],
        {
            "state": decision,
            "decision": decision,
            "decision_reason": reason,
            "assignee_id": user.id,
            "decided_by_id": user.id,
            "decided_at": utcnow(),
        },
    ):
        raise AlreadyTaken(_l("the case changed meanwhile; reload it"))
    audit.record(
        session,
        actor,
        audit.Change(
            "review_case.decide", "review_case", case.id, {"state": before}, {"state": decision, "reason": reason}
        ),
    )
    outcomes.apply(session, case, user, decision, reason, conditions, actor)
    return case


def close(session: Session, case_id: int, user: User, actor: audit.Actor) -> ReviewCase:
    """File a decided case away. Raises NotAllowed, AlreadyTaken."""
    case = get_case(session, case_id)
    if user.role not in QUEUE_ROLES[case.queue] + ("risk_officer",):
        raise NotAllowed(_l("your role does not work this queue"))
    if case.state not in ("approved", "rejected"):
        raise NotAllowed(_l("only a decided case can be closed"))
    before = case.state
    t = ReviewCase.__table__
    if not transition(session, case, [t.c.state == before], {"state": "closed", "closed_at": utcnow()}):
        raise AlreadyTaken(_l("the case changed meanwhile; reload it"))
    audit.record(
        session,
        actor,
        audit.Change("review_case.close", "review_case", case.id, {"state": before}, {"state": "closed"}),
    )
    return case
