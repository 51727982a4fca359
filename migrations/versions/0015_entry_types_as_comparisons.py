"""the entitlement ledger checks its entry type with comparisons joined by OR, not IN (...)

As 0014 for the tier tables: SQLite builds an IN list's lookup table again for every row a
CHECK constraint checks, and a first run at 1M grants 306,340 entries (the quarterly renewal
as many): the check took about 0.06 s of each 0.25 s that 76,585 of them took to insert
(measured on SQLite 3.40). The same values are admitted on both databases (crm.db.one_of).
On SQLite the table is copied (batch mode), once.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TYPES = ("grant", "renew", "consume", "return", "stop", "suspend", "resume")
COMPARISONS = " OR ".join(f"entry_type = '{t}'" for t in TYPES)
IN_LIST = "entry_type IN (" + ",".join(f"'{t}'" for t in TYPES) + ")"
NAME = "ck_entitlement_entries_entry_type"


def _check_with(check: str) -> None:
    with op.batch_alter_table("entitlement_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
        batch_op.create_check_constraint(op.f(NAME), check)


def upgrade() -> None:
    _check_with(COMPARISONS)


def downgrade() -> None:
    _check_with(IN_LIST)
