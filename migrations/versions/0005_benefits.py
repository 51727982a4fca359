"""benefit catalogue, entitlements, health bookings, emergency assistance

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "benefit_catalogue_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_catalogue_versions")),
        sa.UniqueConstraint("version", name=op.f("uq_benefit_catalogue_versions_version")),
    )
    op.create_table(
        "health_providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital", sa.String(length=100), nullable=False),
        sa.Column("package", sa.String(length=100), nullable=False),
        sa.Column("city", sa.String(length=50), nullable=False),
        sa.Column("price", sa.Numeric(14, 2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("price >= 0", name=op.f("ck_health_providers_price")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_providers")),
    )
    op.create_table(
        "entitlement_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("benefit_code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("entry_type", sa.String(length=10), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("once_key", sa.String(length=120), nullable=True),
        sa.Column("catalogue_version", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "entry_type IN ('grant','renew','consume','return','stop','suspend','resume')",
            name=op.f("ck_entitlement_entries_entry_type"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_entitlement_entries_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlement_entries")),
        sa.UniqueConstraint("once_key", name=op.f("uq_entitlement_entries_once_key")),
    )
    with op.batch_alter_table("entitlement_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entitlement_entries_customer_period", ["customer_id", "benefit_code", "period_start"], unique=False
        )

    op.create_table(
        "assistance_enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("membership_no", sa.String(length=40), nullable=False),
        sa.Column("cover_limit_usd", sa.Numeric(14, 2), nullable=False),
        sa.Column("spent_usd", sa.Numeric(14, 2), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active','ended')", name=op.f("ck_assistance_enrolments_status")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_assistance_enrolments_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistance_enrolments")),
        sa.UniqueConstraint("customer_id", "period_start", name="uq_assistance_enrolments_customer_period"),
        sa.UniqueConstraint("membership_no", name=op.f("uq_assistance_enrolments_membership_no")),
    )
    op.create_table(
        "benefit_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("benefit_code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Numeric(14, 2), nullable=False),
        sa.Column("used_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_benefit_uses_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_uses")),
        sa.UniqueConstraint("source", "source_id", name="uq_benefit_uses_source"),
    )
    with op.batch_alter_table("benefit_uses", schema=None) as batch_op:
        batch_op.create_index("ix_benefit_uses_customer_used", ["customer_id", "used_on"], unique=False)

    op.create_table(
        "health_bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("hospital", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("preferred_date", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("benefit_code", sa.String(length=40), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Numeric(14, 2), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('checkup','appointment')", name=op.f("ck_health_bookings_kind")),
        sa.CheckConstraint(
            "state IN ('requested','confirmed','attended','no_show','cancelled')", name=op.f("ck_health_bookings_state")
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_health_bookings_created_by_id_users")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_health_bookings_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["entitlement_entries.id"], name=op.f("fk_health_bookings_entry_id_entitlement_entries")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["health_providers.id"], name=op.f("fk_health_bookings_provider_id_health_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_bookings")),
    )
    with op.batch_alter_table("health_bookings", schema=None) as batch_op:
        batch_op.create_index("ix_health_bookings_customer_id", ["customer_id", "id"], unique=False)

    op.create_table(
        "assistance_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=60), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=6), nullable=False),
        sa.Column("opened_by_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "category IN ('medical_rescue','evacuation','travel_assistance','lost_passport',"
            "'lost_luggage','security_crisis','epidemic','other')",
            name=op.f("ck_assistance_cases_category"),
        ),
        sa.CheckConstraint("status IN ('open','closed')", name=op.f("ck_assistance_cases_status")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_assistance_cases_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["assistance_enrolments.id"],
            name=op.f("fk_assistance_cases_enrolment_id_assistance_enrolments"),
        ),
        sa.ForeignKeyConstraint(["opened_by_id"], ["users.id"], name=op.f("fk_assistance_cases_opened_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistance_cases")),
    )
    with op.batch_alter_table("assistance_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assistance_cases_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_assistance_cases_status_opened", ["status", "opened_at"], unique=False)

    op.create_table(
        "assistance_spends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("amount_usd", sa.Numeric(14, 2), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("recorded_by", sa.String(length=254), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=254), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('approved','pending','rejected')", name=op.f("ck_assistance_spends_state")),
        sa.CheckConstraint("amount_usd > 0", name=op.f("ck_assistance_spends_amount")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["assistance_cases.id"], name=op.f("fk_assistance_spends_case_id_assistance_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistance_spends")),
    )
    with op.batch_alter_table("assistance_spends", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assistance_spends_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("assistance_spends", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assistance_spends_case_id"))
    op.drop_table("assistance_spends")
    with op.batch_alter_table("assistance_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_assistance_cases_status_opened")
        batch_op.drop_index(batch_op.f("ix_assistance_cases_customer_id"))
    op.drop_table("assistance_cases")
    with op.batch_alter_table("health_bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_health_bookings_customer_id")
    op.drop_table("health_bookings")
    with op.batch_alter_table("benefit_uses", schema=None) as batch_op:
        batch_op.drop_index("ix_benefit_uses_customer_used")
    op.drop_table("benefit_uses")
    op.drop_table("assistance_enrolments")
    with op.batch_alter_table("entitlement_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_entitlement_entries_customer_period")
    op.drop_table("entitlement_entries")
    op.drop_table("health_providers")
    op.drop_table("benefit_catalogue_versions")
