"""Pinned tiers: requested, approved by a second person when they lift a watchlist, revoked.

An active override wins over the computed tier from the moment it is active (the stored
state changes at once, with its history, and TiersChanged is published); the computed tier
and its reasons stay recorded beside it, and every run keeps them up to date.

One person's word never keeps a customer off the watchlist: a pin below the watchlist that no
second person has approved or confirmed gives way when a run computes watchlist (the rule is
segmentation.tiers.pins_that_hold; the run reads ``confirmed`` with the overrides), and the
watchlist applies until a risk officer or admin other than the one who set it confirms the pin
(``confirm``); from then on the pin holds.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import audit, events
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


def _second_persons_reason(user: User, override: TierOverride, reason: str, not_their_role, four_eyes) -> str:
    """The checks on whoever decides or confirms an override (never the one who asked for it):
    returns their reason, stripped. Raises OverrideError with the caller's message."""
    if user.role not in OVERRIDE_ROLES:
        raise OverrideError(not_their_role)
    if override.requested_by_id == user.id:
        raise OverrideError(four_eyes)
    if not reason.strip():
        raise OverrideError(_l("a reason is required"))
    return reason.strip()


def _claim(session: Session, actor: audit.Actor, override: TierOverride, claim, change: audit.Change) -> None:
    """Run ``claim``, the conditional UPDATE of a decision on ``override``, and record ``change``.
    Raises OverrideError when another decision came first (the UPDATE found no row)."""
    if not session.execute(claim).rowcount:
        raise OverrideError(_l("this override was decided meanwhile"))
    session.refresh(override)
    audit.record(session, actor, change)


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
    needs_approval = "watchlist" in (state.tier, state.computed_tier) and tier != "watchlist"
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
    reason = _second_persons_reason(
        user,
        override,
        reason,
        _l("only risk officers and admins decide overrides"),
        _l("four eyes: someone other than the requester must decide"),
    )
    status = "active" if approve else "rejected"
    now = utcnow()
    # An approval is the second person's word on the pin: it is confirmed as well.
    confirmed = {"confirmed_by_id": user.id, "confirmed_at": now} if approve else {}
    _claim(
        session,
        actor,
        override,
        update(TierOverride)
        .where(TierOverride.id == override_id, TierOverride.status == "pending")
        .values(status=status, decided_by_id=user.id, decided_at=now, decision_reason=reason, **confirmed),
        audit.Change(
            f"tier_override.{'approve' if approve else 'reject'}",
            "customer",
            override.customer_id,
            {"status": "pending"},
            {"override": override.id, "status": status, "reason": reason},
        ),
    )
    if approve:
        _apply(session, actor, override)
    return override


def needs_confirmation(override: TierOverride) -> bool:
    """An active pin below the watchlist that no second person has confirmed yet."""
    return override.status == "active" and override.tier != "watchlist" and override.confirmed_by_id is None


def awaiting_confirmation(override: TierOverride, state: CustomerTier | None) -> bool:
    """The run computed watchlist and the pin gives way until a second person confirms it."""
    return needs_confirmation(override) and state is not None and state.computed_tier == "watchlist"


def confirm(session: Session, actor: audit.Actor, user: User, override_id: int, reason: str) -> TierOverride:
    """A second person confirms a pin below the watchlist: from now on it holds, even when the
    rules compute watchlist, and the stored tier takes the pin at once. Never the one who set it.

    Raises OverrideError.
    """
    override = session.get(TierOverride, override_id)
    if override is None or not needs_confirmation(override):
        raise OverrideError(_l("no override with this number waits for a confirmation"))
    reason = _second_persons_reason(
        user,
        override,
        reason,
        _l("only risk officers and admins confirm overrides"),
        _l("four eyes: someone other than the one who set the pin must confirm it"),
    )
    _claim(
        session,
        actor,
        override,
        update(TierOverride)
        .where(TierOverride.id == override_id, TierOverride.status == "active", TierOverride.confirmed_by_id.is_(None))
        .values(confirmed_by_id=user.id, confirmed_at=utcnow()),
        audit.Change(
            "tier_override.confirm",
            "customer",
            override.customer_id,
            {"confirmed": False},
            {"override": override.id, "tier": override.tier, "confirmed": True, "reason": reason},
        ),
    )
    state = _state(session, override.customer_id)
    if state.tier != override.tier:
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


def states_of(session: Session, overrides: list[TierOverride]) -> dict[int, CustomerTier]:
    """The tier state of each override's customer, by customer id (for the pending confirmations)."""
    ids = {o.customer_id for o in overrides}
    if not ids:
        return {}
    return {t.customer_id: t for t in session.scalars(select(CustomerTier).where(CustomerTier.customer_id.in_(ids)))}
