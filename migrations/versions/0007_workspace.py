"""visits and follow-ups, teams, targets, report snapshots

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=1000), nullable=False),
        sa.Column("next_step", sa.String(length=500), nullable=False),
        sa.Column("next_step_due", sa.Date(), nullable=True),
        sa.Column("follow_up_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('visit','call','event')", name=op.f("ck_visits_kind")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_visits_customer_id_customers")),
        sa.ForeignKeyConstraint(["manager_id"], ["users.id"], name=op.f("fk_visits_manager_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index("ix_visits_manager_date", ["manager_id", "visit_date"], unique=False)
        batch_op.create_index("ix_visits_manager_due", ["manager_id", "next_step_due"], unique=False)
        batch_op.create_index("ix_visits_customer_date", ["customer_id", "visit_date"], unique=False)
        batch_op.create_index("ix_visits_due", ["next_step_due"], unique=False)
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    op.create_table(
        "team_members",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_team_members_team_id_teams")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_team_members_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_team_members")),
    )
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_members_team_id"), ["team_id"], unique=False)
    op.create_table(
        "targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("subject_key", sa.String(length=30), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("updated_by", sa.String(length=254), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("metric IN ('long_term_premium','visits')", name=op.f("ck_targets_metric")),
        sa.CheckConstraint("(manager_id IS NULL) <> (team_id IS NULL)", name=op.f("ck_targets_subject")),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_targets_amount")),
        sa.ForeignKeyConstraint(["manager_id"], ["users.id"], name=op.f("fk_targets_manager_id_users")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_targets_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targets")),
        sa.UniqueConstraint("year", "metric", "subject_key", name=op.f("uq_targets_year")),
    )
    op.create_table(
        "report_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_snapshots")),
        sa.UniqueConstraint("key", name=op.f("uq_report_snapshots_key")),
    )
    op.create_table(
        "report_figures",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"], ["report_snapshots.id"], name=op.f("fk_report_figures_snapshot_id_report_snapshots")
        ),
        sa.PrimaryKeyConstraint("snapshot_id", "scope", name=op.f("pk_report_figures")),
    )


def downgrade() -> None:
    op.drop_table("report_figures")
    op.drop_table("report_snapshots")
    op.drop_table("targets")
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_members_team_id"))
    op.drop_table("team_members")
    op.drop_table("teams")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_due")
        batch_op.drop_index("ix_visits_customer_date")
        batch_op.drop_index("ix_visits_manager_due")
        batch_op.drop_index("ix_visits_manager_date")
    op.drop_table("visits")
