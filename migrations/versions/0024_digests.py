"""record digests: the keyed digest of each audited record's state (tamper evidence of the records)

Revision ID: 0024_digests
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_digests"
down_revision = "0024_blacklist"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Records already there get their digests from `crm audit baseline` (run once, audited):
    # a migration has no secret to key them with.
    op.create_table(
        "record_digests",
        sa.Column("tbl", sa.String(length=24), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("mac", sa.String(length=32), nullable=False),
        sa.Column("tags", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("tbl", "record_id", name=op.f("pk_record_digests")),
    )


def downgrade() -> None:
    op.drop_table("record_digests")
