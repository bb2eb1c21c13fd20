"""Recurring gifts know a scheduled end and paused collection; refunds kept one by one

Revision ID: 742e94dd04ed
Revises: a15dbde91d97
Create Date: 2026-12-01 07:36:43.286635

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '742e94dd04ed'
down_revision = 'a15dbde91d97'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('charge_refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_refund_id', sa.String(length=255), nullable=False),
    sa.Column('stripe_charge_id', sa.String(length=255), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_charge_refunds')),
    sa.UniqueConstraint('stripe_refund_id', name=op.f('uq_charge_refunds_stripe_refund_id'))
    )
    with op.batch_alter_table('charge_refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_charge_refunds_stripe_charge_id'), ['stripe_charge_id'], unique=False)

    with op.batch_alter_table('charge_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refunded_as_of', sa.DateTime(timezone=True), nullable=True))

    # Existing gifts are collecting: the default fills them in, then goes (the models set it).
    with op.batch_alter_table('recurring_gifts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancel_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('collection_paused', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('collection_resumes_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('recurring_gifts', schema=None) as batch_op:
        batch_op.alter_column('collection_paused', server_default=None)



def downgrade():
    with op.batch_alter_table('recurring_gifts', schema=None) as batch_op:
        batch_op.drop_column('collection_resumes_at')
        batch_op.drop_column('collection_paused')
        batch_op.drop_column('cancel_at')

    with op.batch_alter_table('charge_states', schema=None) as batch_op:
        batch_op.drop_column('refunded_as_of')

    with op.batch_alter_table('charge_refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_charge_refunds_stripe_charge_id'))

    op.drop_table('charge_refunds')
