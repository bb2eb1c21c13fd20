"""outbox keeps template values, renders on delivery

Revision ID: ec8e42b420e4
Revises: 6270b10d82a2
Create Date: 2026-11-24 20:37:22.445184

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ec8e42b420e4'
down_revision = '6270b10d82a2'
branch_labels = None
depends_on = None


def upgrade():
    # Messages written before this revision already have their bodies; '{}' fills them in.
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('context', sa.JSON(), nullable=False,
                                      server_default='{}'))
        batch_op.alter_column('text_body',
               existing_type=sa.TEXT(),
               nullable=True)
        batch_op.alter_column('html_body',
               existing_type=sa.TEXT(),
               nullable=True)
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.alter_column('context', server_default=None)


def downgrade():
    # Bodies not rendered yet cannot be recovered without the templates; keep them empty.
    op.execute("UPDATE mail_outbox SET text_body = '', html_body = '' WHERE text_body IS NULL")
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.alter_column('html_body',
               existing_type=sa.TEXT(),
               nullable=False)
        batch_op.alter_column('text_body',
               existing_type=sa.TEXT(),
               nullable=False)
        batch_op.drop_column('context')

