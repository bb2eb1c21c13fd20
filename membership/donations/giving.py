"""The donor's own giving: their gifts and recurring gifts, receipts and yearly
statements, and what their account's export and closing do to them."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from membership import tokens
from membership.accounts.models import User
from membership.accounts.services import AccountError
from membership.donations.gateway import GatewayError, payment_gateway
from membership.donations.models import (
    ENDED_STATUSES,
    Donation,
    Donor,
    Frequency,
    PaymentFailure,
    RecurringGift,
)
from membership.donations.money import exponent, format_money, to_major
from membership.extensions import db
from membership.types import isoformat, utcnow
from membership.urls import external_url


def donations_for(user: User) -> list[Donation]:
    return list(db.session.scalars(
        select(Donation).join(Donor).where(Donor.user_id == user.id)
        .order_by(Donation.created_at.desc(), Donation.id.desc())))


def recurring_gifts_for(user: User) -> list[RecurringGift]:
    return list(db.session.scalars(
        select(RecurringGift).join(Donor).where(Donor.user_id == user.id)
        .order_by(RecurringGift.created_at.desc())))


def own_donation_or_none(user: User, donation_id: int) -> Donation | None:
    """The one place deciding whether a reader may see a gift: only their own."""
    return db.session.scalar(
        select(Donation).join(Donor).where(Donation.id == donation_id, Donor.user_id == user.id))


def own_recurring_gift_or_none(user: User, gift_id: int) -> RecurringGift | None:
    return db.session.scalar(
        select(RecurringGift).join(Donor)
        .where(RecurringGift.id == gift_id, Donor.user_id == user.id))


def fiscal_year_of(moment: datetime) -> int:
    """The fiscal year a moment is in, named by the calendar year it starts in."""
    start = current_app.config["FISCAL_YEAR_START_MONTH"]
    return moment.year if moment.month >= start else moment.year - 1


def fiscal_span(year: int) -> tuple[datetime, datetime]:
    """The first moment of a fiscal year and of the next, in UTC."""
    start = current_app.config["FISCAL_YEAR_START_MONTH"]
    return (datetime(year, start, 1, tzinfo=UTC), datetime(year + 1, start, 1, tzinfo=UTC))


def fiscal_label(year: int) -> str:
    """How a fiscal year is written: "2025", or "2025-26" (with an en dash) when it
    starts after January."""
    if current_app.config["FISCAL_YEAR_START_MONTH"] == 1:
        return str(year)
    return f"{year}\u2013{(year + 1) % 100:02d}"


@dataclass(frozen=True)
class Statement:
    """A fiscal year's gifts of one donor, oldest first, with the net total per currency."""

    year: int
    title: str
    donor: str
    donations: list[Donation]
    totals: dict[str, int]


def statement_of(donations: list[Donation], year: int, donor: str) -> Statement:
    starts, ends = fiscal_span(year)
    kept = sorted((d for d in donations if starts <= d.created_at < ends),
                  key=lambda d: (d.created_at, d.id))
    totals: dict[str, int] = {}
    for donation in kept:
        totals[donation.currency] = totals.get(donation.currency, 0) + donation.net_cents
    return Statement(year, fiscal_label(year), donor, kept, totals)


def yearly_statement(user: User, year: int) -> Statement:
    return statement_of(donations_for(user), year, user.name or user.email)


def donor_statement(donor: Donor, year: int) -> Statement:
    starts, ends = fiscal_span(year)
    donations = list(db.session.scalars(select(Donation).where(
        Donation.donor_id == donor.id, Donation.created_at >= starts,
        Donation.created_at < ends)))
    return statement_of(donations, year, donor.name or donor.email)


RECEIPT_LINK = "donations.receipt"  # a receipt's link never expires


def receipt_token(donation: Donation) -> str:
    return tokens.make(RECEIPT_LINK, donation.id)


def donation_for_receipt_token(token: str) -> Donation | None:
    try:
        donation_id = tokens.read(RECEIPT_LINK, token)
    except tokens.BadToken:
        return None
    return db.session.get(Donation, donation_id) if isinstance(donation_id, int) else None


def receipt_link(donation: Donation) -> str:
    return external_url("donations.public_receipt", token=receipt_token(donation))


# A recurring gift's own page, for its donor with or without an account: the link in every
# mail about the gift. It expires (MANAGE_LINK_MAX_AGE) and the donor may disable every
# link sent so far (the gift's manage_version).
MANAGE_LINK = "donations.manage-gift"


def manage_link(gift: RecurringGift) -> str:
    token = tokens.make(MANAGE_LINK, {"gift": gift.id, "version": gift.manage_version})
    return external_url("donations.manage_gift", token=token)


def gift_for_manage_token(token: str) -> RecurringGift | None:
    try:
        payload = tokens.read(MANAGE_LINK, token, current_app.config["MANAGE_LINK_MAX_AGE"])
    except tokens.BadToken:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("gift"), int):
        return None
    gift = db.session.get(RecurringGift, payload["gift"])
    if gift is None or gift.donor is None or payload.get("version") != gift.manage_version:
        return None
    return gift


def revoke_manage_links(gift: RecurringGift) -> None:
    gift.manage_version += 1
    db.session.flush()


def _gift_details(gift) -> dict:
    return {"amount_cents": gift.amount_cents, "currency": gift.currency,
            "frequency": gift.frequency, "campaign": gift.campaign,
            "anonymous": gift.anonymous, "dedication_kind": gift.dedication_kind,
            "dedication_name": gift.dedication_name,
            "dedication_message": gift.dedication_message}


def export_giving(user: User) -> tuple[str, list[dict]]:
    """The reader's gifts for their data download."""
    return "gifts", [
        {"date": donation.created_at.isoformat(), **_gift_details(donation),
         "status": donation.status, "refunded_cents": donation.refunded_cents}
        for donation in donations_for(user)
    ]


def export_recurring_gifts(user: User) -> tuple[str, list[dict]]:
    """The reader's monthly and yearly gifts for their data download."""
    return "recurring_gifts", [
        {"started_at": isoformat(gift.started_at), **_gift_details(gift), "status": gift.status,
         "cancel_at_period_end": gift.cancel_at_period_end,
         "current_period_end": isoformat(gift.current_period_end),
         "ended_at": isoformat(gift.ended_at), "cancel_reason": gift.cancel_reason}
        for gift in recurring_gifts_for(user)
    ]


def cancel_recurring_gifts(user: User) -> list[str]:
    """Account deletion: stop the reader's recurring gifts at the payment service first,
    so that nothing goes on charging a donor who can no longer see or cancel it. A gift
    the service will not cancel keeps the account (AccountError), and says which."""
    stopped = []
    for gift in recurring_gifts_for(user):
        if gift.status in ENDED_STATUSES:
            continue
        amount = format_money(gift.amount_cents, gift.currency)
        description = (_("%(amount)s a year", amount=amount) if gift.frequency == Frequency.YEARLY
                       else _("%(amount)s a month", amount=amount))
        try:
            payment_gateway().cancel(gift, "The donor deleted their account.")
        except GatewayError as error:
            raise AccountError(_(
                "We could not stop your recurring gift of %(gift)s (%(reason)s), so your "
                "account was not deleted. Please try again in a moment.",
                gift=description, reason=error)) from error
        stopped.append(_("Your recurring gift of %(gift)s is cancelled: nothing more will "
                         "be charged.", gift=description))
    return stopped


@dataclass(frozen=True)
class Attempt:
    """One charge of a recurring gift as its donor reads it: paid (a donation, perhaps
    refunded since) or failed (one of Stripe's tries)."""
    at: datetime
    amount_cents: int
    currency: str
    donation: Donation | None = None
    attempt: int | None = None  # the failed try's number
    next_attempt_at: datetime | None = None  # when Stripe tries again after a failed one


def payment_attempts(gifts: list[RecurringGift], most: int = 12) -> dict[int, list[Attempt]]:
    """The latest charges of each gift, paid and failed, newest first."""
    ids = [gift.id for gift in gifts]
    if not ids:
        return {}
    attempts: dict[int, list[Attempt]] = {gift_id: [] for gift_id in ids}
    for donation in db.session.scalars(select(Donation).where(
            Donation.recurring_gift_id.in_(ids))):
        attempts[donation.recurring_gift_id].append(Attempt(
            donation.created_at, donation.amount_cents, donation.currency, donation=donation))
    paid = {row.donation.stripe_invoice_id for rows in attempts.values() for row in rows}
    failures = db.session.scalars(select(PaymentFailure).where(
        PaymentFailure.recurring_gift_id.in_(ids)).order_by(PaymentFailure.attempt_count.desc()))
    now, told = utcnow(), set()
    for failure in failures:
        # When Stripe tries again: said by an unpaid invoice's latest try, if still ahead.
        latest_unpaid = failure.stripe_invoice_id not in paid and \
            failure.stripe_invoice_id not in told
        upcoming = (failure.next_attempt_at if latest_unpaid and failure.next_attempt_at
                    and failure.next_attempt_at > now else None)
        told.add(failure.stripe_invoice_id)
        attempts[failure.recurring_gift_id].append(Attempt(
            failure.created_at, failure.amount_cents, failure.currency,
            attempt=failure.attempt_count, next_attempt_at=upcoming))
    return {gift_id: sorted(rows, key=lambda row: row.at, reverse=True)[:most]
            for gift_id, rows in attempts.items()}


def pause_ends(months: int, gift: RecurringGift, now: datetime) -> datetime | None:
    """When a pause of `months` months ends (None: until resumed). A monthly gift skips
    its next `months` payments: the pause ends a day after the last of them was due.
    Otherwise (a yearly gift, or a next payment not known yet) it counts from `now`."""
    if months == 0:
        return None
    if gift.frequency == Frequency.MONTHLY and gift.current_period_end is not None:
        return _months_later(gift.current_period_end, months - 1) + timedelta(days=1)
    return _months_later(now, months)


def _months_later(moment: datetime, months: int) -> datetime:
    """The same day `months` months later, or that month's last day (from January 31st,
    the last day of February)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return moment.replace(year=year, month=month,
                          day=min(moment.day, calendar.monthrange(year, month)[1]))


def skip_ends(gift: RecurringGift) -> datetime | None:
    """A pause that voids the next payment only: it ends a day after that payment was due.
    None when the next payment's date is not known."""
    if gift.current_period_end is None:
        return None
    return gift.current_period_end + timedelta(days=1)


def switched_frequency(gift: RecurringGift) -> str:
    return Frequency.YEARLY if gift.frequency == Frequency.MONTHLY else Frequency.MONTHLY


def switched_amount(gift: RecurringGift) -> str:
    """What the gift would be each time on the other schedule, in major units, to start
    the form with: twelve months for a year, a twelfth (rounded up) for a month."""
    cents = (gift.amount_cents * 12 if gift.frequency == Frequency.MONTHLY
             else -(-gift.amount_cents // 12))
    return f"{to_major(cents, gift.currency):.{exponent(gift.currency)}f}"
