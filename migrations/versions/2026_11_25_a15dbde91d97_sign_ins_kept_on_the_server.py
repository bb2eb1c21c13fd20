"""Sign-ins kept on the server, subscriber links by a public id

Revision ID: a15dbde91d97
Revises: 770badc40630
Create Date: 2026-11-25 08:01:31.360948

"""
import secrets

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a15dbde91d97'
down_revision = '770badc40630'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_login_sessions_token_hash'))
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_sessions_user_id'), ['user_id'], unique=False)

    # Existing subscribers get their random public id before the column becomes required;
    # links mailed before this revision named the row id and stop working (a new mail
    # carries a new link).
    with op.batch_alter_table('newsletter_subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=32), nullable=True))
    subscribers = sa.table('newsletter_subscribers', sa.column('id', sa.Integer),
                           sa.column('public_id', sa.String))
    connection = op.get_bind()
    for (subscriber_id,) in connection.execute(sa.select(subscribers.c.id)).all():
        connection.execute(subscribers.update().where(subscribers.c.id == subscriber_id)
                           .values(public_id=secrets.token_urlsafe(16)))
    with op.batch_alter_table('newsletter_subscribers', schema=None) as batch_op:
        batch_op.alter_column('public_id', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_newsletter_subscribers_public_id'), ['public_id'])


def downgrade():
    with op.batch_alter_table('newsletter_subscribers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_newsletter_subscribers_public_id'), type_='unique')
        batch_op.drop_column('public_id')

    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_user_id'))

    op.drop_table('login_sessions')
