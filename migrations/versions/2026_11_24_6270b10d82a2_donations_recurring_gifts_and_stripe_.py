"""donations, recurring gifts and stripe events

Revision ID: 6270b10d82a2
Revises: a31f2f33657f
Create Date: 2026-11-24 19:29:33.415279

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6270b10d82a2'
down_revision = 'a31f2f33657f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('charge_states',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_charge_id', sa.String(length=255), nullable=False),
    sa.Column('stripe_payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('amount_refunded', sa.Integer(), nullable=False),
    sa.Column('dispute_status', sa.String(length=32), nullable=True),
    sa.Column('dispute_as_of', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_charge_states')),
    sa.UniqueConstraint('stripe_charge_id', name=op.f('uq_charge_states_stripe_charge_id'))
    )
    with op.batch_alter_table('charge_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_charge_states_stripe_payment_intent_id'), ['stripe_payment_intent_id'], unique=False)

    op.create_table('stripe_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('api_version', sa.String(length=40), nullable=True),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events')),
    sa.UniqueConstraint('stripe_id', name=op.f('uq_stripe_events_stripe_id'))
    )
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.create_index('ix_stripe_events_status_created', ['status', 'created'], unique=False)
        batch_op.create_index(batch_op.f('ix_stripe_events_type'), ['type'], unique=False)

    op.create_table('donors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_donors_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_donors')),
    sa.UniqueConstraint('email', name=op.f('uq_donors_email')),
    sa.UniqueConstraint('stripe_customer_id', name=op.f('uq_donors_stripe_customer_id'))
    )
    with op.batch_alter_table('donors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_donors_user_id'), ['user_id'], unique=False)

    op.create_table('checkouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('donor_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stripe_session_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('fee_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('campaign', sa.String(length=100), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('dedication_kind', sa.String(length=20), nullable=True),
    sa.Column('dedication_name', sa.String(length=200), nullable=True),
    sa.Column('dedication_message', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['donor_id'], ['donors.id'], name=op.f('fk_checkouts_donor_id_donors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkouts')),
    sa.UniqueConstraint('public_id', name=op.f('uq_checkouts_public_id')),
    sa.UniqueConstraint('stripe_session_id', name=op.f('uq_checkouts_stripe_session_id'))
    )
    with op.batch_alter_table('checkouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkouts_campaign'), ['campaign'], unique=False)
        batch_op.create_index(batch_op.f('ix_checkouts_donor_id'), ['donor_id'], unique=False)

    op.create_table('recurring_gifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('donor_id', sa.Integer(), nullable=False),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('state_as_of', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_as_of', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('fee_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('campaign', sa.String(length=100), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('dedication_kind', sa.String(length=20), nullable=True),
    sa.Column('dedication_name', sa.String(length=200), nullable=True),
    sa.Column('dedication_message', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['donor_id'], ['donors.id'], name=op.f('fk_recurring_gifts_donor_id_donors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recurring_gifts')),
    sa.UniqueConstraint('stripe_subscription_id', name=op.f('uq_recurring_gifts_stripe_subscription_id'))
    )
    with op.batch_alter_table('recurring_gifts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recurring_gifts_campaign'), ['campaign'], unique=False)
        batch_op.create_index(batch_op.f('ix_recurring_gifts_donor_id'), ['donor_id'], unique=False)

    op.create_table('donations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('donor_id', sa.Integer(), nullable=False),
    sa.Column('recurring_gift_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('refunded_cents', sa.Integer(), nullable=False),
    sa.Column('dispute_status', sa.String(length=32), nullable=True),
    sa.Column('billing_reason', sa.String(length=40), nullable=True),
    sa.Column('stripe_checkout_session_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_invoice_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_charge_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('fee_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('campaign', sa.String(length=100), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('dedication_kind', sa.String(length=20), nullable=True),
    sa.Column('dedication_name', sa.String(length=200), nullable=True),
    sa.Column('dedication_message', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['donor_id'], ['donors.id'], name=op.f('fk_donations_donor_id_donors')),
    sa.ForeignKeyConstraint(['recurring_gift_id'], ['recurring_gifts.id'], name=op.f('fk_donations_recurring_gift_id_recurring_gifts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_donations')),
    sa.UniqueConstraint('stripe_charge_id', name=op.f('uq_donations_stripe_charge_id')),
    sa.UniqueConstraint('stripe_checkout_session_id', name=op.f('uq_donations_stripe_checkout_session_id')),
    sa.UniqueConstraint('stripe_invoice_id', name=op.f('uq_donations_stripe_invoice_id')),
    sa.UniqueConstraint('stripe_payment_intent_id', name=op.f('uq_donations_stripe_payment_intent_id'))
    )
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_donations_campaign'), ['campaign'], unique=False)
        batch_op.create_index('ix_donations_created_at', ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_donations_donor_id'), ['donor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_donations_recurring_gift_id'), ['recurring_gift_id'], unique=False)

    op.create_table('payment_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recurring_gift_id', sa.Integer(), nullable=False),
    sa.Column('stripe_invoice_id', sa.String(length=255), nullable=False),
    sa.Column('attempt_count', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recurring_gift_id'], ['recurring_gifts.id'], name=op.f('fk_payment_failures_recurring_gift_id_recurring_gifts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_failures')),
    sa.UniqueConstraint('stripe_invoice_id', 'attempt_count', name=op.f('uq_payment_failures_stripe_invoice_id'))
    )
    with op.batch_alter_table('payment_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_failures_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_failures_recurring_gift_id'), ['recurring_gift_id'], unique=False)



def downgrade():
    with op.batch_alter_table('payment_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_failures_recurring_gift_id'))
        batch_op.drop_index(batch_op.f('ix_payment_failures_created_at'))

    op.drop_table('payment_failures')
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_donations_recurring_gift_id'))
        batch_op.drop_index(batch_op.f('ix_donations_donor_id'))
        batch_op.drop_index('ix_donations_created_at')
        batch_op.drop_index(batch_op.f('ix_donations_campaign'))

    op.drop_table('donations')
    with op.batch_alter_table('recurring_gifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recurring_gifts_donor_id'))
        batch_op.drop_index(batch_op.f('ix_recurring_gifts_campaign'))

    op.drop_table('recurring_gifts')
    with op.batch_alter_table('checkouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkouts_donor_id'))
        batch_op.drop_index(batch_op.f('ix_checkouts_campaign'))

    op.drop_table('checkouts')
    with op.batch_alter_table('donors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_donors_user_id'))

    op.drop_table('donors')
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stripe_events_type'))
        batch_op.drop_index('ix_stripe_events_status_created')

    op.drop_table('stripe_events')
    with op.batch_alter_table('charge_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_charge_states_stripe_payment_intent_id'))

    op.drop_table('charge_states')
