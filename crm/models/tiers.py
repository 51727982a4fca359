"""Each customer's current tier and the history of its changes."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, utcnow

TIERS = ("vip", "standard", "watchlist")
_TIER_CHECK = "tier IN ('vip','standard','watchlist')"


class CustomerTier(Base):
    """The current tier state: one row per scored customer, rewritten only when it changes."""

    __tablename__ = "customer_tiers"
    __table_args__ = (
        CheckConstraint(_TIER_CHECK, name="tier"),
        Index("ix_customer_tiers_tier_customer", "tier", "customer_id"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    tier: Mapped[str] = mapped_column(String(10))
    reasons: Mapped[str] = mapped_column(String(200), default="")  # ';'-separated codes
    computed_tier: Mapped[str] = mapped_column(String(10))
    computed_reasons: Mapped[str] = mapped_column(String(200), default="")
    value_score: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=0)
    risk_score: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=0)
    run_id: Mapped[int | None]
    as_of: Mapped[dt.date | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TierHistory(Base):
    """One row each time a customer's tier, reasons or scores changed."""

    __tablename__ = "tier_history"
    __table_args__ = (CheckConstraint(_TIER_CHECK, name="tier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    run_id: Mapped[int | None]
    tier: Mapped[str] = mapped_column(String(10))
    previous_tier: Mapped[str | None] = mapped_column(String(10))
    reasons: Mapped[str] = mapped_column(String(200), default="")
    value_score: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=0)
    risk_score: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=0)
    as_of: Mapped[dt.date | None]
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
