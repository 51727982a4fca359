"""The account managers' workspace: visits and follow-ups, teams, annual targets, report snapshots."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Base, utcnow

VISIT_KINDS = ("visit", "call", "event")
TARGET_METRICS = ("long_term_premium", "visits")


class Visit(Base):
    """A visit, follow-up call (回访) or event with a customer, logged by their manager.

    A follow-up is open while ``next_step_due`` is set and ``follow_up_done_at`` is not.
    """

    __tablename__ = "visits"
    __table_args__ = (
        CheckConstraint("kind IN ('visit','call','event')", name="kind"),
        Index("ix_visits_manager_date", "manager_id", "visit_date"),
        Index("ix_visits_manager_due", "manager_id", "next_step_due"),
        Index("ix_visits_customer_date", "customer_id", "visit_date"),
        Index("ix_visits_due", "next_step_due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    manager_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(10))
    visit_date: Mapped[dt.date]
    outcome: Mapped[str] = mapped_column(String(1000))
    next_step: Mapped[str] = mapped_column(String(500), default="")
    next_step_due: Mapped[dt.date | None]
    follow_up_done_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    customer = relationship("Customer")
    manager = relationship("User")


class Team(Base):
    """A named group of account managers (a sales team of the branch)."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TeamMember(Base):
    """A manager's team: the primary key on the user keeps each manager in one team at most."""

    __tablename__ = "team_members"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)


class Target(Base):
    """An annual target of one manager or one team for one metric.

    ``subject_key`` ('manager:ID' or 'team:ID') carries the uniqueness: one target per subject,
    metric and year, whichever of the two foreign keys is set.
    """

    __tablename__ = "targets"
    __table_args__ = (
        CheckConstraint("metric IN ('long_term_premium','visits')", name="metric"),
        CheckConstraint("(manager_id IS NULL) <> (team_id IS NULL)", name="subject"),
        CheckConstraint("amount >= 0", name="amount"),
        UniqueConstraint("year", "metric", "subject_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    metric: Mapped[str] = mapped_column(String(20))
    subject_key: Mapped[str] = mapped_column(String(30))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    amount: Mapped[Decimal]
    updated_by: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReportSnapshot(Base):
    """Report figures computed once (per day or per recalculation run), read by the dashboard.

    ``key`` ('daily:YYYY-MM-DD' for the scheduler) makes a second scheduler's run a no-op.
    """

    __tablename__ = "report_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    as_of: Mapped[dt.date]
    run_id: Mapped[int | None]
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReportFigures(Base):
    """One scope of a snapshot ('all' or 'manager:ID'): its reports as JSON."""

    __tablename__ = "report_figures"

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("report_snapshots.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)


class WarningThresholds(Base):
    """One version of the early-warning thresholds (预警指标): the newest is in force; every save
    is a new row (and an audit event), so a breach can always name the thresholds it broke."""

    __tablename__ = "warning_threshold_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    thresholds: Mapped[str] = mapped_column(Text)  # JSON {indicator code: threshold as text}
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
