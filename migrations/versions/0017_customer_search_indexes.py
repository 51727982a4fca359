"""the customer search finds a full ID number and the last 4 digits of a phone by index

Revision ID: sec_search_idx
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "sec_search_idx"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_customers_id_number", "customers", ["id_number"], unique=False)
    op.create_index("ix_customers_phone_tail_id", "customers", [sa.text("substr(phone, 8, 4)"), "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_customers_phone_tail_id", table_name="customers")
    op.drop_index("ix_customers_id_number", table_name="customers")
