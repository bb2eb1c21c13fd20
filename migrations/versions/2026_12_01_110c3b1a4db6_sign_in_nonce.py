"""Sign-in by e-mailed link: the nonce of the one link that works, cleared when used

Revision ID: 110c3b1a4db6
Revises: 53ac7440ec79
Create Date: 2026-12-01 15:34:19.944030

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '110c3b1a4db6'
down_revision = '53ac7440ec79'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sign_in_nonce', sa.String(length=32), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('sign_in_nonce')

