"""The contract's donation summary, for the staff dashboard and summary.json.

Sums come from the daily totals kept as each donation, refund and dispute is recorded
(reports.models.DailyTotal), so their cost grows with the number of days in the window,
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
from datetime import datetime

from sqlalchemy import BigInteger, and_, cast, func, or_, select

from membership.campaigns.models import Campaign, GoalType
from membership.donations.models import (
    NEVER_PAID_STATUSES,
    Donation,
    Donor,
    Frequency,
    PaymentFailure,
    RecurringGift,
)
from membership.extensions import db
from membership.reports.models import LONG_GAP, DailyTotal, DonorGap, SettledDailyTotal
from membership.reports.windows import Window, reporting_currency


def summary(window: Window, campaign: Campaign | None = None) -> dict:
    currency = reporting_currency()
    rows = kept_totals(window, campaign)
    mine = [row for row in rows if row.currency == currency]
    gross = sum(row.gross_cents for row in mine)
    net = sum(row.net_cents for row in mine)
    donors, new_donors = _donor_counts(window, campaign)
    active, mrr = _recurring_at(window.ends, currency, campaign)
    by_currency: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
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
        "settled": settled_totals(window, campaign,
                                  donations=sum(row.donations for row in rows)),
    }


def settled_totals(window: Window, campaign: Campaign | None = None,
                   donations: int | None = None) -> dict:
    """The window's donations, every currency, as Stripe settled them in the account's
    currency (the kept SettledDailyTotal): gross, Stripe's fees, and net = what is kept of
    each settled amount (Donation.settled_kept_cents) minus the fees. Donations Stripe
    has not settled yet (or not told us of) are counted apart (`donations`: how many the
    window holds, when the caller has counted them)."""
    query = select(SettledDailyTotal.currency,
                   cast(func.sum(SettledDailyTotal.donations), BigInteger),
                   cast(func.sum(SettledDailyTotal.gross_cents), BigInteger),
                   cast(func.sum(SettledDailyTotal.fee_cents), BigInteger),
                   cast(func.sum(SettledDailyTotal.kept_cents), BigInteger)).where(
        SettledDailyTotal.day >= window.start, SettledDailyTotal.day <= window.end,
    ).group_by(SettledDailyTotal.currency)
    if campaign is not None:
        query = query.where(SettledDailyTotal.campaign == campaign.slug)
    settled = [{"currency": code, "donations": count, "gross_cents": gross,
                "fee_cents": fees, "net_cents": kept - fees}
               for code, count, gross, fees, kept in db.session.execute(query) if count]
    if donations is None:
        donations = sum(row.donations for row in kept_totals(window, campaign))
    return {"by_currency": sorted(settled, key=lambda row: row["currency"]),
            "unsettled_donations": donations - sum(row["donations"] for row in settled)}


def _part(rows) -> dict:
    rows = list(rows)
    return {"count": sum(row.donations for row in rows),
            "gross_cents": sum(row.gross_cents for row in rows)}


def kept_totals(window: Window, campaign: Campaign | None, by_day: bool = False) -> list:
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


def in_window(window: Window, campaign: Campaign | None) -> list:
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
            *in_window(window, campaign)).distinct().subquery()
        first_in_window = Donor.first_donation_at >= window.begins
        donors, new = db.session.execute(
            select(func.count(), func.count(Donor.id).filter(first_in_window))
            .select_from(givers).join(Donor, Donor.id == givers.c.donor_id)).one()
        return donors, new
    if window.ends - window.begins > LONG_GAP:
        donors = _donors_from_spans(window)
    else:
        donors = db.session.scalar(select(func.count(Donation.donor_id.distinct())).where(
            *in_window(window, None)))
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
    query = select(func.count(), func.coalesce(func.sum(RecurringGift.monthly_cents), 0)).where(
        *running_at(moment), RecurringGift.currency == currency)
    if campaign is not None:
        query = query.where(RecurringGift.campaign == campaign.slug)
    count, mrr = db.session.execute(query).one()
    return count, int(mrr)


def running_at(moment: datetime) -> list:
    return [
        RecurringGift.started_at < moment,
        RecurringGift.status.not_in(NEVER_PAID_STATUSES),
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
             "goal_cents": campaign.goal if campaign.goal_type == GoalType.AMOUNT else None,
             "donations": campaign.donations, "donors": campaign.donors,
             "title": campaign.title, "currency": campaign.currency,
             "goal_donors": None if campaign.goal_type == GoalType.AMOUNT else campaign.goal}
            for campaign in campaigns]
