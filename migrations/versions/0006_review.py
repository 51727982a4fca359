"""review cases: enhanced underwriting and claims review queues

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_assign_cursors",
        sa.Column("pool", sa.String(length=20), nullable=False),
        sa.Column("last_user_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pool", name=op.f("pk_review_assign_cursors")),
    )
    op.create_table(
        "review_settings_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_settings_versions")),
        sa.UniqueConstraint("version", name=op.f("uq_review_settings_versions_version")),
    )
    op.create_table(
        "review_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("fast_track", sa.Boolean(), nullable=False),
        sa.Column("risk_score", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("sla_days", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("settings_version", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        sa.Column("escalated_by_id", sa.Integer(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_reason", sa.String(length=500), nullable=True),
        sa.Column("decision", sa.String(length=10), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(queue = 'underwriting' AND policy_id IS NOT NULL AND claim_id IS NULL) OR (queue = 'claims' AND claim_id IS NOT NULL AND policy_id IS NULL)",
            name=op.f("ck_review_cases_subject"),
        ),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('approved','rejected')", name=op.f("ck_review_cases_decision")
        ),
        sa.CheckConstraint("queue IN ('underwriting','claims')", name=op.f("ck_review_cases_queue")),
        sa.CheckConstraint(
            "reason IN ('watchlist_new_business','watchlist_policy_change','late_entry','watchlist_claim','large_claim','fraud_flag','cover_after_loss')",
            name=op.f("ck_review_cases_reason"),
        ),
        sa.CheckConstraint(
            "state IN ('open','in_review','escalated','approved','rejected','closed')",
            name=op.f("ck_review_cases_state"),
        ),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], name=op.f("fk_review_cases_assignee_id_users")),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_review_cases_claim_id_claims")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_review_cases_customer_id_customers")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_review_cases_decided_by_id_users")),
        sa.ForeignKeyConstraint(["entered_by_id"], ["users.id"], name=op.f("fk_review_cases_entered_by_id_users")),
        sa.ForeignKeyConstraint(["escalated_by_id"], ["users.id"], name=op.f("fk_review_cases_escalated_by_id_users")),
        sa.ForeignKeyConstraint(
            ["import_batch_id"], ["import_batches.id"], name=op.f("fk_review_cases_import_batch_id_import_batches")
        ),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"], name=op.f("fk_review_cases_policy_id_policies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_cases")),
        sa.UniqueConstraint("claim_id", "reason", name=op.f("uq_review_cases_claim_reason")),
        sa.UniqueConstraint("policy_id", "reason", name=op.f("uq_review_cases_policy_reason")),
    )
    with op.batch_alter_table("review_cases", schema=None) as batch_op:
        batch_op.create_index("ix_review_cases_assignee_state", ["assignee_id", "state"], unique=False)
        batch_op.create_index("ix_review_cases_customer", ["customer_id", "id"], unique=False)
        batch_op.create_index("ix_review_cases_queue_state_due", ["queue", "state", "due_on"], unique=False)
        batch_op.create_index(
            "ix_review_cases_queue_state_priority", ["queue", "state", sa.text("priority DESC"), "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("review_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_review_cases_queue_state_priority")
        batch_op.drop_index("ix_review_cases_queue_state_due")
        batch_op.drop_index("ix_review_cases_customer")
        batch_op.drop_index("ix_review_cases_assignee_state")

    op.drop_table("review_cases")
    op.drop_table("review_settings_versions")
    op.drop_table("review_assign_cursors")
