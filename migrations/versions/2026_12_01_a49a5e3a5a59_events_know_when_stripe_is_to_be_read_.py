"""Events applied from their own copy know when Stripe is to be read again

Revision ID: a49a5e3a5a59
Revises: 742e94dd04ed
Create Date: 2026-12-01 10:22:58.233167

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a49a5e3a5a59'
down_revision = '742e94dd04ed'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('read_again_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_stripe_events_read_again_at', ['read_again_at'], unique=False)


def downgrade():
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_index('ix_stripe_events_read_again_at')
        batch_op.drop_column('read_again_at')
