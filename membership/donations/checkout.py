"""The gift form's side: what the donor chose, the fee they may cover, and the pending
gift recorded before they leave for the payment page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from membership.donations.donors import get_or_create_donor
from membership.donations.models import Checkout, CheckoutStatus
from membership.donations.money import cover_fee
from membership.extensions import db
from membership.i18n import current_language


@dataclass(frozen=True)
class GiftChoice:
    """What the donor chose on the form, amounts already in minor units."""

    email: str
    amount_cents: int
    currency: str
    frequency: str
    cover_fee: bool = False
    campaign: str | None = None
    anonymous: bool = False
    name: str = ""
    dedication_kind: str | None = None
    dedication_name: str | None = None
    dedication_message: str | None = None
    honoree_email: str | None = None  # for a card to the person the gift honours


@dataclass(frozen=True)
class CampaignOffer:
    """What the gift form needs to know of a campaign a gift is made to."""

    slug: str
    title: str
    currency: str
    starts_at: datetime
    ends_at: datetime  # gifts count from starts_at up to, not including, ends_at
    suggested_amounts: tuple[int, ...] = ()  # one-time, in minor units


# The campaigns domain registers a `slug -> CampaignOffer | None` lookup here, so that
# donations need not import it (campaigns builds on donations, not the other way).
CAMPAIGN_OFFERS_KEY = "donations.campaign_offers"


def campaign_offer(slug: str | None) -> CampaignOffer | None:
    lookup = current_app.extensions.get(CAMPAIGN_OFFERS_KEY)
    return lookup(slug) if slug and lookup else None


def fee_for(amount_cents: int, currency: str) -> int:
    config = current_app.config
    return cover_fee(amount_cents, currency, config["DONATION_FEE_PERCENT"],
                     fixed_fee(currency))


def fixed_fee(currency: str) -> Decimal:
    """The fixed part of the card fee in `currency`'s major units (DONATION_FEE_FIXED)."""
    return current_app.config["DONATION_FEE_FIXED"].get(currency.lower(), Decimal(0))


def start_checkout(choice: GiftChoice) -> Checkout:
    """Record the pending gift before the donor leaves for the payment page."""
    donor = get_or_create_donor(choice.email, choice.name)
    donor.language = current_language()  # their receipts are written in it
    fee = fee_for(choice.amount_cents, choice.currency) if choice.cover_fee else 0
    checkout = Checkout(
        donor=donor,
        amount_cents=choice.amount_cents + fee,
        fee_cents=fee,
        currency=choice.currency,
        frequency=choice.frequency,
        campaign=choice.campaign,
        anonymous=choice.anonymous,
        dedication_kind=choice.dedication_kind if choice.dedication_name else None,
        dedication_name=choice.dedication_name or None,
        dedication_message=choice.dedication_message or None,
        honoree_email=choice.honoree_email if choice.dedication_name else None,
    )
    db.session.add(checkout)
    db.session.flush()
    return checkout


def checkout_by_public_id(public_id: str | None) -> Checkout | None:
    if not public_id:
        return None
    return db.session.scalar(select(Checkout).where(Checkout.public_id == public_id))


def mark_checkout(public_id: str | None, session_id: str | None, status: str) -> None:
    """Record what became of a checkout (processing, failed). A paid checkout stays paid."""
    checkout = checkout_by_public_id(public_id) or (
        db.session.scalar(select(Checkout).where(Checkout.stripe_session_id == session_id))
        if session_id else None)
    if checkout is not None and checkout.status != CheckoutStatus.PAID:
        checkout.status = status
        if status in (CheckoutStatus.FAILED, CheckoutStatus.EXPIRED):
            checkout.honoree_email = None  # no gift, no card: the address is not kept
        db.session.flush()
