"""Pinned tiers: requested, approved by a second person when they lift a watchlist, revoked.

An active override wins over the computed tier from the moment it is active (the stored
state changes at once, with its history, and TiersChanged is published); the computed tier
and its reasons stay recorded beside it, and every run keeps them up to date.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import audit, events
from crm.benefits import subscriptions as _benefits  # noqa: F401 - the features an override reaches register on import
from crm.db import utcnow
from crm.models import CustomerTier, TierHistory, TierOverride, User
from crm.models.tiers import TIERS

OVERRIDE_ROLES = ("risk_officer", "admin")
MAX_DAYS = 366


class OverrideError(ValueError):
    """The override cannot be made or decided; the message says why."""


def _state(session: Session, customer_id: int) -> CustomerTier:
    state = session.get(CustomerTier, customer_id)
    if state is None:
        raise OverrideError(_l("this customer has no tier yet; run a recalculation first"))
    return state


def _set_tier(session: Session, actor: audit.Actor, state: CustomerTier, tier: str, reasons: str) -> None:
    old = state.tier
    # The state being replaced moves into the history (crm.models.TierHistory).
    session.add(TierHistory.of(state))
    session.flush()
    session.execute(
        update(CustomerTier)
        .where(CustomerTier.customer_id == state.customer_id)
        .values(tier=tier, reasons=reasons, updated_at=utcnow())
    )
    if old != tier:
        events.publish(session, events.TiersChanged((events.TierMove(state.customer_id, old, tier),), None, actor))


def _apply(session: Session, actor: audit.Actor, override: TierOverride) -> None:
    state = _state(session, override.customer_id)
    codes = [c for c in state.computed_reasons.split(";") if c] + ["M_OVERRIDE"]
    _set_tier(session, actor, state, override.tier, ";".join(codes))


def request_override(
    session: Session,
    actor: audit.Actor,
    user: User,
    customer_id: int,
    tier: str,
    reason: str,
    expires_on: dt.date,
    today: dt.date,
) -> TierOverride:
    """Pin a tier. Lifting a customer off the watchlist waits for a second person's approval."""
    if user.role not in OVERRIDE_ROLES:
        raise OverrideError(_l("only risk officers and admins pin tiers"))
    if tier not in TIERS:
        raise OverrideError(_l("unknown tier %(tier)s", tier=repr(tier)))
    if not reason.strip():
        raise OverrideError(_l("a reason is required"))
    if not today < expires_on <= today + dt.timedelta(days=MAX_DAYS):
        raise OverrideError(_l("the expiry must be after today and at most %(days)d days ahead", days=MAX_DAYS))
    state = _state(session, customer_id)
    open_one = session.scalar(
        select(TierOverride.id).where(
            TierOverride.customer_id == customer_id,
            TierOverride.status.in_(("pending", "active")),
            TierOverride.expires_on > today,
        )
    )
    if open_one is not None:
        raise OverrideError(_l("this customer has an override already; revoke it first"))
    needs_approval = state.tier == "watchlist" and tier != "watchlist"
    override = TierOverride(
        customer_id=customer_id,
        tier=tier,
        reason=reason.strip(),
        expires_on=expires_on,
        status="pending" if needs_approval else "active",
        requested_by_id=user.id,
    )
    session.add(override)
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change(
            "tier_override.request",
            "customer",
            customer_id,
            None,
            {
                "override": override.id,
                "tier": tier,
                "reason": override.reason,
                "expires_on": expires_on,
                "status": override.status,
            },
        ),
    )
    if not needs_approval:
        _apply(session, actor, override)
    return override


def decide(
    session: Session, actor: audit.Actor, user: User, override_id: int, approve: bool, reason: str
) -> TierOverride:
    """Approve or reject a pending override: never by the person who requested it."""
    override = session.get(TierOverride, override_id)
    if override is None or override.status != "pending":
        raise OverrideError(_l("no pending override with this number"))
    if user.role not in OVERRIDE_ROLES:
        raise OverrideError(_l("only risk officers and admins decide overrides"))
    if override.requested_by_id == user.id:
        raise OverrideError(_l("four eyes: someone other than the requester must decide"))
    if not reason.strip():
        raise OverrideError(_l("a reason is required"))
    status = "active" if approve else "rejected"
    claimed = session.execute(
        update(TierOverride)
        .where(TierOverride.id == override_id, TierOverride.status == "pending")
        .values(status=status, decided_by_id=user.id, decided_at=utcnow(), decision_reason=reason.strip())
    ).rowcount
    if not claimed:
        raise OverrideError(_l("this override was decided meanwhile"))
    session.refresh(override)
    audit.record(
        session,
        actor,
        audit.Change(
            f"tier_override.{'approve' if approve else 'reject'}",
            "customer",
            override.customer_id,
            {"status": "pending"},
            {"override": override.id, "status": status, "reason": reason.strip()},
        ),
    )
    if approve:
        _apply(session, actor, override)
    return override


def revoke(session: Session, actor: audit.Actor, user: User, override_id: int, reason: str) -> TierOverride:
    """End an override now: the computed tier applies again at once."""
    override = session.get(TierOverride, override_id)
    if override is None or override.status not in ("pending", "active"):
        raise OverrideError(_l("no open override with this number"))
    if user.role not in OVERRIDE_ROLES:
        raise OverrideError(_l("only risk officers and admins revoke overrides"))
    was = override.status
    session.execute(
        update(TierOverride)
        .where(TierOverride.id == override_id)
        .values(
            status="revoked", decided_by_id=user.id, decided_at=utcnow(), decision_reason=reason.strip() or "revoked"
        )
    )
    audit.record(
        session,
        actor,
        audit.Change(
            "tier_override.revoke",
            "customer",
            override.customer_id,
            {"status": was},
            {"override": override.id, "status": "revoked"},
        ),
    )
    if was == "active":
        state = _state(session, override.customer_id)
        _set_tier(session, actor, state, state.computed_tier, state.computed_reasons)
    return override


def open_overrides(session: Session, customer_id: int | None = None) -> list[TierOverride]:
    stmt = select(TierOverride).where(TierOverride.status.in_(("pending", "active"))).order_by(TierOverride.id.desc())
    if customer_id is not None:
        stmt = stmt.where(TierOverride.customer_id == customer_id)
    return list(session.scalars(stmt.limit(200)))
