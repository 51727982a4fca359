"""Customers, their policies and claims, and the import batches that brought them in."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, func, literal_column
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Base, utcnow
from crm.validators import CLAIM_STATUSES, PAYMENT_MODES, POLICY_STATUSES, PRODUCT_TYPES, SOURCES


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ('" + "','".join(values) + "')"


class ImportBatch(Base):
    """One run of `crm import` or the upload page: what came in, from which file, by whom."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    initial_load: Mapped[bool] = mapped_column(default=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint(_in("source", SOURCES), name="source"),
        CheckConstraint("gender IN ('M','F')", name="gender"),
        Index("ix_customers_name_id", "name", "id"),
        Index("ix_customers_city_id", "city", "id"),
        Index("ix_customers_manager_id", "account_manager_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_ref: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str] = mapped_column(String(18))
    birth_date: Mapped[dt.date]
    gender: Mapped[str] = mapped_column(String(1))
    phone: Mapped[str] = mapped_column(String(11), index=True)
    city: Mapped[str] = mapped_column(String(50))
    source: Mapped[str] = mapped_column(String(20))
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    account_manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    referred_by: Mapped[Customer | None] = relationship(remote_side=[id])
    account_manager = relationship("User")
    policies: Mapped[list[Policy]] = relationship(back_populates="customer", order_by="Policy.start_date")


# The customer search: a full ID number (admins and managers), and the last 4 digits of the
# phone (everyone; phones are always 11 digits) in id order, for keyset pages.
PHONE_TAIL = func.substr(Customer.phone, literal_column("8"), literal_column("4"))
Index("ix_customers_id_number", Customer.id_number)
Index("ix_customers_phone_tail_id", PHONE_TAIL, Customer.id)


class Policy(Base):
    __tablename__ = "policies"
    __table_args__ = (
        CheckConstraint(_in("product_type", PRODUCT_TYPES), name="product_type"),
        CheckConstraint(_in("payment_mode", PAYMENT_MODES), name="payment_mode"),
        CheckConstraint(_in("status", POLICY_STATUSES), name="status"),
        # A declined policy never took effect: cancelled, covering no day (crm.review.outcomes).
        CheckConstraint("end_date > start_date OR (status = 'cancelled' AND end_date = start_date)", name="dates"),
        CheckConstraint("annual_premium >= 0", name="premium"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_no: Mapped[str] = mapped_column(String(40), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    product_code: Mapped[str] = mapped_column(String(40))
    product_type: Mapped[str] = mapped_column(String(20))
    start_date: Mapped[dt.date]
    end_date: Mapped[dt.date]
    term_years: Mapped[int]
    payment_mode: Mapped[str] = mapped_column(String(12))
    annual_premium: Mapped[Decimal]
    status: Mapped[str] = mapped_column(String(12))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Business records are never deleted: a mistaken one is voided, with a reason (audited).
    voided_at: Mapped[dt.datetime | None]
    void_reason: Mapped[str | None] = mapped_column(String(500))
    # Voiding a policy in force takes two people: the first asks (these), a second confirms.
    void_requested_by: Mapped[str | None] = mapped_column(String(254))
    void_requested_at: Mapped[dt.datetime | None]
    # Who typed it in (manual entry; an import's uploader is on its batch): four eyes.
    entered_by_id: Mapped[int | None]
    # The underwriting outcome (crm.review.outcomes): accepted | accepted_with_conditions | declined,
    # the conditions (a premium loading in percent, an exclusion), and the risk officer who
    # approved cover entered after a loss (claims on it wait for that).
    uw_outcome: Mapped[str | None] = mapped_column(String(30))
    premium_loading_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    exclusion: Mapped[str | None] = mapped_column(String(500))
    cover_approved_by_id: Mapped[int | None]
    cover_approved_at: Mapped[dt.datetime | None]

    customer: Mapped[Customer] = relationship(back_populates="policies")


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint(_in("status", CLAIM_STATUSES), name="status"),
        CheckConstraint("report_date >= loss_date", name="dates"),
        CheckConstraint("claimed_amount >= 0 AND reserve_amount >= 0 AND paid_amount >= 0", name="amounts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_no: Mapped[str] = mapped_column(String(40), unique=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id"), index=True)
    # Denormalised from the policy so that per-customer aggregation needs no join.
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    loss_date: Mapped[dt.date]
    report_date: Mapped[dt.date]
    status: Mapped[str] = mapped_column(String(14))
    claimed_amount: Mapped[Decimal]
    reserve_amount: Mapped[Decimal]
    paid_amount: Mapped[Decimal]
    fraud_suspected: Mapped[bool] = mapped_column(default=False)
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    voided_at: Mapped[dt.datetime | None]
    void_reason: Mapped[str | None] = mapped_column(String(500))
    entered_by_id: Mapped[int | None]  # who typed it in (manual entry): four eyes
    rejection_reason: Mapped[str | None] = mapped_column(String(500))  # the review decision's

    policy: Mapped[Policy] = relationship()


class InitialLoadApproval(Base):
    """An initial-load import asked for after the initial load closed: it runs only once a second
    admin approves this very file (kind and SHA-256), and it is spent by that one import."""

    __tablename__ = "initial_load_approvals"
    __table_args__ = (CheckConstraint("state IN ('requested','approved','used')", name="state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(10), default="requested")
    requested_by: Mapped[str] = mapped_column(String(254))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(254))
    approved_at: Mapped[dt.datetime | None]
    used_at: Mapped[dt.datetime | None]


class InitialLoadClosure(Base):
    """The initial load closed by hand (`crm import close-initial-load`): one row at most."""

    __tablename__ = "initial_load_closure"

    id: Mapped[int] = mapped_column(primary_key=True)
    closed_by: Mapped[str] = mapped_column(String(254))
    closed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
