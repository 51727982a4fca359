"""partner merchants, API keys, cashiers, coupons, redemptions (one standing per coupon, by a
unique live slot), idempotency records, redemption attempts

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(14, 2)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "category IN ('dining','hotel','fitness','shopping','entertainment')", name=op.f("ck_partners_category")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("name", name=op.f("uq_partners_name")),
    )
    op.create_table(
        "partner_stores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("city", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("fk_partner_stores_partner_id_partners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_stores")),
        sa.UniqueConstraint("partner_id", "store_id", name=op.f("uq_partner_stores_partner_store")),
    )
    op.create_table(
        "partner_api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("fk_partner_api_keys_partner_id_partners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_partner_api_keys_prefix")),
    )
    op.create_index(op.f("ix_partner_api_keys_partner_id"), "partner_api_keys", ["partner_id"], unique=False)
    op.create_table(
        "partner_cashiers",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("fk_partner_cashiers_partner_id_partners")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_partner_cashiers_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_partner_cashiers")),
    )
    op.create_index(op.f("ix_partner_cashiers_partner_id"), "partner_cashiers", ["partner_id"], unique=False)
    op.create_table(
        "coupons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("value", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("unit_cost", MONEY, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("entitlement_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('issued','redeemed','expired','voided')", name=op.f("ck_coupons_status")),
        sa.CheckConstraint("value > 0", name=op.f("ck_coupons_value")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_coupons_customer_id_customers")),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("fk_coupons_partner_id_partners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_coupons_code")),
    )
    op.create_index("ix_coupons_customer_id", "coupons", ["customer_id", "id"], unique=False)
    op.create_index("ix_coupons_status_expires", "coupons", ["status", "expires_on"], unique=False)
    op.create_index(op.f("ix_coupons_partner_id"), "coupons", ["partner_id"], unique=False)
    op.create_table(
        "redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coupon_id", sa.Integer(), nullable=False),
        sa.Column("live_coupon_id", sa.Integer(), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(length=40), nullable=True),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("redeemed_at", TS, nullable=False),
        sa.Column("voided_at", TS, nullable=True),
        sa.Column("void_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["coupon_id"], ["coupons.id"], name=op.f("fk_redemptions_coupon_id_coupons")),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("fk_redemptions_partner_id_partners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemptions")),
        sa.UniqueConstraint("live_coupon_id", name=op.f("uq_redemptions_live_coupon_id")),
    )
    op.create_index(op.f("ix_redemptions_coupon_id"), "redemptions", ["coupon_id"], unique=False)
    op.create_index("ix_redemptions_partner_redeemed", "redemptions", ["partner_id", "redeemed_at"], unique=False)
    op.create_table(
        "idempotency_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_idempotency_records_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_records")),
        sa.UniqueConstraint("partner_id", "key", name=op.f("uq_idempotency_records_partner_key")),
    )
    op.create_table(
        "redemption_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("redemption_id", sa.Integer(), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("attempted_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_redemption_attempts_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption_attempts")),
    )
    op.create_index(
        "ix_redemption_attempts_partner_at", "redemption_attempts", ["partner_id", "attempted_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_redemption_attempts_partner_at", table_name="redemption_attempts")
    op.drop_table("redemption_attempts")
    op.drop_table("idempotency_records")
    op.drop_index("ix_redemptions_partner_redeemed", table_name="redemptions")
    op.drop_index(op.f("ix_redemptions_coupon_id"), table_name="redemptions")
    op.drop_table("redemptions")
    op.drop_index(op.f("ix_coupons_partner_id"), table_name="coupons")
    op.drop_index("ix_coupons_status_expires", table_name="coupons")
    op.drop_index("ix_coupons_customer_id", table_name="coupons")
    op.drop_table("coupons")
    op.drop_index(op.f("ix_partner_cashiers_partner_id"), table_name="partner_cashiers")
    op.drop_table("partner_cashiers")
    op.drop_index(op.f("ix_partner_api_keys_partner_id"), table_name="partner_api_keys")
    op.drop_table("partner_api_keys")
    op.drop_table("partner_stores")
    op.drop_table("partners")
