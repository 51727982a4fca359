"""the tier tables check their tier with comparisons joined by OR, not IN (...)

SQLite builds an IN list's lookup table again for every row a CHECK constraint checks: of
the 0.78 s that a first run took to insert a million tier rows, 0.38 s went to the check
(measured on SQLite 3.40); written as comparisons it costs 0.02 s. The constraint admits
the same values on both databases (crm.db.one_of), so PostgreSQL's is rewritten too: one
definition. On SQLite the tables are copied (batch mode), once.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ("customer_tiers", "tier_history", "tier_overrides")
TIERS = ("vip", "standard", "watchlist")
COMPARISONS = " OR ".join(f"tier = '{tier}'" for tier in TIERS)
IN_LIST = "tier IN (" + ",".join(f"'{tier}'" for tier in TIERS) + ")"


def _check_tiers_with(check: str) -> None:
    for table in TABLES:
        name = op.f(f"ck_{table}_tier")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(name, type_="check")
            batch_op.create_check_constraint(name, check)


def upgrade() -> None:
    _check_tiers_with(COMPARISONS)


def downgrade() -> None:
    _check_tiers_with(IN_LIST)
