"""Voiding business records: nothing is deleted (a trigger refuses it); a mistaken policy or
claim is voided with a reason, audited, and drops out of tiers and reports from then on."""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from crm import audit
from crm.db import utcnow
from crm.models import Claim, Policy

KINDS = {"policy": Policy, "claim": Claim}
VOID_ROLES = {"policy": ("admin", "underwriter"), "claim": ("admin", "claims_reviewer")}


class RecordError(ValueError):
    """The record cannot be voided; the message says why."""


def void_record(session: Session, actor: audit.Actor, kind: str, record_id: int, reason: str):
    """Void once (a conditional UPDATE); returns the record. Raises RecordError."""
    model = KINDS.get(kind)
    if model is None:
        raise RecordError(f"unknown kind {kind!r}")
    reason = reason.strip()
    if len(reason) < 5:
        raise RecordError("a reason of at least 5 characters is required")
    record = session.get(model, record_id)
    if record is None:
        raise RecordError(f"no {kind} {record_id}")
    done = session.execute(update(model).where(model.id == record_id, model.voided_at.is_(None)).values(
        voided_at=utcnow(), void_reason=reason[:500])).rowcount
    if not done:
        raise RecordError(f"this {kind} was voided already")
    session.refresh(record)
    audit.record(session, actor, audit.Change(f"{kind}.void", kind, record_id, {"voided": False},
                                              {"voided": True, "reason": reason[:500]}))
    audit.record(session, actor, audit.Change(f"{kind}.void", "customer", record.customer_id, None,
                                              {kind: record_id, "reason": reason[:500]}))
    return record
