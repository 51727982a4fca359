"""Changing business records by hand: nothing is deleted (a trigger refuses it); a mistaken
policy or claim is voided with a reason, audited, and drops out of tiers and reports from then
on. A review decision's effect on its policy or claim is written here too, audited alike."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import audit
from crm.clock import business_today
from crm.db import utcnow
from crm.models import Claim, ImportBatch, Policy
from crm.review.routing import Origin, route_policies

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
    # A watchlist customer's policy change goes to enhanced underwriting, as an import's does;
    # the one who asked counts as the one who entered it (four eyes).
    asker = int(actor.id) if actor.type == "user" and actor.id and actor.id.isdigit() else None
    route_policies(session, [], [policy.id], Origin(actor, entered_by_id=asker))
    return policy


def void_pending(policy: Policy) -> bool:
    """A void request waits for its second person: the policy's pending change."""
    return policy.void_requested_by is not None and policy.voided_at is None


def withdraw_void_request(session: Session, actor: audit.Actor, policy: Policy, reason: str) -> bool:
    """The pending void request is turned down (an underwriter's decision): the policy stays as
    it is. Once (a conditional UPDATE); True when this call withdrew it."""
    asked = {"void_requested_by": policy.void_requested_by, "reason": policy.void_reason}
    done = session.execute(
        update(Policy)
        .where(Policy.id == policy.id, Policy.void_requested_by.is_not(None), Policy.voided_at.is_(None))
        .values(void_requested_by=None, void_requested_at=None, void_reason=None, updated_at=utcnow())
    ).rowcount
    if done:
        session.refresh(policy)
        audit.record(
            session,
            actor,
            audit.Change("policy.void_withdrawn", "policy", policy.id, asked, {"reason": reason[:500]}),
        )
    return bool(done)


# --- what a review decision does to its subject (crm.review.outcomes) ------------------------

CLAIM_PENDING = ("reported", "registered", "under_review", "approved")  # 未决: not yet closed
CLAIM_UNDECIDED = ("reported", "registered", "under_review")
UW_OUTCOMES = ("accepted", "accepted_with_conditions", "declined")


def entrant(session: Session, record: Policy | Claim) -> int | None:
    """The user who entered ``record``: by hand, or the uploader of the import that brought it."""
    if record.entered_by_id is not None:
        return record.entered_by_id
    if record.import_batch_id is None:
        return None
    return session.scalar(select(ImportBatch.user_id).where(ImportBatch.id == record.import_batch_id))


def _migrated(session: Session, batch_id: int | None) -> bool:
    return bool(batch_id) and bool(session.scalar(select(ImportBatch.initial_load).where(ImportBatch.id == batch_id)))


def cover_pending(session: Session, policy: Policy, loss_date: dt.date, claim_batch_id: int | None = None) -> bool:
    """True while a claim with this loss date may be neither approved nor paid: its policy was
    entered after the loss (出险后补录承保信息) and no risk officer has approved the cover yet.
    Records of the initial load (the claim's or the policy's) are exempt."""
    if policy.cover_approved_at is not None or _migrated(session, policy.import_batch_id):
        return False
    if _migrated(session, claim_batch_id):
        return False
    return business_today(now=policy.created_at) > loss_date


def approve_cover(session: Session, actor: audit.Actor, policy: Policy, user_id: int) -> bool:
    """Record that ``user_id`` (a risk officer, checked by the caller) approved cover entered
    after a loss; once (a conditional UPDATE). True when this call approved it."""
    now = utcnow()
    done = session.execute(
        update(Policy)
        .where(Policy.id == policy.id, Policy.cover_approved_at.is_(None))
        .values(cover_approved_by_id=user_id, cover_approved_at=now)
    ).rowcount
    if done:
        session.refresh(policy)
        audit.record(
            session,
            actor,
            audit.Change(
                "policy.cover_approve", "policy", policy.id, {"cover_approved": False}, {"cover_approved": True}
            ),
        )
    return bool(done)


def approve_claim(session: Session, actor: audit.Actor, claim: Claim) -> bool:
    """An undecided claim becomes ``approved`` (a conditional UPDATE); True when it did."""
    before = claim.status
    done = session.execute(
        update(Claim)
        .where(Claim.id == claim.id, Claim.status.in_(CLAIM_UNDECIDED))
        .values(status="approved", updated_at=utcnow())
    ).rowcount
    if done:
        session.refresh(claim)
        audit.record(
            session, actor, audit.Change("claim.approve", "claim", claim.id, {"status": before}, {"status": "approved"})
        )
    return bool(done)


def reject_claim(session: Session, actor: audit.Actor, claim: Claim, reason: str) -> bool:
    """A pending claim becomes ``rejected``: its reserve is released (0) and the reason kept.
    A conditional UPDATE; True when it changed."""
    before = {"status": claim.status, "reserve_amount": claim.reserve_amount}
    done = session.execute(
        update(Claim)
        .where(Claim.id == claim.id, Claim.status.in_(CLAIM_PENDING))
        .values(status="rejected", reserve_amount=Decimal("0.00"), rejection_reason=reason[:500], updated_at=utcnow())
    ).rowcount
    if done:
        session.refresh(claim)
        audit.record(
            session,
            actor,
            audit.Change(
                "claim.reject",
                "claim",
                claim.id,
                before,
                {"status": "rejected", "reserve_amount": Decimal("0.00"), "reason": reason[:500]},
            ),
        )
    return bool(done)


def set_conditions(
    session: Session, actor: audit.Actor, policy: Policy, loading_pct: Decimal | None, exclusion: str | None
) -> Policy:
    """Record an acceptance's conditions (a premium loading in percent, an exclusion) before the
    outcome itself, which waits for the policy's other reviews (crm.review.outcomes). A condition
    not given keeps the one recorded."""
    before = {"premium_loading_pct": policy.premium_loading_pct, "exclusion": policy.exclusion}
    values = {
        "premium_loading_pct": policy.premium_loading_pct if loading_pct is None else loading_pct,
        "exclusion": exclusion or policy.exclusion,
    }
    session.execute(update(Policy).where(Policy.id == policy.id).values(**values, updated_at=utcnow()))
    session.refresh(policy)
    audit.record(session, actor, audit.Change("policy.conditions", "policy", policy.id, before, values))
    return policy


def underwrite_policy(
    session: Session,
    actor: audit.Actor,
    policy: Policy,
    outcome: str,
    loading_pct: Decimal | None = None,
    exclusion: str | None = None,
) -> Policy:
    """Record the underwriting outcome on the policy. Accepted with conditions keeps the premium
    loading (percent) and the exclusion; declined means the policy never took effect: it is
    ``cancelled`` and its cover ends where it starts (it covers no day, so it counts in no tier,
    premium or report). Raises RecordError for an unknown outcome."""
    if outcome not in UW_OUTCOMES:
        raise RecordError(f"unknown underwriting outcome {outcome!r}")
    before = {
        "uw_outcome": policy.uw_outcome,
        "status": policy.status,
        "end_date": policy.end_date,
        "premium_loading_pct": policy.premium_loading_pct,
        "exclusion": policy.exclusion,
    }
    values: dict = {"uw_outcome": outcome, "premium_loading_pct": loading_pct, "exclusion": exclusion or None}
    if outcome == "declined":
        values.update(status="cancelled", end_date=policy.start_date, premium_loading_pct=None, exclusion=None)
    session.execute(update(Policy).where(Policy.id == policy.id).values(**values, updated_at=utcnow()))
    session.refresh(policy)
    audit.record(session, actor, audit.Change("policy.underwrite", "policy", policy.id, before, values))
    return policy
