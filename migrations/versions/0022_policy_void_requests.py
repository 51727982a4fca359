"""voiding a policy in force takes two people: who asked, and when

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy on SQLite, which would lose the no-delete trigger).
    op.add_column("policies", sa.Column("void_requested_by", sa.String(length=254), nullable=True))
    op.add_column("policies", sa.Column("void_requested_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for column in ("void_requested_at", "void_requested_by"):  # SQLite 3.35+ drops a column in place too
        op.execute(f"ALTER TABLE policies DROP COLUMN {column}")
