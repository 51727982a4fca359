"""business records are voided, never deleted: void columns, and triggers refusing DELETE

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("customers", "policies", "claims")


def upgrade() -> None:
    for table in ("policies", "claims"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column("void_reason", sa.String(length=500), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION business_records_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% are never deleted: void the record with a reason', TG_TABLE_NAME;
            END $$""")
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION business_records_no_delete()"
            )
    else:
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} are never deleted: void the record with a reason'); END"
            )


def downgrade() -> None:
    for table in TABLES:
        op.execute(
            f"DROP TRIGGER {table}_no_delete" + (f" ON {table}" if op.get_bind().dialect.name == "postgresql" else "")
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION business_records_no_delete()")
    for table in ("claims", "policies"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("void_reason")
            batch_op.drop_column("voided_at")
