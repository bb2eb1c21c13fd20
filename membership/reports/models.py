"""The running totals reports read instead of every donation (kept by `kept`)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from membership.extensions import db
from membership.types import UTCDateTime

# Gaps this short are not kept: periods up to this long (four weeks) count donors by
# reading their donations, longer ones (a month and more) from spans and gaps.
LONG_GAP = timedelta(days=27)


class DonorGap(db.Model):
    """A stretch longer than LONG_GAP between two consecutive donations of one donor.

    A donor gave in a period [a, b) longer than LONG_GAP exactly when their first
    donation is before b, their last is at or after a, and no kept gap runs from before a
    to b or later: so donors in a year or three are counted from the donors and these
    gaps, not from every donation."""

    __tablename__ = "donor_gaps"
    __table_args__ = (Index("ix_donor_gaps_ends", "to_at", "from_at"),
                      Index("ix_donor_gaps_starts", "from_at", "to_at"))

    donor_id: Mapped[int] = mapped_column(ForeignKey("donors.id"), primary_key=True)
    from_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    to_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DailyTotal(db.Model):
    """Donations of one UTC day, one currency, one frequency and one campaign ("" for
    none), summed as they are recorded and as refunds and disputes change them, so that
    reports read a few rows a day instead of every donation."""

    __tablename__ = "donation_daily_totals"

    day: Mapped[date] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    frequency: Mapped[str] = mapped_column(String(10), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(100), primary_key=True, default="")
    donations: Mapped[int] = mapped_column(default=0)
    gross_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    net_cents: Mapped[int] = mapped_column(BigInteger, default=0)  # after refunds, lost disputes


class SettledDailyTotal(db.Model):
    """The donations of one UTC day and one campaign ("" for none), whatever currency they
    were given in, as Stripe settled them in one currency of the account: kept like
    DailyTotal, as balance transactions, refunds and disputes arrive."""

    __tablename__ = "settled_daily_totals"

    day: Mapped[date] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)  # the settlement's
    campaign: Mapped[str] = mapped_column(String(100), primary_key=True, default="")
    donations: Mapped[int] = mapped_column(default=0)  # settled ones
    gross_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    kept_cents: Mapped[int] = mapped_column(BigInteger, default=0)  # settled_kept_cents


class DonorYear(db.Model):
    """That a donor gave in a UTC calendar year, in one currency: how many of their
    donations of the year in it count (are worth something now: not wholly refunded, not
    lost to a dispute) and what they are worth (`net_cents`). A row exists only while one
    or more count, so retention and the giving figures read these rows, a few per donor,
    instead of every donation."""

    __tablename__ = "donor_years"
    __table_args__ = (Index("ix_donor_years_year_donor", "year", "donor_id"),)

    donor_id: Mapped[int] = mapped_column(ForeignKey("donors.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    gifts: Mapped[int] = mapped_column(default=0)
    net_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class RetentionYear(db.Model):
    """One UTC year's counts retention is made of, kept as donors start and stop having
    given in a year (see DonorYear): how many gave in it, how many of those also gave
    the year before, and how many gave for the first time (their first counted year)."""

    __tablename__ = "retention_years"

    year: Mapped[int] = mapped_column(primary_key=True)
    donors: Mapped[int] = mapped_column(default=0)
    retained: Mapped[int] = mapped_column(default=0)
    new_donors: Mapped[int] = mapped_column(default=0)


class ReportSnapshot(db.Model):
    """A report's figures as computed at `computed_at`, for pages whose figures take
    longer to count than a page may take (see reports.snapshots)."""

    __tablename__ = "report_snapshots"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[dict] = mapped_column(JSON)


class GiftMonth(db.Model):
    """That a recurring gift was paid in a UTC month (its first day): how many of its
    donations of the month count. Kept like DonorYear, for the cohorts of monthly gifts."""

    __tablename__ = "gift_months"
    __table_args__ = (Index("ix_gift_months_month_gift", "month", "recurring_gift_id"),)

    recurring_gift_id: Mapped[int] = mapped_column(ForeignKey("recurring_gifts.id"),
                                                   primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)
    gifts: Mapped[int] = mapped_column(default=0)


class DonorActivity(db.Model):
    """That a donor gave in a week (from Monday) or a month, UTC: one row however many
    gifts, so the dashboard counts each period's donors without reading its donations."""

    __tablename__ = "donor_activity"
    __table_args__ = (Index("ix_donor_activity_period_starts", "period", "starts"),)

    donor_id: Mapped[int] = mapped_column(ForeignKey("donors.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(5), primary_key=True)  # "week" or "month"
    starts: Mapped[date] = mapped_column(primary_key=True)
