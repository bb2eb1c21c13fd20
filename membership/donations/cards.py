"""The card a recurring gift is paid with: how the donor sees it, and the reminder sent
before it expires (a gift whose card has expired fails its next charge)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from membership.donations.giving import manage_link
from membership.donations.models import COLLECTING_STATUSES, Donor, RecurringGift
from membership.extensions import db
from membership.mail.services import queue_mail

# Stripe's card brands, as the card's own name is written.
BRANDS = {"amex": "American Express", "cartes_bancaires": "Cartes Bancaires",
          "diners": "Diners Club", "discover": "Discover", "eftpos_au": "eftpos",
          "interac": "Interac", "jcb": "JCB", "link": "Link", "mastercard": "Mastercard",
          "unionpay": "UnionPay", "visa": "Visa"}
REMINDER_DAYS = 30  # how long before a card expires its donor is told


def brand_label(brand: str | None) -> str:
    return BRANDS.get(brand or "", (brand or "card").replace("_", " ").title())


def card_expires_at(gift: RecurringGift) -> datetime | None:
    """The first moment the gift's card no longer works: it is good through its month."""
    if gift.card_exp_year is None or gift.card_exp_month is None:
        return None
    year, month = divmod(gift.card_exp_year * 12 + gift.card_exp_month, 12)
    return datetime(year, month + 1, 1, tzinfo=UTC)


def expires_before_next_gift(gift: RecurringGift) -> bool:
    expires = card_expires_at(gift)
    return (expires is not None and gift.current_period_end is not None
            and expires <= gift.current_period_end and gift.ends_at is None)


def _card_key(gift: RecurringGift) -> str:
    return f"{gift.stripe_payment_method_id}:{gift.card_exp_year}-{gift.card_exp_month:02d}"


def send_card_reminders(now: datetime) -> int:
    """E-mail the donor of each collecting gift whose card expires within REMINDER_DAYS,
    once per card and expiry (a card the bank renews with a new expiry is told again when
    that one nears). A gift ending before its card expires needs no new card. How many
    reminders were queued; the caller commits."""
    horizon = now + timedelta(days=REMINDER_DAYS)
    # Every expiry month from this one to the horizon's (on January 30th the horizon is in
    # March: February's cards are among them).
    first, last = now.year * 12 + now.month - 1, horizon.year * 12 + horizon.month - 1
    months = [divmod(index, 12) for index in range(first, last + 1)]
    gifts = db.session.scalars(
        select(RecurringGift).join(Donor)
        .where(RecurringGift.status.in_(COLLECTING_STATUSES),
               RecurringGift.card_last4.is_not(None),
               or_(*((RecurringGift.card_exp_year == year)
                     & (RecurringGift.card_exp_month == month + 1) for year, month in months)))
        .order_by(RecurringGift.id))
    sent = 0
    for gift in gifts:
        expires = card_expires_at(gift)
        if not now < expires <= horizon or (
                gift.ends_at is not None and gift.ends_at <= expires):
            continue
        key = _card_key(gift)
        # Claimed by a conditional UPDATE: two runs at once send one reminder.
        claimed = db.session.execute(
            update(RecurringGift)
            .where(RecurringGift.id == gift.id,
                   or_(RecurringGift.card_reminded_for.is_(None),
                       RecurringGift.card_reminded_for != key))
            .values(card_reminded_for=key)).rowcount
        if not claimed:
            continue
        queue_mail(gift.donor.email, "donations/card_expiring",
                   _l("The card for your recurring gift expires soon"),
                   language=gift.donor.language, about=f"gift:{gift.id}",
                   brand=brand_label(gift.card_brand), last4=gift.card_last4,
                   expiry=f"{gift.card_exp_month:02d}/{gift.card_exp_year}",
                   frequency=gift.frequency, amount_cents=gift.amount_cents,
                   currency=gift.currency, link=manage_link(gift))
        sent += 1
    db.session.flush()
    return sent
