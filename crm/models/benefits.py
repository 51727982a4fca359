"""VIP benefits: the versioned catalogue, the entitlement ledger, health bookings, emergency
assistance and the cost of every benefit use."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, one_of, utcnow

ENTRY_TYPES = ("grant", "renew", "consume", "return", "stop", "suspend", "resume")
BOOKING_STATES = ("requested", "confirmed", "attended", "no_show", "cancelled")
CASE_CATEGORIES = (
    "medical_rescue",
    "evacuation",
    "travel_assistance",
    "lost_passport",
    "lost_luggage",
    "security_crisis",
    "epidemic",
    "other",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ('" + "','".join(values) + "')"


class BenefitCatalogueVersion(Base):
    """One version of the benefit catalogue and its cost policy (JSON): rows are never edited."""

    __tablename__ = "benefit_catalogue_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    settings: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class EntitlementEntry(Base):
    """An append-only ledger line: the balance of a customer's benefit in a period is the sum
    of ``quantity``. ``once_key`` (unique, NULL when the entry may repeat) makes a grant per
    period, a unit taken by a consumer and a booking's return each happen at most once."""

    __tablename__ = "entitlement_entries"
    __table_args__ = (
        CheckConstraint(one_of("entry_type", ENTRY_TYPES), name="entry_type"),  # a grant writes a row per VIP
        Index("ix_entitlement_entries_customer_period", "customer_id", "benefit_code", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    benefit_code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(30))
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]  # the first day after the period
    entry_type: Mapped[str] = mapped_column(String(10))
    quantity: Mapped[int]
    once_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    catalogue_version: Mapped[int | None]
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HealthProvider(Base):
    """A checkup provider: a hospital's health-management centre and one of its packages."""

    __tablename__ = "health_providers"
    __table_args__ = (CheckConstraint("price >= 0", name="price"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital: Mapped[str] = mapped_column(String(100))
    package: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(50), default="")
    price: Mapped[Decimal]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HealthBooking(Base):
    """A health checkup (体检) or a hospital appointment request (预约挂号) for a customer."""

    __tablename__ = "health_bookings"
    __table_args__ = (
        CheckConstraint(_in("state", BOOKING_STATES), name="state"),
        CheckConstraint("kind IN ('checkup','appointment')", name="kind"),
        Index("ix_health_bookings_customer_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(12))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("health_providers.id"))
    hospital: Mapped[str] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(String(200))  # the package, or the department
    preferred_date: Mapped[dt.date]
    state: Mapped[str] = mapped_column(String(10), default="requested")
    benefit_code: Mapped[str] = mapped_column(String(40))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entitlement_entries.id"))
    cost: Mapped[Decimal]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AssistanceEnrolment(Base):
    """A customer's membership with the assistance provider for one cover period.

    ``spent_usd`` is raised by a conditional UPDATE that refuses to pass the cover limit, so
    two spends recorded at once cannot together exceed it without a risk officer.
    """

    __tablename__ = "assistance_enrolments"
    __table_args__ = (
        UniqueConstraint("customer_id", "period_start", name="uq_assistance_enrolments_customer_period"),
        CheckConstraint("status IN ('active','ended')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    provider: Mapped[str] = mapped_column(String(100))
    membership_no: Mapped[str] = mapped_column(String(40), unique=True)
    cover_limit_usd: Mapped[Decimal]
    spent_usd: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]
    status: Mapped[str] = mapped_column(String(8), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AssistanceCase(Base):
    """A call to the 24/7 assistance line and what was done about it."""

    __tablename__ = "assistance_cases"
    __table_args__ = (
        CheckConstraint(_in("category", CASE_CATEGORIES), name="category"),
        CheckConstraint("status IN ('open','closed')", name="status"),
        Index("ix_assistance_cases_status_opened", "status", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("assistance_enrolments.id"))
    category: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(60))
    summary: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(6), default="open")
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]


class AssistanceSpend(Base):
    """Money (USD) spent on a case: approved at once within the remaining cover, else pending
    until a risk officer other than the recorder approves it."""

    __tablename__ = "assistance_spends"
    __table_args__ = (
        CheckConstraint("state IN ('approved','pending','rejected')", name="state"),
        CheckConstraint("amount_usd > 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("assistance_cases.id"), index=True)
    amount_usd: Mapped[Decimal]
    note: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(8))
    recorded_by: Mapped[str] = mapped_column(String(254))  # the actor's label (users, or the CLI)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(254))
    decided_at: Mapped[dt.datetime | None]


class BenefitUse(Base):
    """The cost (CNY) of one use of a benefit, once per source record."""

    __tablename__ = "benefit_uses"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_benefit_uses_source"),
        Index("ix_benefit_uses_customer_used", "customer_id", "used_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    benefit_code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(20))  # booking | coupon | enrolment
    source_id: Mapped[int]
    cost: Mapped[Decimal]
    used_on: Mapped[dt.date]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CostCeilingException(Base):
    """A benefit that would take a customer's benefit cost over the ceiling (买椟还珠): given only
    once a second person approves it; spent (``used``) by the one benefit it was asked for."""

    __tablename__ = "cost_ceiling_exceptions"
    __table_args__ = (
        CheckConstraint("state IN ('requested','approved','rejected','used')", name="state"),
        Index("ix_cost_ceiling_exceptions_customer", "customer_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    benefit_code: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal]  # the cost of the benefit asked for
    cost_before: Mapped[Decimal]  # the customer's benefit cost (365 days) when asked
    ceiling: Mapped[Decimal]
    state: Mapped[str] = mapped_column(String(10), default="requested")
    requested_by: Mapped[str] = mapped_column(String(254))  # the actor's label
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(254))
    decided_at: Mapped[dt.datetime | None]
    used_at: Mapped[dt.datetime | None]
