"""Recurring gifts know their card and why they were cancelled; failed tries when Stripe tries
again; mail knows what it is about; statements sent; a tribute card's address until sent

Revision ID: 7f4ddc8a091a
Revises: e66671002661
Create Date: 2026-12-01 17:35:38.382760

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7f4ddc8a091a'
down_revision = 'e66671002661'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sent_statements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('donor_id', sa.Integer(), nullable=False),
    sa.Column('fiscal_year', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['donor_id'], ['donors.id'], name=op.f('fk_sent_statements_donor_id_donors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_statements')),
    sa.UniqueConstraint('donor_id', 'fiscal_year', name=op.f('uq_sent_statements_donor_id'))
    )
    with op.batch_alter_table('checkouts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('honoree_email', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('honoree_notified_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('about', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_mail_outbox_about'), ['about'], unique=False)

    with op.batch_alter_table('payment_failures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('recurring_gifts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancel_feedback', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('stripe_payment_method_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('card_brand', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('card_last4', sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column('card_exp_month', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('card_exp_year', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('card_as_of', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('card_reminded_for', sa.String(length=300), nullable=True))
        batch_op.create_index(batch_op.f('ix_recurring_gifts_stripe_payment_method_id'), ['stripe_payment_method_id'], unique=False)



def downgrade():
    with op.batch_alter_table('recurring_gifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recurring_gifts_stripe_payment_method_id'))
        batch_op.drop_column('card_reminded_for')
        batch_op.drop_column('card_as_of')
        batch_op.drop_column('card_exp_year')
        batch_op.drop_column('card_exp_month')
        batch_op.drop_column('card_last4')
        batch_op.drop_column('card_brand')
        batch_op.drop_column('stripe_payment_method_id')
        batch_op.drop_column('cancel_feedback')

    with op.batch_alter_table('payment_failures', schema=None) as batch_op:
        batch_op.drop_column('next_attempt_at')

    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_outbox_about'))
        batch_op.drop_column('about')

    with op.batch_alter_table('checkouts', schema=None) as batch_op:
        batch_op.drop_column('honoree_notified_at')
        batch_op.drop_column('honoree_email')

    op.drop_table('sent_statements')
