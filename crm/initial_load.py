"""The initial load (the one-time migration of historical business) is an act, not a switch.

Its records are exempt from the late-entry and cover-after-loss rules, so the flag must not be
an everyday way round them (CONTRACT.md): it is accepted while the initial load is open — from
an empty database until the first import without the flag, the first tier run, the first
policy or claim entered by hand (crm.review.entry closes it: the database then holds everyday
business) or `crm import close-initial-load` — and afterwards only for a file a second admin
has approved (its kind and SHA-256), once.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from crm import audit
from crm.db import utcnow
from crm.models import ImportBatch, InitialLoadApproval, InitialLoadClosure, TierRun


class InitialLoadClosed(Exception):
    """An initial-load import after the initial load closed, without an approval for its file."""


class ApprovalError(ValueError):
    """An approval could not be given; the message says why."""


def is_open(session: Session) -> bool:
    """True until an ordinary import, a tier run or an explicit closure has happened."""
    closed = or_(
        exists(select(ImportBatch.id).where(ImportBatch.initial_load.is_(False))),
        exists(select(TierRun.id)),
        exists(select(InitialLoadClosure.id)),
    )
    return not session.scalar(select(closed))


def admit(session: Session, actor: audit.Actor, kind: str, sha256: str) -> None:
    """Inside the import's transaction: let an initial-load file in, spending its approval when
    the initial load is closed (a conditional UPDATE: once). Raises InitialLoadClosed."""
    if is_open(session):
        return
    approval_id = session.scalar(
        select(InitialLoadApproval.id)
        .where(
            InitialLoadApproval.kind == kind,
            InitialLoadApproval.sha256 == sha256,
            InitialLoadApproval.state == "approved",
        )
        .order_by(InitialLoadApproval.id)
        .limit(1)
    )
    if (
        approval_id is not None
        and session.execute(
            update(InitialLoadApproval)
            .where(InitialLoadApproval.id == approval_id, InitialLoadApproval.state == "approved")
            .values(state="used", used_at=utcnow())
        ).rowcount
    ):
        audit.record(
            session,
            actor,
            audit.Change(
                "import.initial_load_approval_used",
                "initial_load_approval",
                approval_id,
                {"state": "approved"},
                {"state": "used"},
            ),
        )
        return
    raise InitialLoadClosed(kind)


def request(session: Session, actor: audit.Actor, kind: str, sha256: str, filename: str) -> InitialLoadApproval:
    """Record that ``actor`` asks to load this file as initial load (one open request per file).
    Raises ApprovalError unless ``actor`` is an admin's account: the approval's four eyes compare
    two people (the command line names one: ``crm import … --user EMAIL``)."""
    if actor.type != "user" or actor.role != "admin":
        raise ApprovalError(_l("an initial-load request is an admin's: name the admin asking (--user EMAIL)"))
    existing = session.scalar(
        select(InitialLoadApproval).where(
            InitialLoadApproval.kind == kind,
            InitialLoadApproval.sha256 == sha256,
            InitialLoadApproval.state == "requested",
        )
    )
    if existing is not None:
        return existing
    row = InitialLoadApproval(kind=kind, sha256=sha256, filename=filename[:255], requested_by=actor.label)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change(
            "import.initial_load_requested",
            "initial_load_approval",
            row.id,
            None,
            {"kind": kind, "sha256": sha256, "file": row.filename},
        ),
    )
    return row


def approve(session: Session, actor: audit.Actor, approval_id: int) -> InitialLoadApproval:
    """A second admin approves a requested file. Raises ApprovalError (not an admin, the requester,
    or not requested any more)."""
    if actor.role != "admin":
        raise ApprovalError(_l("only an admin may approve an initial-load import"))
    row = session.get(InitialLoadApproval, approval_id)
    if row is None:
        raise ApprovalError(_l("no such request"))
    if row.requested_by == actor.label:
        raise ApprovalError(_l("the admin who asked cannot approve it: a second admin must"))
    done = session.execute(
        update(InitialLoadApproval)
        .where(
            InitialLoadApproval.id == approval_id,
            InitialLoadApproval.state == "requested",
            InitialLoadApproval.requested_by != actor.label,
        )
        .values(state="approved", approved_by=actor.label, approved_at=utcnow())
    ).rowcount
    if not done:
        raise ApprovalError(_l("the request is not open any more"))
    audit.record(
        session,
        actor,
        audit.Change(
            "import.initial_load_approved",
            "initial_load_approval",
            approval_id,
            {"state": "requested"},
            {"state": "approved"},
        ),
    )
    session.refresh(row)
    return row


def close(session: Session, actor: audit.Actor) -> bool:
    """Close the initial load by hand; False when it was closed already."""
    if not is_open(session):
        return False
    session.add(InitialLoadClosure(closed_by=actor.label))
    session.flush()
    audit.record(session, actor, audit.Change("import.initial_load_closed", "initial_load", None, None, {}))
    return True


def requests(session: Session) -> list[InitialLoadApproval]:
    return list(
        session.scalars(
            select(InitialLoadApproval).where(InitialLoadApproval.state == "requested").order_by(InitialLoadApproval.id)
        )
    )
