"""Donation reports for staff: the contract's summary and the dashboard's series.

Sums come from the daily totals kept as each donation, refund and dispute is recorded
(donations.models.DailyTotal), so their cost grows with the number of days in the window,
not the number of gifts. Counts of distinct donors come from the donations themselves,
through indexes that serve them.

Definitions (shown on the dashboard too):
- gross: every donation recorded in the window, in the reporting currency;
- refunded: what went back to donors on those donations, by refund or lost dispute;
- net: gross - refunded;
- donors: the people who gave in the window, in any currency, each counted once; new
  donors: those whose first donation ever was in the window;
- active recurring gifts: monthly or yearly gifts running at the end of the window (paid
  at least once, not ended; a gift whose card failed stays active while Stripe retries);
- MRR: their monthly value, a yearly gift counting a twelfth (rounded);
- failed payments: declined charges of recurring gifts in the window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import BigInteger, and_, case, cast, func, or_, select

from membership.campaigns.models import AMOUNT_GOAL, Campaign
from membership.donations.models import (
    LONG_GAP,
    DailyTotal,
    Donation,
    Donor,
    DonorActivity,
    DonorGap,
    Frequency,
    PaymentFailure,
    RecurringGift,
)
from membership.extensions import db
from membership.reports.exports import spreadsheet_safe, stream_csv
from membership.sql import utc_iso_text, utc_period
from membership.types import parse_iso_day

NEVER_PAID = ("incomplete", "incomplete_expired")  # Stripe's states of an unpaid first invoice


class ReportError(ValueError):
    """A report was asked for with parameters that make no sense; the message says why."""


@dataclass(frozen=True)
class Window:
    """Whole UTC days, `start` to `end` inclusive."""

    start: date
    end: date

    @property
    def begins(self) -> datetime:
        return datetime.combine(self.start, time.min, UTC)

    @property
    def ends(self) -> datetime:  # exclusive: midnight after the last day
        return datetime.combine(self.end + timedelta(days=1), time.min, UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


# Reports cover the years gifts can have been given in; outside them a day is a typo, and
# at the calendar's ends a window's exclusive end would overflow.
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(2999, 12, 31)


def parse_day(text: str, name: str) -> date:
    try:
        day = parse_iso_day(text)
    except ValueError as error:
        raise ReportError(f"{name} must be a date written YYYY-MM-DD, not {text!r}") from error
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ReportError(f"{name} must be between {EARLIEST_DAY} and {LATEST_DAY}, not {text}")
    return day


def window_from(start: str | None, end: str | None, today: date) -> Window:
    """The window from `start`/`end` query values; missing ones default to the 30 days
    up to today."""
    end_day = parse_day(end, "end") if end else today
    start_day = parse_day(start, "start") if start else end_day - timedelta(days=29)
    if start_day > end_day:
        raise ReportError(f"start ({start_day}) is after end ({end_day})")
    return Window(start_day, end_day)


def refuse_unknown(names, known: tuple[str, ...]) -> None:
    """A misspelt parameter (`stat=`, `campain=`) would silently report something else."""
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ReportError(f"unknown parameter {unknown[0]!r}; this report takes "
                          + ", ".join(known))


def campaign_named(slug: str | None) -> Campaign | None:
    if not slug:
        return None
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        raise ReportError(f"there is no campaign {slug!r}")
    return campaign


def reporting_currency() -> str:
    return current_app.config["DONATION_CURRENCIES"][0]


# The summary ------------------------------------------------------------------------------

def summary(window: Window, campaign: Campaign | None = None) -> dict:
    currency = reporting_currency()
    totals = _totals(window, campaign)
    mine = [row for row in totals if row.currency == currency]
    gross = sum(row.gross_cents for row in mine)
    net = sum(row.net_cents for row in mine)
    donors, new_donors = _donor_counts(window, campaign)
    active, mrr = _recurring_at(window.ends, currency, campaign)
    by_currency: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in totals:
        by_currency[row.currency][0] += row.gross_cents
        by_currency[row.currency][1] += row.donations
    return {
        "currency": currency,
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "gross_cents": gross,
        "refunded_cents": gross - net,
        "net_cents": net,
        "donations": sum(row.donations for row in mine),
        "donors": donors,
        "new_donors": new_donors,
        "one_time": _part(row for row in mine if row.frequency == Frequency.ONCE),
        "recurring": _part(row for row in mine if row.frequency != Frequency.ONCE),
        "active_recurring_gifts": active,
        "mrr_cents": mrr,
        "failed_payments": _failed_payments(window, campaign),
        "by_campaign": by_campaign(window, campaign),
        "by_currency": [{"currency": code, "gross_cents": gross_cents, "donations": count}
                        for code, (gross_cents, count) in sorted(by_currency.items())],
    }


def _part(rows) -> dict:
    rows = list(rows)
    return {"count": sum(row.donations for row in rows),
            "gross_cents": sum(row.gross_cents for row in rows)}


def _totals(window: Window, campaign: Campaign | None, by_day: bool = False) -> list:
    """The kept daily totals of the window summed per currency and frequency (and per day
    for the charts), in the database: a few rows come back, however long the window."""
    keys = [DailyTotal.currency, DailyTotal.frequency]
    if by_day:
        keys.insert(0, DailyTotal.day)
    # Cast: PostgreSQL sums BIGINTs as NUMERIC, which would reach JSON as strings.
    query = select(*keys, cast(func.sum(DailyTotal.donations), BigInteger).label("donations"),
                   cast(func.sum(DailyTotal.gross_cents), BigInteger).label("gross_cents"),
                   cast(func.sum(DailyTotal.net_cents), BigInteger).label("net_cents")).where(
        DailyTotal.day >= window.start, DailyTotal.day <= window.end).group_by(*keys)
    if campaign is not None:
        query = query.where(DailyTotal.campaign == campaign.slug)
    return db.session.execute(query).all()


def _in_window(window: Window, campaign: Campaign | None) -> list:
    """Donations made in the window (to the campaign, when given), in any currency."""
    conditions = [Donation.created_at >= window.begins, Donation.created_at < window.ends]
    if campaign is not None:
        conditions.append(Donation.campaign == campaign.slug)
    return conditions


def _donor_counts(window: Window, campaign: Campaign | None) -> tuple[int, int]:
    """The people who gave in the window (in any currency), and how many of them gave for
    the first time ever in it."""
    if campaign is not None:  # a campaign's gifts: few enough to read
        givers = select(Donation.donor_id).where(
            *_in_window(window, campaign)).distinct().subquery()
        first_in_window = Donor.first_donation_at >= window.begins
        donors, new = db.session.execute(
            select(func.count(), func.count(Donor.id).filter(first_in_window))
            .select_from(givers).join(Donor, Donor.id == givers.c.donor_id)).one()
        return donors, new
    if window.ends - window.begins > LONG_GAP:
        donors = _donors_from_spans(window)
    else:
        donors = db.session.scalar(select(func.count(Donation.donor_id.distinct())).where(
            *_in_window(window, None)))
    # Whoever gave for the first time in the window gave in it.
    new = db.session.scalar(select(func.count()).select_from(Donor).where(
        Donor.first_donation_at >= window.begins, Donor.first_donation_at < window.ends))
    return donors, new


def _donors_from_spans(window: Window) -> int:
    """Donors whose giving spans the window, less those with a gap across all of it
    (see donations.models.DonorGap): two index reads, however many donations."""
    spanning = db.session.scalar(select(func.count()).select_from(Donor).where(
        Donor.first_donation_at < window.ends, Donor.last_donation_at >= window.begins))
    skipped = db.session.scalar(select(func.count()).select_from(DonorGap).where(
        DonorGap.from_at < window.begins, DonorGap.to_at >= window.ends))
    return spanning - skipped


def _recurring_at(moment: datetime, currency: str,
                  campaign: Campaign | None) -> tuple[int, int]:
    """How many recurring gifts were running at `moment`, and their monthly value."""
    monthly = case((RecurringGift.frequency == Frequency.YEARLY,
                    (RecurringGift.amount_cents + 6) // 12),
                   else_=RecurringGift.amount_cents)
    query = select(func.count(), func.coalesce(func.sum(monthly), 0)).where(
        *_running_at(moment), RecurringGift.currency == currency)
    if campaign is not None:
        query = query.where(RecurringGift.campaign == campaign.slug)
    count, mrr = db.session.execute(query).one()
    return count, int(mrr)


def _running_at(moment: datetime) -> list:
    return [
        RecurringGift.started_at < moment,
        RecurringGift.status.not_in(NEVER_PAID),
        # Ended after the moment, or still running and collecting (the contract: not
        # paused, unpaid or incomplete; past_due counts while Stripe retries).
        or_(RecurringGift.ended_at >= moment,
            and_(RecurringGift.ended_at.is_(None), RecurringGift.is_collecting)),
    ]


def _failed_payments(window: Window, campaign: Campaign | None) -> int:
    query = select(func.count()).select_from(PaymentFailure).where(
        PaymentFailure.created_at >= window.begins, PaymentFailure.created_at < window.ends)
    if campaign is not None:
        query = query.join(RecurringGift).where(RecurringGift.campaign == campaign.slug)
    return db.session.scalar(query)


def by_campaign(window: Window, only: Campaign | None = None) -> list[dict]:
    """The campaigns that ran during the window, each with its progress toward its goal
    as its progress bar shows it (its kept totals: its currency, its dates, net)."""
    if only is not None:
        campaigns = [only]
    else:
        campaigns = db.session.scalars(select(Campaign).where(
            Campaign.starts_at < window.ends, Campaign.ends_at > window.begins,
        ).order_by(Campaign.starts_at)).all()
    return [{"slug": campaign.slug, "raised_cents": campaign.raised_cents,
             "goal_cents": campaign.goal if campaign.goal_type == AMOUNT_GOAL else None,
             "donations": campaign.donations, "donors": campaign.donors,
             "title": campaign.title, "currency": campaign.currency,
             "goal_donors": None if campaign.goal_type == AMOUNT_GOAL else campaign.goal}
            for campaign in campaigns]


# The dashboard's series -------------------------------------------------------------------

PERIODS = ("day", "week", "month")


def period_for(window: Window) -> str:
    """Bars of a day for up to two months, of a week for up to a year, else of a month."""
    if window.days <= 62:
        return "day"
    return "week" if window.days <= 366 else "month"


def period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def following(start: date, period: str) -> date:
    """The first day of the next period."""
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def periods(window: Window, period: str) -> list[date]:
    """The first days of the periods that cover the window."""
    starts = [period_start(window.start, period)]
    while following(starts[-1], period) <= window.end:
        starts.append(following(starts[-1], period))
    return starts


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
    for row in _totals(window, campaign, by_day=True):
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
    window); days, and a campaign's donors, are read from the donations."""
    dialect = db.session.get_bind().dialect.name
    if period == "day" or campaign is not None:
        bucket = utc_period(Donation.created_at, period, dialect).label("bucket")
        first = utc_period(Donor.first_donation_at, period, dialect)
        rows = db.session.execute(
            select(bucket, func.count(Donation.donor_id.distinct()),
                   func.count(Donation.donor_id.distinct()).filter(first == bucket))
            .join(Donor, Donor.id == Donation.donor_id)
            .where(*_in_window(window, campaign)).group_by(bucket))
        return {start: {"new": new, "returning": everyone - new}
                for start, everyone, new in rows}
    first_start = period_start(window.start, period)
    active = dict(db.session.execute(
        select(DonorActivity.starts, func.count()).where(
            DonorActivity.period == period, DonorActivity.starts >= first_start,
            DonorActivity.starts <= window.end).group_by(DonorActivity.starts)).all())
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
    """MRR at each moment, from one read of the recurring gifts: a gift counts from its
    start until it ends."""
    query = select(RecurringGift.started_at, RecurringGift.ended_at,
                   RecurringGift.is_collecting, RecurringGift.frequency,
                   RecurringGift.amount_cents).where(
        RecurringGift.currency == currency, RecurringGift.status.not_in(NEVER_PAID),
        RecurringGift.started_at < max(moments))
    if campaign is not None:
        query = query.where(RecurringGift.campaign == campaign.slug)
    changes: list[tuple[datetime, int]] = []
    for started, ended, collecting, frequency, amount in db.session.execute(query):
        value = (amount + 6) // 12 if frequency == Frequency.YEARLY else amount
        if ended is None and not collecting:
            continue  # not bringing money in (paused, unpaid, or canceled before it ran)
        changes.append((started, value))
        if ended is not None:
            changes.append((ended, -value))
    changes.sort(key=lambda change: change[0])
    totals, running, index = [], 0, 0
    for moment in sorted(moments):
        while index < len(changes) and changes[index][0] < moment:
            running += changes[index][1]
            index += 1
        totals.append(running)
    by_moment = dict(zip(sorted(moments), totals, strict=True))
    return [by_moment[moment] for moment in moments]


# The CSV export ---------------------------------------------------------------------------

CSV_COLUMNS = ("donation_id", "created_at", "donor_email", "donor_name", "amount_cents",
               "fee_cents", "net_cents", "currency", "frequency", "campaign", "status",
               "refunded_cents", "dispute_status", "recurring_gift_id", "stripe_id")


def donations_csv(window: Window, campaign: Campaign | None = None) -> Iterator[bytes]:
    """One row per donation in the window, every currency, oldest first (see
    `reports.exports.stream_csv`)."""
    dialect = db.session.get_bind().dialect.name
    query = select(
        Donation.id, utc_iso_text(Donation.created_at, dialect),
        spreadsheet_safe(Donor.email), spreadsheet_safe(Donor.name), Donation.amount_cents,
        Donation.fee_cents, Donation.net_cents, Donation.currency, Donation.frequency,
        spreadsheet_safe(Donation.campaign), Donation.status, Donation.refunded_cents,
        Donation.dispute_status, Donation.recurring_gift_id, Donation.stripe_id,
    ).join(Donor, Donor.id == Donation.donor_id).where(
        Donation.created_at >= window.begins, Donation.created_at < window.ends,
    ).order_by(Donation.created_at, Donation.id)
    if campaign is not None:
        query = query.where(Donation.campaign == campaign.slug)
    return stream_csv(CSV_COLUMNS, query)
