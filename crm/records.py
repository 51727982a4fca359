"""Voiding business records: nothing is deleted (a trigger refuses it); a mistaken policy or
claim is voided with a reason, audited, and drops out of tiers and reports from then on."""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.orm import Session

from crm import audit
from crm.db import utcnow
from crm.models import Claim, Policy

KINDS = {"policy": Policy, "claim": Claim}
VOID_ROLES = {"policy": ("admin", "underwriter"), "claim": ("admin", "claims_reviewer")}


class RecordError(ValueError):
    """The record cannot be voided; the message says why."""


def in_force(policy: Policy, today: dt.date) -> bool:
    """Cover includes today (start_date <= today < end_date): the one definition of in force."""
    return policy.start_date <= today < policy.end_date


def void_record(session: Session, actor: audit.Actor, kind: str, record_id: int, reason: str, today: dt.date):
    """Void once (a conditional UPDATE); returns (the record, whether it is void now).

    A policy in force on ``today`` takes two people (随意注销已生效保单 is a control the regulator
    names): the first call records the request and its reason; a call by someone else confirms
    it. Raises RecordError (a reason too short, voided already, or the requester confirming).
    """
    model = KINDS.get(kind)
    if model is None:
        raise RecordError(f"unknown kind {kind!r}")
    reason = reason.strip()
    if len(reason) < 5:
        raise RecordError(_l("a reason of at least 5 characters is required"))
    record = session.get(model, record_id)
    if record is None:
        raise RecordError(f"no {kind} {record_id}")
    if kind == "policy" and record.voided_at is None and in_force(record, today):
        if record.void_requested_by is None:
            return _request_void(session, actor, record, reason), False
        if record.void_requested_by == actor.label:
            raise RecordError(_l("you asked to void this policy: a second person must confirm it"))
        reason = record.void_reason or reason
    done = session.execute(
        update(model)
        .where(model.id == record_id, model.voided_at.is_(None))
        .values(voided_at=utcnow(), void_reason=reason[:500])
    ).rowcount
    if not done:
        raise RecordError(f"this {kind} was voided already")
    session.refresh(record)
    audit.record(
        session,
        actor,
        audit.Change(f"{kind}.void", kind, record_id, {"voided": False}, {"voided": True, "reason": reason[:500]}),
    )
    audit.record(
        session,
        actor,
        audit.Change(f"{kind}.void", "customer", record.customer_id, None, {kind: record_id, "reason": reason[:500]}),
    )
    return record, True


def _request_void(session: Session, actor: audit.Actor, policy: Policy, reason: str) -> Policy:
    """The first person's half: who asked, when and why (once: a conditional UPDATE)."""
    done = session.execute(
        update(Policy)
        .where(Policy.id == policy.id, Policy.void_requested_by.is_(None), Policy.voided_at.is_(None))
        .values(void_requested_by=actor.label, void_requested_at=utcnow(), void_reason=reason[:500])
    ).rowcount
    if not done:
        raise RecordError(_l("someone asked to void this policy a moment ago: reload the page"))
    session.refresh(policy)
    audit.record(
        session, actor, audit.Change("policy.void_requested", "policy", policy.id, None, {"reason": reason[:500]})
    )
    return policy
