"""the tier tables check their customer again: customer_tiers and tier_history reference customers

Migrations 0012 and 0013 dropped these two foreign keys to save the recalculation the
lookups. The keys are back: a tier row or a history row of a customer who does not exist is
refused by the database, not only by the code that writes them today. (The stage that held a
run's changes packed into one number, with generated columns, was a TEMP table: no schema
change is needed to drop it.)

Revision ID: 0024_recalc
Revises: 0023
"""

from alembic import op

revision = "0024_recalc"
down_revision = "0023"
branch_labels = None
depends_on = None

KEYS = (
    ("customer_tiers", "fk_customer_tiers_customer_id_customers"),
    ("tier_history", "fk_tier_history_customer_id_customers"),
)


def upgrade() -> None:
    for table, name in KEYS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(name, "customers", ["customer_id"], ["id"])


def downgrade() -> None:
    for table, name in KEYS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(name, type_="foreignkey")
