"""customer_tiers has no foreign key to customers: only a recalculation inserts its rows,
one per customer it read from the customers table, and customers are never deleted

A run's rows are the customers it read (crm.jobs.frames: every result row is a customers
row), and 0009's triggers refuse to delete a customer, so the check could never fail. On
PostgreSQL it cost, per row inserted, a lookup and a row lock on the customer (which writes
to the customer's page): 0.8-1.0 s per 250,000 rows, measured (2.0 s with it, 1.0-1.3 s
without), about 4 s of a first run at a million customers. The primary key stays, and the
tier pages still join the customers by it.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FK = "fk_customer_tiers_customer_id_customers"


def upgrade() -> None:
    with op.batch_alter_table("customer_tiers", schema=None) as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("customer_tiers", schema=None) as batch_op:
        batch_op.create_foreign_key(FK, "customers", ["customer_id"], ["id"])
