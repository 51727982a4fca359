"""early-warning thresholds, versioned

Revision ID: 0021
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

revision = '0021'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('warning_threshold_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thresholds', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_threshold_versions'))
    )


def downgrade() -> None:
    op.drop_table('warning_threshold_versions')
