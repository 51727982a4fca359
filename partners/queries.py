"""Read-only questions the portal, the admin pages and the customer panel ask (no flask)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import Customer, User
from partners.models import Coupon, Partner, PartnerApiKey, PartnerCashier, PartnerStore, Redemption


def mask_name(name: str) -> str:
    """What a cashier may see of a customer's name: the family name only (王**)."""
    name = (name or "").strip()
    return name[:1] + "*" * max(1, len(name) - 1) if name else "—"


def coupon_for_partner(session: Session, partner_id: int, code: str) -> tuple[Coupon, str] | None:
    """A coupon of this partner with its customer's masked name, or None (any other partner's
    coupon is as unknown as a code that does not exist)."""
    row = session.execute(
        select(Coupon, Customer.name)
        .join(Customer, Customer.id == Coupon.customer_id)
        .where(Coupon.code == code, Coupon.partner_id == partner_id)
    ).first()
    return (row[0], mask_name(row[1])) if row else None


def redemptions_between(session: Session, partner_id: int, lo: dt.datetime, hi: dt.datetime) -> list:
    """The partner's redemptions made in [lo, hi), newest first, with their coupon."""
    return list(
        session.scalars(
            select(Redemption)
            .join(Redemption.coupon)
            .where(Redemption.partner_id == partner_id, Redemption.redeemed_at >= lo, Redemption.redeemed_at < hi)
            .order_by(Redemption.redeemed_at.desc(), Redemption.id.desc())
            .limit(500)
        )
    )


def stores(session: Session, partner_id: int) -> list[PartnerStore]:
    return list(
        session.scalars(
            select(PartnerStore).where(PartnerStore.partner_id == partner_id).order_by(PartnerStore.store_id)
        )
    )


def partners(session: Session) -> list[Partner]:
    return list(session.scalars(select(Partner).order_by(Partner.name)))


def keys(session: Session, partner_id: int) -> list[PartnerApiKey]:
    return list(
        session.scalars(
            select(PartnerApiKey)
            .where(PartnerApiKey.partner_id == partner_id)
            .order_by(PartnerApiKey.created_at.desc())
        )
    )


def cashiers(session: Session, partner_id: int) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(PartnerCashier, PartnerCashier.user_id == User.id)
            .where(PartnerCashier.partner_id == partner_id)
            .order_by(User.email)
        )
    )


def customer_coupons(session: Session, customer_id: int, limit: int = 100) -> list[Coupon]:
    return list(
        session.scalars(select(Coupon).where(Coupon.customer_id == customer_id).order_by(Coupon.id.desc()).limit(limit))
    )
