"""A recurring gift's signed links: the version raised to disable every link sent so far

Revision ID: e66671002661
Revises: 110c3b1a4db6
Create Date: 2026-12-01 15:48:05.875438

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e66671002661'
down_revision = '110c3b1a4db6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('recurring_gifts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('manage_version', sa.Integer(), server_default='0', nullable=False))



def downgrade():
    with op.batch_alter_table('recurring_gifts', schema=None) as batch_op:
        batch_op.drop_column('manage_version')

