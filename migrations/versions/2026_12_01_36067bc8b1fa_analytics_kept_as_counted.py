"""The analytics of a year kept as counted, for the page to show at once; donations
indexed by time with their donor

Revision ID: 36067bc8b1fa
Revises: f7827e912569
Create Date: 2026-12-01 12:34:16.726717

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '36067bc8b1fa'
down_revision = 'f7827e912569'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_donations_created_at', table_name='donations')
    op.create_index('ix_donations_created_at_donor', 'donations', ['created_at', 'donor_id'])
    op.create_table('report_snapshots',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('name', 'year', name=op.f('pk_report_snapshots'))
    )

def downgrade():
    op.drop_index('ix_donations_created_at_donor', table_name='donations')
    op.create_index('ix_donations_created_at', 'donations', ['created_at'])
    op.drop_table('report_snapshots')