"""early-warning thresholds, versioned; benefit cost ceiling exceptions

Revision ID: 0021
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "warning_threshold_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thresholds", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_threshold_versions")),
    )
    op.create_table(
        "cost_ceiling_exceptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("benefit_code", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("cost_before", sa.Numeric(14, 2), nullable=False),
        sa.Column("ceiling", sa.Numeric(14, 2), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("requested_by", sa.String(length=254), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=254), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('requested','approved','rejected','used')", name=op.f("ck_cost_ceiling_exceptions_state")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_cost_ceiling_exceptions_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_ceiling_exceptions")),
    )
    with op.batch_alter_table("cost_ceiling_exceptions", schema=None) as batch_op:
        batch_op.create_index("ix_cost_ceiling_exceptions_customer", ["customer_id", "state"], unique=False)


def downgrade() -> None:
    op.drop_table("cost_ceiling_exceptions")
    op.drop_table("warning_threshold_versions")
