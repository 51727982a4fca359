"""the initial load is a one-time act: approvals of later initial-load files, and the closure

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "initial_load_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("requested_by", sa.String(length=254), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=254), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('requested','approved','used')", name=op.f("ck_initial_load_approvals_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_initial_load_approvals")),
    )
    op.create_table(
        "initial_load_closure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("closed_by", sa.String(length=254), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_initial_load_closure")),
    )


def downgrade() -> None:
    op.drop_table("initial_load_closure")
    op.drop_table("initial_load_approvals")
