"""Figures of recurring gifts (issue #14): why they end, failed renewals paid after all,
and how long monthly donors keep giving.

- A recurring gift *ended* in a year when its status is canceled and its `ended_at` is in
  that UTC year. It ended *involuntarily* when Stripe's reason is payment_failed or
  payment_disputed, *voluntarily* when it is cancellation_requested; when the reason is
  unknown, involuntarily if the gift has a failed invoice that was never paid (no donation
  carries that invoice), else voluntarily. Of the voluntary ends, the reason the donor
  picked when cancelling (Stripe's `cancellation_details.feedback`) is counted, or "not
  given".
- A gift was *collecting at some point in the year* when it started before the year's end,
  did not end before the year began (no `ended_at`, or one in the year or later), and is
  not one whose first invoice was never paid (incomplete, incomplete_expired). The churn
  rate is the gifts ended in the year over those.
- What a gift is worth per month: its amount, a twelfth (rounded) for yearly gifts.
- A *failed invoice* belongs to the year of its first failed attempt; it is *recovered*
  when a donation with the same Stripe invoice exists (a retry or the donor paid); the
  money recovered is what those donations are worth now (after refunds and disputes).
- A monthly gift's *cohort* is the UTC month of its first donation (whatever became of
  it). It is *still giving after N months* when it has a counted donation (worth
  something now) paid in the calendar month N months after its cohort month. A cell is
  known once that month is over; until then it is empty (None), not 0.

Money is per currency, in minor units; different currencies are never added."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import aliased

from membership.donations.models import (
    NEVER_PAID_STATUSES,
    CancelFeedback,
    CancellationReason,
    Donation,
    Frequency,
    PaymentFailure,
    RecurringGift,
    SubscriptionStatus,
)
from membership.extensions import db
from membership.reports.models import GiftMonth
from membership.reports.retention import Years
from membership.sql import utc_period

VOLUNTARY, INVOLUNTARY = "voluntary", "involuntary"
INVOLUNTARY_REASONS = (CancellationReason.PAYMENT_FAILED, CancellationReason.PAYMENT_DISPUTED)
UNKNOWN_REASON = "unknown"
NOT_GIVEN = "not_given"  # a donor-cancelled gift whose donor picked no reason
COHORTS = 12  # months of cohorts shown
COHORT_AFTER = (1, 3, 6, 12)  # months after the cohort month


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def add_months(month: date, months: int) -> date:
    """The first day of the month `months` after the month of `month`."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _add(totals: dict[str, int], currency: str, cents: int) -> None:
    totals[currency] = totals.get(currency, 0) + cents


# Churn ------------------------------------------------------------------------------------

@dataclass
class Churn:
    year: int
    collecting: int  # gifts collecting at some point in the year
    ended: int = 0
    voluntary: int = 0
    involuntary: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    # The reason donors picked when they cancelled (a CancelFeedback, or "not_given"), of
    # the gifts ended voluntarily.
    by_feedback: dict[str, int] = field(default_factory=dict)
    # What the ended gifts were worth per month: {voluntary|involuntary: {currency: cents}}
    monthly_cents_lost: dict[str, dict[str, int]] = field(
        default_factory=lambda: {VOLUNTARY: {}, INVOLUNTARY: {}})

    @property
    def rate(self) -> float | None:
        return rate(self.ended, self.collecting)

    def as_json(self) -> dict:
        return {"year": self.year, "collecting": self.collecting, "ended": self.ended,
                "voluntary": self.voluntary, "involuntary": self.involuntary,
                "rate": self.rate, "voluntary_rate": rate(self.voluntary, self.collecting),
                "involuntary_rate": rate(self.involuntary, self.collecting),
                "by_reason": self.by_reason, "by_feedback": self.by_feedback,
                "monthly_cents_lost": self.monthly_cents_lost}


def _unpaid_failure():
    """The gift has a failed invoice no donation paid."""
    paid = exists().where(Donation.stripe_invoice_id == PaymentFailure.stripe_invoice_id)
    return (exists().where(PaymentFailure.recurring_gift_id == RecurringGift.id, ~paid)
            .correlate(RecurringGift))


def churn(year: int) -> Churn:
    span = Years(year)
    reason = RecurringGift.ended_because
    known = reason.in_(tuple(CancellationReason))
    kind = case((reason.in_(INVOLUNTARY_REASONS), INVOLUNTARY),
                (reason == CancellationReason.CANCELLATION_REQUESTED, VOLUNTARY),
                (_unpaid_failure(), INVOLUNTARY), else_=VOLUNTARY)
    said = case((known, reason), else_=UNKNOWN_REASON)
    picked = case((RecurringGift.cancel_feedback.in_(tuple(CancelFeedback)),
                   RecurringGift.cancel_feedback), else_=NOT_GIVEN)
    collecting = db.session.scalar(select(func.count()).where(
        RecurringGift.started_at < span.ends,
        or_(RecurringGift.ended_at.is_(None), RecurringGift.ended_at >= span.starts),
        RecurringGift.status.not_in(NEVER_PAID_STATUSES)))
    figures = Churn(year=year, collecting=collecting,
                    by_reason=dict.fromkeys([*map(str, CancellationReason), UNKNOWN_REASON], 0),
                    by_feedback=dict.fromkeys([*map(str, CancelFeedback), NOT_GIVEN], 0))
    rows = db.session.execute(
        select(RecurringGift.currency, kind.label("kind"), said.label("reason"),
               picked.label("feedback"), func.count(), func.sum(RecurringGift.monthly_cents))
        .where(RecurringGift.status == SubscriptionStatus.CANCELED,
               RecurringGift.ended_at >= span.starts, RecurringGift.ended_at < span.ends)
        .group_by(RecurringGift.currency, kind, said, picked))
    for currency, gone, why, feedback, gifts, cents in rows:
        figures.ended += gifts
        setattr(figures, gone, getattr(figures, gone) + gifts)
        figures.by_reason[str(why)] += gifts
        if gone == VOLUNTARY:
            figures.by_feedback[str(feedback)] += gifts
        _add(figures.monthly_cents_lost[gone], currency, int(cents))
    return figures


# Recovered revenue --------------------------------------------------------------------------

@dataclass
class Recovery:
    year: int
    failed: int = 0  # invoices whose first failed attempt was in the year
    recovered: int = 0  # of those, paid since
    cents: dict[str, int] = field(default_factory=dict)  # what the payments are worth now

    def as_json(self) -> dict:
        return {"year": self.year, "failed_invoices": self.failed,
                "recovered_invoices": self.recovered,
                "recovered_share": rate(self.recovered, self.failed),
                "recovered_cents": self.cents}


def recovery(year: int) -> Recovery:
    span = Years(year)
    earlier = aliased(PaymentFailure)
    first_failed_in_year = ~exists().where(
        earlier.stripe_invoice_id == PaymentFailure.stripe_invoice_id,
        earlier.created_at < span.starts)
    invoices = (select(PaymentFailure.stripe_invoice_id.label("invoice"))
                .where(PaymentFailure.created_at >= span.starts,
                       PaymentFailure.created_at < span.ends, first_failed_in_year)
                .group_by(PaymentFailure.stripe_invoice_id).subquery())
    rows = db.session.execute(
        select(Donation.currency, func.count(), func.sum(Donation.net_cents))
        .select_from(invoices)
        .outerjoin(Donation, Donation.stripe_invoice_id == invoices.c.invoice)
        .group_by(Donation.currency))
    figures = Recovery(year=year)
    for currency, count, cents in rows:
        figures.failed += count
        if currency is not None:
            figures.recovered += count
            _add(figures.cents, currency, int(cents))
    return figures


# Cohorts of monthly donors ------------------------------------------------------------------

@dataclass(frozen=True)
class Cohort:
    month: date
    size: int
    # Per month in COHORT_AFTER: the gifts still giving then, None while unknown.
    giving: tuple[int | None, ...]

    @property
    def shares(self) -> tuple[float | None, ...]:
        return tuple(None if n is None else rate(n, self.size) for n in self.giving)

    @property
    def cells(self) -> list[tuple[int, int | None, float | None]]:
        """(months after, gifts still giving, share of the cohort) per COHORT_AFTER."""
        return list(zip(COHORT_AFTER, self.giving, self.shares, strict=True))

    def as_json(self) -> dict:
        return {"month": self.month.isoformat(), "size": self.size,
                "after": [{"months": months, "giving": giving, "share": share}
                          for months, giving, share in self.cells]}


def cohort_months(year: int, today: date) -> list[date]:
    """The COHORTS months up to December of `year`, or to this month if that is earlier."""
    last = min(date(year, 12, 1), today.replace(day=1))
    return [add_months(last, n) for n in range(1 - COHORTS, 1)]


def cohorts(year: int, today: date) -> list[Cohort]:
    """The cohorts of `cohort_months`, oldest first (empty months have size 0), from each
    gift's first payment and the kept months it was paid in (reports.models.GiftMonth)."""
    months = cohort_months(year, today)
    starts, ends = _at(months[0]), _at(add_months(months[-1], 1))
    dialect = db.session.get_bind().dialect.name
    cohort = (select(RecurringGift.id.label("gift"),
                     utc_period(RecurringGift.first_paid_at, "month", dialect).label("month"))
              .where(RecurringGift.frequency == Frequency.MONTHLY,
                     RecurringGift.first_paid_at >= starts, RecurringGift.first_paid_at < ends)
              .subquery())
    sizes = dict(db.session.execute(
        select(cohort.c.month, func.count()).group_by(cohort.c.month)).all())
    giving = {(start, month): count for start, month, count in db.session.execute(
        select(cohort.c.month, GiftMonth.month, func.count())
        .join(GiftMonth, GiftMonth.recurring_gift_id == cohort.c.gift)
        .where(GiftMonth.month >= add_months(months[0], 1),
               GiftMonth.month < add_months(months[-1], 1 + max(COHORT_AFTER)))
        .group_by(cohort.c.month, GiftMonth.month))}
    return [Cohort(month=month, size=sizes.get(month, 0), giving=tuple(
        giving.get((month, add_months(month, n)), 0) if add_months(month, n + 1) <= today
        else None for n in COHORT_AFTER)) for month in months]
