"""Partners, their keys, stores and cashiers; issuing coupons; the daily expiry.

Services take a session and plain values, may flush, never commit, and raise PartnerError.
API keys are 256-bit random secrets, so a single SHA-256 is as strong as a slow hash would be
(there is nothing to brute-force) and keeps authentication cheap on every API call; only the
hash and a public prefix (to find the row) are stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from crm import audit
from crm.db import utcnow
from crm.models import Customer, User
from partners import codes
from partners.models import CATEGORIES, Coupon, Partner, PartnerApiKey, PartnerCashier, PartnerStore

KEY_PREFIX = "pk_"
MAX_COUPON_VALUE = Decimal("100000")


class PartnerError(ValueError):
    """A partner, key, store, cashier or coupon operation was refused; the message says why."""


# --- API keys ------------------------------------------------------------------------


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key(session: Session, partner_id: int) -> str:
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    session.add(PartnerApiKey(partner_id=partner_id, prefix=prefix, key_hash=_hash_key(key)))
    return key


class ApiCaller(NamedTuple):
    """Who presented a live key: its partner (``id``, ``name``, so it stands in for a Partner where
    only those are read) and the key's id (what the rate limit counts)."""

    id: int
    name: str
    key_id: int


_KEYS, _PARTNERS = PartnerApiKey.__table__, Partner.__table__
_KEY_BY_PREFIX = (
    select(_KEYS.c.id, _KEYS.c.key_hash, _KEYS.c.revoked_at, _PARTNERS.c.id, _PARTNERS.c.name, _PARTNERS.c.active)
    .join_from(_KEYS, _PARTNERS, _PARTNERS.c.id == _KEYS.c.partner_id)
    .where(_KEYS.c.prefix == bindparam("prefix"))
)


def authenticate_key(session: Session, presented: str) -> ApiCaller | None:
    """The active partner and live key for a presented key, or None (for every kind of wrong).

    One query on every API call (no cache: a revoked key is refused at once).
    """
    parts = (presented or "").split("_")
    if len(parts) < 3 or not presented.startswith(KEY_PREFIX) or len(presented) > 200:
        return None
    row = session.connection().execute(_KEY_BY_PREFIX, {"prefix": parts[1]}).first()
    if row is None:
        hmac.compare_digest(_hash_key(presented), "0" * 64)  # the same work as a real check
        return None
    key_id, key_hash, revoked_at, partner_id, name, active = row
    if not hmac.compare_digest(_hash_key(presented), key_hash):
        return None
    if revoked_at is not None or not active:
        return None
    return ApiCaller(partner_id, name, key_id)


def rotate_key(session: Session, actor: audit.Actor, partner_id: int) -> str:
    """Revoke the partner's live keys and issue a new one; returns the new key (shown once)."""
    partner = _partner(session, partner_id)
    now = utcnow()
    session.execute(
        update(PartnerApiKey)
        .where(PartnerApiKey.partner_id == partner.id, PartnerApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    key = _new_key(session, partner.id)
    session.flush()
    audit.record(
        session, actor, audit.Change("partner.key_rotated", "partner", partner.id, None, {"prefix": key.split("_")[1]})
    )
    return key


def revoke_key(session: Session, actor: audit.Actor, partner_id: int) -> int:
    """Revoke every live key of the partner (the API refuses it at once); returns how many."""
    partner = _partner(session, partner_id)
    result = session.execute(
        update(PartnerApiKey)
        .where(PartnerApiKey.partner_id == partner.id, PartnerApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    audit.record(
        session, actor, audit.Change("partner.key_revoked", "partner", partner.id, None, {"revoked": result.rowcount})
    )
    return result.rowcount


# --- partners, stores, cashiers ------------------------------------------------------


def _partner(session: Session, partner_id: int) -> Partner:
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise PartnerError(f"there is no partner {partner_id}")
    return partner


def create_partner(session: Session, actor: audit.Actor, name: str, category: str) -> tuple[Partner, str]:
    """A new active partner with its first API key; returns (partner, key shown once)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise PartnerError("a partner needs a name of at most 100 characters")
    if category not in CATEGORIES:
        raise PartnerError(f"unknown category {category!r}; choose one of {', '.join(CATEGORIES)}")
    if session.scalar(select(func.count()).select_from(Partner).where(Partner.name == name)):
        raise PartnerError(f"a partner named {name} exists already")
    partner = Partner(name=name, category=category)
    session.add(partner)
    session.flush()
    key = _new_key(session, partner.id)
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change("partner.create", "partner", partner.id, None, {"name": name, "category": category}),
    )
    return partner, key


def add_store(
    session: Session, actor: audit.Actor, partner_id: int, store_id: str, name: str, city: str = ""
) -> PartnerStore:
    partner = _partner(session, partner_id)
    store_id = (store_id or "").strip()
    if not store_id or len(store_id) > 40 or not (name or "").strip():
        raise PartnerError("a store needs a code (at most 40 characters) and a name")
    if session.scalar(
        select(PartnerStore.id).where(PartnerStore.partner_id == partner.id, PartnerStore.store_id == store_id)
    ):
        raise PartnerError(f"store {store_id} exists already")
    store = PartnerStore(partner_id=partner.id, store_id=store_id, name=name.strip()[:100], city=city.strip()[:50])
    session.add(store)
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change("partner.store_added", "partner", partner.id, None, {"store_id": store_id, "name": store.name}),
    )
    return store


def link_cashier(session: Session, actor: audit.Actor, partner_id: int, email: str) -> PartnerCashier:
    """Make the partner_cashier user with ``email`` work for the partner (one partner each)."""
    partner = _partner(session, partner_id)
    user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None or user.role != "partner_cashier":
        raise PartnerError(f"there is no partner cashier {email}")
    if session.get(PartnerCashier, user.id) is not None:
        raise PartnerError(f"{user.email} works for a partner already")
    link = PartnerCashier(user_id=user.id, partner_id=partner.id)
    session.add(link)
    session.flush()
    audit.record(
        session, actor, audit.Change("partner.cashier_linked", "partner", partner.id, None, {"user_id": user.id})
    )
    return link


def cashier_partner(session: Session, user_id: int) -> Partner | None:
    """The partner a cashier works for, or None when they are not linked (or it is inactive)."""
    return session.scalar(
        select(Partner)
        .join(PartnerCashier, PartnerCashier.partner_id == Partner.id)
        .where(PartnerCashier.user_id == user_id, Partner.active.is_(True))
    )


# --- coupons -------------------------------------------------------------------------


def parse_value(text) -> Decimal:
    """A face value: positive, at most two decimals; raises PartnerError."""
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        raise PartnerError(f"{text!r} is not an amount") from None
    if not value.is_finite() or value <= 0 or value > MAX_COUPON_VALUE or value != value.quantize(Decimal("0.01")):
        raise PartnerError(f"{text} is not an amount between 0.01 and {MAX_COUPON_VALUE} with at most 2 decimals")
    return value.quantize(Decimal("0.01"))


def issue_coupon(
    session: Session,
    actor: audit.Actor,
    customer_id: int,
    partner_id: int,
    value: Decimal,
    expires_on: dt.date,
    entitlement_id: int | None = None,
) -> Coupon:
    """Issue a coupon for a customer at a partner; the code is unique by its constraint.

    Raises PartnerError for an unknown customer, an unknown or inactive partner, a bad value or
    an expiry date in the past.
    """
    value = parse_value(value)
    partner = _partner(session, partner_id)
    if not partner.active:
        raise PartnerError(f"partner {partner.name} is not active")
    if session.get(Customer, customer_id) is None:
        raise PartnerError(f"there is no customer {customer_id}")
    if expires_on < utcnow().date() - dt.timedelta(days=1):  # a day of slack for time zones
        raise PartnerError(f"the expiry date {expires_on} is in the past")
    # 2^64 codes: a collision is practically impossible, and the unique constraint catches one.
    coupon = Coupon(
        code=codes.new_code(),
        customer_id=customer_id,
        partner_id=partner.id,
        value=value,
        unit_cost=value,
        currency="CNY",
        expires_on=expires_on,
        entitlement_id=entitlement_id,
    )
    session.add(coupon)
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change(
            "coupon.issue",
            "coupon",
            coupon.id,
            None,
            {
                "customer_id": customer_id,
                "partner_id": partner.id,
                "value": value,
                "expires_on": expires_on,
                "entitlement_id": entitlement_id,
            },
        ),
    )
    return coupon


def void_coupon(session: Session, actor: audit.Actor, coupon_id: int, reason: str) -> bool:
    """Withdraw an unredeemed coupon (e.g. the policy voids them when a customer leaves VIP).

    Returns False when it was not in 'issued' (already redeemed, expired or voided).
    """
    done = (
        session.execute(
            update(Coupon).where(Coupon.id == coupon_id, Coupon.status == "issued").values(status="voided")
        ).rowcount
        == 1
    )
    if done:
        audit.record(
            session,
            actor,
            audit.Change(
                "coupon.void", "coupon", coupon_id, {"status": "issued"}, {"status": "voided", "reason": reason[:200]}
            ),
        )
    return done


def expire_coupons(session: Session, actor: audit.Actor, today: dt.date) -> int:
    """Mark every issued coupon whose last day is before ``today`` as expired; returns how many.

    Safe to run twice or concurrently: the UPDATE only touches coupons still 'issued'.
    """
    ids = list(session.scalars(select(Coupon.id).where(Coupon.status == "issued", Coupon.expires_on < today)))
    if not ids:
        return 0  # nothing to do writes nothing (not even an audit event)
    n = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        n += session.execute(
            update(Coupon)
            .where(Coupon.id.in_(chunk), Coupon.status == "issued", Coupon.expires_on < today)
            .values(status="expired")
        ).rowcount
    audit.record(session, actor, audit.Change("coupon.expire", "coupon", None, None, {"today": today, "expired": n}))
    return n
