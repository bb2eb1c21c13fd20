"""recurring gift may wait for its donor

Revision ID: 726f5288a6b4
Revises: ec8e42b420e4
Create Date: 2026-11-24 20:50:03.373829

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '726f5288a6b4'
down_revision = 'ec8e42b420e4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('recurring_gifts', schema=None) as batch_op:
        batch_op.alter_column('donor_id',
               existing_type=sa.INTEGER(),
               nullable=True)


def downgrade():
    # Refused by the database while a gift still waits for its donor.
    with op.batch_alter_table('recurring_gifts', schema=None) as batch_op:
        batch_op.alter_column('donor_id',
               existing_type=sa.INTEGER(),
               nullable=False)

