"""review decisions change their subject; VIP claims channel; cover after the loss needs a risk officer

Policies and claims remember who entered them by hand (an import's uploader is on its batch),
so that a case opened later (a tier move) still knows whom four eyes exclude. A policy keeps
its underwriting outcome (accepted, with conditions: a premium loading or an exclusion, or
declined) and the risk officer who approved cover entered after a loss; a claim keeps why it
was rejected. A declined policy never took effect: `cancelled` with `end_date = start_date`
(it covers no day), which the dates check now admits for a cancelled policy only. Review
cases gain the reason `vip_claim` (every open claim of a VIP is in the VIP claims channel).

On SQLite the two checks are changed by copying the table (batch mode); the copy loses the
policies' no-delete trigger (0009), which is created again.

Revision ID: 0024_loop
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_loop"
down_revision = "0024_digests"
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
    "blacklist_new_business",
    "blacklist_claim",
)
NEW_REASONS = OLD_REASONS + ("vip_claim",)
OLD_DATES = "end_date > start_date"
NEW_DATES = "end_date > start_date OR (status = 'cancelled' AND end_date = start_date)"


def _reasons(values: tuple[str, ...]) -> str:
    return "reason IN (" + ",".join(f"'{v}'" for v in values) + ")"


def _sqlite_policy_trigger() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS policies_no_delete")
        op.execute(
            "CREATE TRIGGER policies_no_delete BEFORE DELETE ON policies "
            "BEGIN SELECT RAISE(ABORT, 'policies are never deleted: void the record with a reason'); END"
        )


def _checks(dates: str, reasons: tuple[str, ...]) -> None:
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_policies_dates"), type_="check")
        batch_op.create_check_constraint(op.f("ck_policies_dates"), dates)
    _sqlite_policy_trigger()
    with op.batch_alter_table("review_cases", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_review_cases_reason"), type_="check")
        batch_op.create_check_constraint(op.f("ck_review_cases_reason"), _reasons(reasons))


def upgrade() -> None:
    # Plain ADD COLUMN first (ids of users, no foreign key: a user is never deleted either).
    op.add_column("policies", sa.Column("entered_by_id", sa.Integer(), nullable=True))
    op.add_column("policies", sa.Column("uw_outcome", sa.String(length=30), nullable=True))
    op.add_column("policies", sa.Column("premium_loading_pct", sa.Numeric(precision=5, scale=2), nullable=True))
    op.add_column("policies", sa.Column("exclusion", sa.String(length=500), nullable=True))
    op.add_column("policies", sa.Column("cover_approved_by_id", sa.Integer(), nullable=True))
    op.add_column("policies", sa.Column("cover_approved_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("claims", sa.Column("entered_by_id", sa.Integer(), nullable=True))
    op.add_column("claims", sa.Column("rejection_reason", sa.String(length=500), nullable=True))
    _checks(NEW_DATES, NEW_REASONS)


def downgrade() -> None:
    _checks(OLD_DATES, OLD_REASONS)
    for column in ("rejection_reason", "entered_by_id"):
        op.execute(f"ALTER TABLE claims DROP COLUMN {column}")
    for column in (
        "cover_approved_at",
        "cover_approved_by_id",
        "exclusion",
        "premium_loading_pct",
        "uw_outcome",
        "entered_by_id",
    ):
        op.execute(f"ALTER TABLE policies DROP COLUMN {column}")
