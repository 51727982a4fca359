"""Each customer's current tier and the history of its changes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, one_of, utcnow

TIERS = ("vip", "standard", "watchlist")
_TIER_CHECK = one_of("tier", TIERS)  # a run writes a million rows: see one_of


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
    """A state a customer has left: the tier, reasons and scores that a run (or an override)
    set, kept when a later one replaced them. The current state is the customer_tiers row;
    the two together are every state the customer has had, each stored once (a first run
    writes a million current rows, not a million more copies of them here)."""

    __tablename__ = "tier_history"
    __table_args__ = (CheckConstraint(_TIER_CHECK, name="tier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    run_id: Mapped[int | None]
    tier: Mapped[str] = mapped_column(String(10))
    reasons: Mapped[str] = mapped_column(String(200), default="")
    value_score: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=0)
    risk_score: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=0)
    as_of: Mapped[dt.date | None]
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # when this state was set

    @classmethod
    def of(cls, state: CustomerTier) -> TierHistory:
        """A customer's current state as a history row (unsaved)."""
        return cls(
            customer_id=state.customer_id,
            run_id=state.run_id,
            tier=state.tier,
            reasons=state.reasons,
            value_score=state.value_score,
            risk_score=state.risk_score,
            as_of=state.as_of,
            changed_at=state.updated_at,
        )


class TierPolicyVersion(Base):
    """A version of the tier policy (thresholds, windows, hysteresis): rows are never edited."""

    __tablename__ = "tier_policy_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    settings: Mapped[str] = mapped_column(Text)  # JSON of TierPolicy.to_dict()
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RiskModelRecord(Base):
    """A fitted claim-frequency model, with its data window and validation metrics."""

    __tablename__ = "risk_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    data_window: Mapped[str] = mapped_column(Text)  # JSON
    metrics: Mapped[str] = mapped_column(Text)  # JSON
    note: Mapped[str] = mapped_column(Text, default="")
    n_rows: Mapped[int]
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


RUN_STATES = ("queued", "running", "completed", "failed")


class TierRun(Base):
    """One recalculation (or dry-run preview): who started it, with what, and what it moved."""

    __tablename__ = "tier_runs"
    __table_args__ = (
        CheckConstraint("state IN ('queued','running','completed','failed')", name="state"),
        CheckConstraint("mode IN ('publish','preview')", name="mode"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # 1 while queued or running, NULL after: the unique constraint lets only one run be
    # under way at any time, whoever starts it (schedulers, clicks, the command line).
    active_slot: Mapped[int | None] = mapped_column(unique=True)
    # Scheduled runs use 'scheduled:YYYY-MM-DD': two schedulers cannot both insert it.
    job_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    mode: Mapped[str] = mapped_column(String(10), default="publish")
    state: Mapped[str] = mapped_column(String(10), default="queued")
    trigger: Mapped[str] = mapped_column(String(20))  # cli | ui | scheduler
    started_by: Mapped[str] = mapped_column(String(254))
    as_of: Mapped[dt.date]
    policy_version: Mapped[str | None] = mapped_column(String(40))
    model_version: Mapped[str | None] = mapped_column(String(80))
    portfolio_loss_ratio: Mapped[float | None]
    progress: Mapped[int] = mapped_column(default=0)  # percent
    customers: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    counts: Mapped[str | None] = mapped_column(Text)  # JSON {tier: n}
    moves: Mapped[str | None] = mapped_column(Text)  # JSON {"from→to": n}
    sample: Mapped[str | None] = mapped_column(Text)  # JSON: a few moved customers and why
    error: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


OVERRIDE_STATES = ("pending", "active", "rejected", "revoked")


class TierOverride(Base):
    """A tier pinned by a person, with a reason and an expiry."""

    __tablename__ = "tier_overrides"
    __table_args__ = (
        CheckConstraint(_TIER_CHECK, name="tier"),
        CheckConstraint("status IN ('pending','active','rejected','revoked')", name="status"),
        Index("ix_tier_overrides_customer_status", "customer_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    tier: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(500))
    expires_on: Mapped[dt.date]
    status: Mapped[str] = mapped_column(String(10))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(500))


class TierMoveBatch(Base):
    """Moves of a run kept for the subscribers (benefits), delivered after the run commits.

    The run stores them in its own transaction (a transactional outbox), so they exist exactly
    when its tiers do; crm.jobs.moves delivers each batch once, in order, in a transaction of
    its own that also marks it delivered. A batch is one (old tier, new tier) pair and up to
    crm.jobs.moves.BATCH customers: their ids as little-endian 64-bit integers."""

    __tablename__ = "tier_move_batches"
    __table_args__ = (Index("ix_tier_move_batches_pending", "delivered_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("tier_runs.id"))
    old_tier: Mapped[str | None] = mapped_column(String(10))  # None: the customer's first tier
    new_tier: Mapped[str] = mapped_column(String(10))
    customers: Mapped[int]
    customer_ids: Mapped[bytes] = mapped_column(LargeBinary)
    actor: Mapped[str] = mapped_column(Text)  # JSON: who started the run (crm.audit.Actor)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)  # the last failed delivery's
