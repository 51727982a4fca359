"""import jobs remember the encoding the upload was sent in (UTF-8 or GB18030/GBK)

Revision ID: 0024_importzh
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_importzh"
down_revision = "0024_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch:
        batch.add_column(sa.Column("encoding", sa.String(length=10), nullable=False, server_default="utf-8"))


def downgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch:
        batch.drop_column("encoding")
