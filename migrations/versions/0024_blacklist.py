"""the black list (two people in, two out); a pin below the watchlist needs a second person's confirmation

- ``blacklist_entries``: one stay of a customer on the black list (crm.models.lists).
- ``tier_overrides.confirmed_by_id/confirmed_at``: the second person's word on a pin. The pins
  a second person already approved (a customer lifted off the watchlist) count as confirmed.
- ``review_cases.reason`` admits ``blacklist_new_business`` and ``blacklist_claim``.

On SQLite the altered tables are copied (batch mode), once.

Revision ID: 0024_blacklist
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_blacklist"
down_revision = "0023"
branch_labels = None
depends_on = None

OLD_REASONS = (
    "watchlist_new_business",
    "watchlist_policy_change",
    "late_entry",
    "watchlist_claim",
    "large_claim",
    "fraud_flag",
    "cover_after_loss",
)
NEW_REASONS = OLD_REASONS + ("blacklist_new_business", "blacklist_claim")
OPEN = "status IN ('pending','active')"


def _reasons(values: tuple[str, ...]) -> str:
    return "reason IN (" + ",".join(f"'{v}'" for v in values) + ")"


def _review_reasons(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("review_cases", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_review_cases_reason"), type_="check")
        batch_op.create_check_constraint(op.f("ck_review_cases_reason"), _reasons(values))


def upgrade() -> None:
    op.create_table(
        "blacklist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("removal_reason", sa.String(length=500), nullable=True),
        sa.Column("removal_requested_by_id", sa.Integer(), nullable=True),
        sa.Column("removal_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by_id", sa.Integer(), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending','active','rejected','removed')", name=op.f("ck_blacklist_entries_status")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_blacklist_entries_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["users.id"], name=op.f("fk_blacklist_entries_requested_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"], ["users.id"], name=op.f("fk_blacklist_entries_confirmed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["removal_requested_by_id"],
            ["users.id"],
            name=op.f("fk_blacklist_entries_removal_requested_by_id_users"),
        ),
        sa.ForeignKeyConstraint(["removed_by_id"], ["users.id"], name=op.f("fk_blacklist_entries_removed_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blacklist_entries")),
    )
    op.create_index("ix_blacklist_entries_customer_id", "blacklist_entries", ["customer_id"])
    op.create_index(
        "ux_blacklist_entries_open_customer",
        "blacklist_entries",
        ["customer_id"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    with op.batch_alter_table("tier_overrides", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_tier_overrides_confirmed_by_id_users"), "users", ["confirmed_by_id"], ["id"]
        )
    # A pin a second person approved had that person's word already.
    op.execute(
        "UPDATE tier_overrides SET confirmed_by_id = decided_by_id, confirmed_at = decided_at"
        " WHERE status = 'active' AND decided_by_id IS NOT NULL"
    )
    _review_reasons(NEW_REASONS)


def downgrade() -> None:
    op.execute("DELETE FROM review_cases WHERE reason IN ('blacklist_new_business','blacklist_claim')")
    _review_reasons(OLD_REASONS)
    with op.batch_alter_table("tier_overrides", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_tier_overrides_confirmed_by_id_users"), type_="foreignkey")
        batch_op.drop_column("confirmed_at")
        batch_op.drop_column("confirmed_by_id")
    op.drop_index("ux_blacklist_entries_open_customer", table_name="blacklist_entries")
    op.drop_index("ix_blacklist_entries_customer_id", table_name="blacklist_entries")
    op.drop_table("blacklist_entries")
