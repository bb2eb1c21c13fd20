"""Languages: the one a reader chose (account), a subscriber and a donor last used, the one
each mail is written in, and the language of the consent wording a subscriber saw

Revision ID: 53ac7440ec79
Revises: 36067bc8b1fa
Create Date: 2026-12-01 15:15:51.339071

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '53ac7440ec79'
down_revision = '36067bc8b1fa'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('donors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))

    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), server_default='en', nullable=False))

    with op.batch_alter_table('newsletter_subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_language', sa.String(length=8), server_default='en', nullable=False))
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('language')

    with op.batch_alter_table('newsletter_subscribers', schema=None) as batch_op:
        batch_op.drop_column('language')
        batch_op.drop_column('consent_language')

    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_column('language')

    with op.batch_alter_table('donors', schema=None) as batch_op:
        batch_op.drop_column('language')

