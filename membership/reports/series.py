"""The dashboard's series: gross, MRR, new and returning donors and failed payments per
day, week or month of the window (see `summary` for the definitions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import func, or_, select

from membership.campaigns.models import Campaign
from membership.donations.models import (
    NEVER_PAID_STATUSES,
    Donation,
    Donor,
    Frequency,
    PaymentFailure,
    RecurringGift,
)
from membership.extensions import db
from membership.reports.models import DonorActivity
from membership.reports.summary import in_window, kept_totals
from membership.reports.windows import (
    Window,
    following,
    period_for,
    period_start,
    periods,
    reporting_currency,
)
from membership.sql import utc_day, utc_period


@dataclass(frozen=True)
class Point:
    """One period of the dashboard: its first day and its figures by name."""

    start: date
    values: dict[str, int]


def dashboard_series(window: Window, campaign: Campaign | None = None) -> dict[str, list]:
    period = period_for(window)
    starts = periods(window, period)
    currency = reporting_currency()
    gross: dict[date, dict[str, int]] = {s: {"one_time": 0, "recurring": 0} for s in starts}
    for row in kept_totals(window, campaign, by_day=True):
        if row.currency == currency:
            kind = "one_time" if row.frequency == Frequency.ONCE else "recurring"
            gross[period_start(row.day, period)][kind] += row.gross_cents
    donors = _donors_by_period(window, period, campaign)
    failures = _failures_by_period(window, period, campaign)
    ends = [min(datetime.combine(following(start, period), time.min, UTC), window.ends)
            for start in starts]
    mrr = _mrr_at(ends, currency, campaign)
    return {
        "period": period,
        "gross": [Point(s, gross[s]) for s in starts],
        "mrr": [Point(s, {"mrr": value}) for s, value in zip(starts, mrr, strict=True)],
        "donors": [Point(s, donors.get(s, {"new": 0, "returning": 0})) for s in starts],
        "failed": [Point(s, {"failed": failures.get(s, 0)}) for s in starts],
    }


def _donors_by_period(window: Window, period: str,
                      campaign: Campaign | None) -> dict[date, dict[str, int]]:
    """New and returning donors per period. Weeks and months are read from the kept
    activity rows and count whole periods (the first and last may reach past the
    window); days are counted from the donations (a day's donors are few); a campaign's
    donors too, new ones being those whose first gift ever was in the period."""
    dialect = db.session.get_bind().dialect.name
    if campaign is not None:
        bucket = utc_period(Donation.created_at, period, dialect).label("bucket")
        first = utc_period(Donor.first_donation_at, period, dialect)
        rows = db.session.execute(
            select(bucket, func.count(Donation.donor_id.distinct()),
                   func.count(Donation.donor_id.distinct()).filter(first == bucket))
            .join(Donor, Donor.id == Donation.donor_id)
            .where(*in_window(window, campaign)).group_by(bucket))
        return {start: {"new": new, "returning": everyone - new}
                for start, everyone, new in rows}
    first_start = period_start(window.start, period)
    if period == "day":
        bucket = utc_period(Donation.created_at, period, dialect).label("bucket")
        active = dict(db.session.execute(
            select(bucket, func.count(Donation.donor_id.distinct()))
            .where(*in_window(window, None)).group_by(bucket)).all())
    else:
        active = dict(db.session.execute(
            select(DonorActivity.starts, func.count()).where(
                DonorActivity.period == period, DonorActivity.starts >= first_start,
                DonorActivity.starts <= window.end).group_by(DonorActivity.starts)).all())
    # Whoever gave for the first time ever in a period gave in it.
    bucket = utc_period(Donor.first_donation_at, period, dialect).label("bucket")
    new = dict(db.session.execute(
        select(bucket, func.count()).where(
            Donor.first_donation_at >= datetime.combine(first_start, time.min, UTC),
            Donor.first_donation_at < datetime.combine(
                following(period_start(window.end, period), period), time.min, UTC),
        ).group_by(bucket)).all())
    return {start: {"new": new.get(start, 0), "returning": count - new.get(start, 0)}
            for start, count in active.items()}


def _failures_by_period(window: Window, period: str,
                        campaign: Campaign | None) -> dict[date, int]:
    bucket = utc_period(PaymentFailure.created_at, period,
                        db.session.get_bind().dialect.name).label("bucket")
    query = select(bucket, func.count()).where(
        PaymentFailure.created_at >= window.begins, PaymentFailure.created_at < window.ends)
    if campaign is not None:
        query = query.join(RecurringGift).where(RecurringGift.campaign == campaign.slug)
    return dict(db.session.execute(query.group_by(bucket)).all())


def _mrr_at(moments: list[datetime], currency: str, campaign: Campaign | None) -> list[int]:
    """MRR at each moment (each a UTC midnight): a gift counts from its start until it
    ends. The database sums what starts and what ends on each UTC day, a few hundred rows
    however many gifts; the running total at a midnight is what started, less what
    ended, on the days before it."""
    dialect = db.session.get_bind().dialect.name
    counted = [RecurringGift.currency == currency,
               RecurringGift.status.not_in(NEVER_PAID_STATUSES),
               RecurringGift.started_at < max(moments),
               # Not bringing money in, and never will: paused, unpaid, or canceled
               # before it ran.
               or_(RecurringGift.ended_at.is_not(None), RecurringGift.is_collecting)]
    if campaign is not None:
        counted.append(RecurringGift.campaign == campaign.slug)
    started = utc_day(RecurringGift.started_at, dialect)
    ended = utc_day(RecurringGift.ended_at, dialect)
    changes = [*db.session.execute(select(started, func.sum(RecurringGift.monthly_cents))
                                   .where(*counted).group_by(started)),
               *((day, -value) for day, value in db.session.execute(
                   select(ended, func.sum(RecurringGift.monthly_cents))
                   .where(*counted, RecurringGift.ended_at.is_not(None)).group_by(ended)))]
    changes.sort(key=lambda change: change[0])
    totals, running, index = {}, 0, 0
    for moment in sorted(moments):
        while index < len(changes) and changes[index][0] < moment.date():
            running += int(changes[index][1])
            index += 1
        totals[moment] = running
    return [totals[moment] for moment in moments]
