"""Donations and charges keep their balance transaction: the amount and fee in the
Stripe account's settlement currency, and the settled daily totals

Revision ID: a198505ec4ef
Revises: 5d8c9fd44ab8
Create Date: 2026-12-01 12:00:12.243177

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a198505ec4ef'
down_revision = '5d8c9fd44ab8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'settled_daily_totals',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('campaign', sa.String(length=100), nullable=False),
        sa.Column('donations', sa.Integer(), nullable=False),
        sa.Column('gross_cents', sa.BigInteger(), nullable=False),
        sa.Column('fee_cents', sa.BigInteger(), nullable=False),
        sa.Column('kept_cents', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'currency', 'campaign',
                                name=op.f('pk_settled_daily_totals')),
    )
    with op.batch_alter_table('charge_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_balance_transaction_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('settled_currency', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('settled_amount_cents', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('settled_fee_cents', sa.BigInteger(), nullable=True))

    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settled_currency', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('settled_amount_cents', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('settled_fee_cents', sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_column('settled_fee_cents')
        batch_op.drop_column('settled_amount_cents')
        batch_op.drop_column('settled_currency')

    with op.batch_alter_table('charge_states', schema=None) as batch_op:
        batch_op.drop_column('settled_fee_cents')
        batch_op.drop_column('settled_amount_cents')
        batch_op.drop_column('settled_currency')
        batch_op.drop_column('stripe_balance_transaction_id')

    op.drop_table('settled_daily_totals')
