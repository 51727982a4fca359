"""a run's tier moves are kept for the subscribers and delivered after its commit (an outbox)

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tier_move_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("old_tier", sa.String(length=10), nullable=True),
        sa.Column("new_tier", sa.String(length=10), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("customer_ids", sa.LargeBinary(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["tier_runs.id"], name=op.f("fk_tier_move_batches_run_id_tier_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_move_batches")),
    )
    op.create_index("ix_tier_move_batches_pending", "tier_move_batches", ["delivered_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tier_move_batches_pending", table_name="tier_move_batches")
    op.drop_table("tier_move_batches")
