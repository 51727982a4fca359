"""tier_history keeps the states a customer has left; the current one is only in customer_tiers

Until now every state was written twice, as the customer_tiers row and as a history row, so
a first recalculation of a million customers wrote two million rows. The newest history row
of each customer is that copy of the current state: it is removed. previous_tier is dropped:
a state's predecessor is the row before it (it was never read).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM tier_history WHERE id IN (SELECT MAX(h.id) FROM tier_history AS h "
        "JOIN customer_tiers AS t ON t.customer_id = h.customer_id GROUP BY h.customer_id)"
    )
    with op.batch_alter_table("tier_history", schema=None) as batch_op:
        batch_op.drop_column("previous_tier")


def downgrade() -> None:
    with op.batch_alter_table("tier_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_tier", sa.String(length=10), nullable=True))
    op.execute(
        "INSERT INTO tier_history (customer_id, run_id, tier, reasons, value_score, risk_score, as_of, "
        "changed_at) SELECT customer_id, run_id, tier, reasons, value_score, risk_score, as_of, updated_at "
        "FROM customer_tiers ORDER BY customer_id"
    )
