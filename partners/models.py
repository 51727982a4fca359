"""Partner merchants, their stores, API keys and cashiers; coupons, redemptions and the records
that make redemption exactly-once (a unique live slot), idempotent (stored answers) and
accountable (every attempt)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Base, utcnow

CATEGORIES = ("dining", "hotel", "fitness", "shopping", "entertainment")
# issued → redeemed → (a void puts it back to) issued; or expired; or voided by the insurer.
COUPON_STATUSES = ("issued", "redeemed", "expired", "voided")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ('" + "','".join(values) + "')"


class Partner(Base):
    """A contracted merchant (特约商户)."""

    __tablename__ = "partners"
    __table_args__ = (CheckConstraint(_in("category", CATEGORIES), name="category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    category: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    stores: Mapped[list[PartnerStore]] = relationship(order_by="PartnerStore.store_id")


class PartnerStore(Base):
    """One outlet of a partner; ``store_id`` is the partner's own code for it."""

    __tablename__ = "partner_stores"
    __table_args__ = (UniqueConstraint("partner_id", "store_id", name="uq_partner_stores_partner_store"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    store_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(50), default="")


class PartnerApiKey(Base):
    """An API key: only its public prefix and the SHA-256 of the whole key are kept."""

    __tablename__ = "partner_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class PartnerCashier(Base):
    """Links a ``partner_cashier`` user to the one partner they work for."""

    __tablename__ = "partner_cashiers"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Coupon(Base):
    """A coupon bound to a customer and a partner; ``code`` includes its check character."""

    __tablename__ = "coupons"
    __table_args__ = (
        CheckConstraint(_in("status", COUPON_STATUSES), name="status"),
        CheckConstraint("value > 0", name="value"),
        Index("ix_coupons_customer_id", "customer_id", "id"),
        Index("ix_coupons_status_expires", "status", "expires_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    value: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    unit_cost: Mapped[Decimal]  # what the coupon costs the insurer (cost-against-premium reports)
    status: Mapped[str] = mapped_column(String(10), default="issued")
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_on: Mapped[dt.date]  # the last day it can be redeemed, in the insurer's zone
    entitlement_id: Mapped[int | None]  # the benefits ledger row it came from, if any

    partner: Mapped[Partner] = relationship()


class Redemption(Base):
    """One redemption. ``live_coupon_id`` is the coupon's id while the redemption stands and
    NULL once voided: its unique constraint allows one standing redemption per coupon."""

    __tablename__ = "redemptions"
    __table_args__ = (Index("ix_redemptions_partner_redeemed", "partner_id", "redeemed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"), index=True)
    live_coupon_id: Mapped[int | None] = mapped_column(unique=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    store_id: Mapped[str | None] = mapped_column(String(40))
    amount: Mapped[Decimal]
    redeemed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    voided_at: Mapped[dt.datetime | None]
    void_reason: Mapped[str | None] = mapped_column(String(200))

    coupon: Mapped[Coupon] = relationship()


class IdempotencyRecord(Base):
    """The stored answer to a partner's request under one Idempotency-Key."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("partner_id", "key", name="uq_idempotency_records_partner_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RedemptionAttempt(Base):
    """Every redemption or void attempt, whatever its outcome, for the partner and the audit."""

    __tablename__ = "redemption_attempts"
    __table_args__ = (Index("ix_redemption_attempts_partner_at", "partner_id", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    action: Mapped[str] = mapped_column(String(10))  # redeem | void
    channel: Mapped[str] = mapped_column(String(10))  # api | portal
    code: Mapped[str] = mapped_column(String(40), default="")  # as normalised (never a secret)
    outcome: Mapped[str] = mapped_column(String(30))  # redeemed, already_redeemed, expired, …
    redemption_id: Mapped[int | None]
    api_key_id: Mapped[int | None]
    user_id: Mapped[int | None]
    attempted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
