"""Recurring gifts keep Stripe's reason for their end (cancellation_details.reason)

Revision ID: 5d8c9fd44ab8
Revises: a49a5e3a5a59
Create Date: 2026-12-01 11:47:08.344467

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5d8c9fd44ab8'
down_revision = 'a49a5e3a5a59'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('recurring_gifts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_because', sa.String(length=32), nullable=True))


def downgrade():
    # ALTER TABLE … DROP COLUMN (SQLite 3.35 and later), not a batch rebuild of a table
    # that donations and payment failures refer to.
    op.drop_column('recurring_gifts', 'ended_because')
