"""Review cases (enhanced underwriting, claims review) and the versioned review settings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, utcnow

QUEUES = ("underwriting", "claims")
POLICY_REASONS = ("watchlist_new_business", "watchlist_policy_change", "late_entry", "blacklist_new_business")
CLAIM_REASONS = ("watchlist_claim", "large_claim", "fraud_flag", "cover_after_loss", "vip_claim", "blacklist_claim")
REASONS = POLICY_REASONS + CLAIM_REASONS
STATES = ("open", "in_review", "escalated", "approved", "rejected", "closed")
ACTIVE_STATES = ("open", "in_review", "escalated")  # the SLA clock runs in these
OPEN_CLAIM_STATUSES = ("reported", "registered", "under_review", "approved")  # pending (未决)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ('" + "','".join(values) + "')"


class ReviewCase(Base):
    """One record (a policy or a claim) that a person must review, for one reason.

    The unique constraints (subject, reason) make routing idempotent: a re-import or a
    second event never opens a second case for the same thing. A policy's change
    (``watchlist_policy_change``: a void request, a changed row) is a new thing each time:
    one active case at a time, and a new one once the earlier is decided (the indexes below).
    """

    __tablename__ = "review_cases"
    __table_args__ = (
        CheckConstraint(_in("queue", QUEUES), name="queue"),
        CheckConstraint(_in("reason", REASONS), name="reason"),
        CheckConstraint(_in("state", STATES), name="state"),
        CheckConstraint(
            "(queue = 'underwriting' AND policy_id IS NOT NULL AND claim_id IS NULL)"
            " OR (queue = 'claims' AND claim_id IS NOT NULL AND policy_id IS NULL)",
            name="subject",
        ),
        CheckConstraint("decision IS NULL OR decision IN ('approved','rejected')", name="decision"),
        UniqueConstraint("claim_id", "reason", name="uq_review_cases_claim_reason"),
        # Overdue counts and filters: a range on the due date inside (queue, state).
        Index("ix_review_cases_queue_state_due", "queue", "state", "due_on"),
        Index("ix_review_cases_assignee_state", "assignee_id", "state"),
        Index("ix_review_cases_customer", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(30))
    # Why the case opened: a code of crm.review.labels.WHY and its figures (no personal data),
    # shown in the reader's language; ``detail`` keeps an older version's English sentence
    # that the migration to codes could not read (empty otherwise).
    detail_code: Mapped[str | None] = mapped_column(String(40))
    detail_params: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    detail: Mapped[str] = mapped_column(String(200), default="")
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    fast_track: Mapped[bool] = mapped_column(default=False)  # a VIP's claim
    risk_score: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=0)  # the customer's, when routed
    priority: Mapped[int] = mapped_column(default=0)  # higher first: fast track, then risk score
    sla_days: Mapped[int]
    due_on: Mapped[dt.date]
    settings_version: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(12), default="open")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[dt.datetime | None]
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    escalated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalated_at: Mapped[dt.datetime | None]
    escalation_reason: Mapped[str | None] = mapped_column(String(500))
    decision: Mapped[str | None] = mapped_column(String(10))
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# A policy's reasons open one case per policy, except its changes: each change
# (``watchlist_policy_change``) is reviewed anew once the case of the one before is decided, so
# that index holds the active cases only. Routing's ON CONFLICT DO NOTHING honours both.
_ONCE = "reason <> 'watchlist_policy_change'"
_ACTIVE_CHANGE = "reason = 'watchlist_policy_change' AND " + _in("state", ACTIVE_STATES)
Index(
    "uq_review_cases_policy_reason",
    ReviewCase.policy_id,
    ReviewCase.reason,
    unique=True,
    sqlite_where=text(_ONCE),
    postgresql_where=text(_ONCE),
)
Index(
    "uq_review_cases_policy_change_active",
    ReviewCase.policy_id,
    unique=True,
    sqlite_where=text(_ACTIVE_CHANGE),
    postgresql_where=text(_ACTIVE_CHANGE),
)


# The queue page: one queue and state, most urgent first, oldest first within a priority;
# the index is in exactly that order, so a page is a short index scan.
Index(
    "ix_review_cases_queue_state_priority",
    ReviewCase.queue,
    ReviewCase.state,
    ReviewCase.priority.desc(),
    ReviewCase.id,
)


class ReviewSettingsVersion(Base):
    """A version of the review rules (SLA days, thresholds, holidays): rows are never edited."""

    __tablename__ = "review_settings_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    settings: Mapped[str] = mapped_column(Text)  # JSON of ReviewSettings.to_dict()
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReviewAssignCursor(Base):
    """Per queue (or 'escalation'), the user who got the last round-robin assignment."""

    __tablename__ = "review_assign_cursors"

    pool: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_user_id: Mapped[int | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
