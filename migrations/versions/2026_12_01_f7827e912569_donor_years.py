"""Kept for the retention and giving figures: donor-years (who gave in which UTC year and
currency, in donations that count, and what those are worth), each donor's first such
year and the counts of each year's retention, the months each recurring gift was paid in and its first payment; all filled from
the donations already recorded

Revision ID: f7827e912569
Revises: a198505ec4ef
Create Date: 2026-12-01 12:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f7827e912569'
down_revision = 'a198505ec4ef'
branch_labels = None
depends_on = None

# A donation counts while it is worth something (Donation.net_cents > 0).
NET = ("CASE WHEN dispute_status IN ('lost', 'appeal_needs_response', "
       "'appeal_under_review') THEN 0 ELSE amount_cents - refunded_cents END")
YEAR = {"postgresql": "CAST(EXTRACT(YEAR FROM created_at AT TIME ZONE 'UTC') AS INTEGER)",
        "sqlite": "CAST(substr(created_at, 1, 4) AS INTEGER)"}
MONTH = {"postgresql": "DATE(DATE_TRUNC('month', created_at AT TIME ZONE 'UTC'))",
         "sqlite": "DATE(created_at, 'start of month')"}


def upgrade():
    op.create_table(
        'donor_years',
        sa.Column('donor_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('gifts', sa.Integer(), nullable=False),
        sa.Column('net_cents', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['donor_id'], ['donors.id'],
                                name=op.f('fk_donor_years_donor_id_donors')),
        sa.PrimaryKeyConstraint('donor_id', 'year', 'currency', name=op.f('pk_donor_years')),
    )
    op.create_index('ix_donor_years_year_donor', 'donor_years', ['year', 'donor_id'])
    op.create_table(
        'retention_years',
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('donors', sa.Integer(), nullable=False),
        sa.Column('retained', sa.Integer(), nullable=False),
        sa.Column('new_donors', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('year', name=op.f('pk_retention_years')),
    )
    op.create_table(
        'gift_months',
        sa.Column('recurring_gift_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('gifts', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['recurring_gift_id'], ['recurring_gifts.id'],
                                name=op.f('fk_gift_months_recurring_gift_id_recurring_gifts')),
        sa.PrimaryKeyConstraint('recurring_gift_id', 'month', name=op.f('pk_gift_months')),
    )
    op.create_index('ix_gift_months_month_gift', 'gift_months', ['month', 'recurring_gift_id'])
    # Plain ALTER TABLE … ADD COLUMN: no batch rebuild of tables others refer to.
    op.add_column('donors', sa.Column('first_counted_year', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_donors_first_counted_year'), 'donors', ['first_counted_year'])
    op.add_column('recurring_gifts', sa.Column('first_paid_at', sa.DateTime(timezone=True),
                                               nullable=True))
    op.create_index(op.f('ix_recurring_gifts_first_paid_at'), 'recurring_gifts',
                    ['first_paid_at'])

    dialect = op.get_bind().dialect.name
    year, month = YEAR[dialect], MONTH[dialect]
    op.execute(f"INSERT INTO donor_years (donor_id, year, currency, gifts, net_cents) "
               f"SELECT donor_id, {year}, currency, COUNT(*), SUM({NET}) FROM donations "
               f"WHERE {NET} > 0 GROUP BY donor_id, {year}, currency")
    op.execute("UPDATE donors SET first_counted_year = (SELECT MIN(year) FROM donor_years "
               "WHERE donor_years.donor_id = donors.id)")
    op.execute(
        "INSERT INTO retention_years (year, donors, retained, new_donors) "
        "SELECT y.year, y.donors, COALESCE(r.retained, 0), COALESCE(n.new_donors, 0) FROM "
        "(SELECT year, COUNT(DISTINCT donor_id) AS donors FROM donor_years GROUP BY year) y "
        "LEFT JOIN (SELECT a.year, COUNT(DISTINCT a.donor_id) AS retained "
        "  FROM donor_years a JOIN donor_years b "
        "  ON b.donor_id = a.donor_id AND b.year = a.year - 1 GROUP BY a.year) r "
        "ON r.year = y.year "
        "LEFT JOIN (SELECT first_counted_year AS year, COUNT(*) AS new_donors FROM donors "
        "  WHERE first_counted_year IS NOT NULL GROUP BY first_counted_year) n "
        "ON n.year = y.year")
    op.execute(f"INSERT INTO gift_months (recurring_gift_id, month, gifts) "
               f"SELECT recurring_gift_id, {month}, COUNT(*) FROM donations "
               f"WHERE {NET} > 0 AND recurring_gift_id IS NOT NULL "
               f"GROUP BY recurring_gift_id, {month}")
    op.execute("UPDATE recurring_gifts SET first_paid_at = (SELECT MIN(created_at) FROM "
               "donations WHERE donations.recurring_gift_id = recurring_gifts.id)")


def downgrade():
    op.drop_table('retention_years')
    op.drop_index('ix_gift_months_month_gift', table_name='gift_months')
    op.drop_table('gift_months')
    op.drop_index('ix_donor_years_year_donor', table_name='donor_years')
    op.drop_table('donor_years')
    # ALTER TABLE … DROP COLUMN (SQLite 3.35 and later) rather than a batch rebuild of
    # tables the others refer to, which they would refuse once they hold rows.
    op.drop_index(op.f('ix_recurring_gifts_first_paid_at'), table_name='recurring_gifts')
    op.drop_column('recurring_gifts', 'first_paid_at')
    op.drop_index(op.f('ix_donors_first_counted_year'), table_name='donors')
    op.drop_column('donors', 'first_counted_year')
