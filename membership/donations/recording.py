"""Recording payments, once each, as plain functions: they flush, the caller commits.

Payment facts come in as plain dataclasses (the payments package translates Stripe's
objects into them), so these rules are the same whatever told us: a webhook, a
reconciliation run or the sandbox gateway."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select

from membership.donations.charges import apply_known_charge_state
from membership.donations.checkout import checkout_by_public_id
from membership.donations.donors import get_or_create_donor
from membership.donations.giving import manage_link, receipt_link
from membership.donations.models import (
    Checkout,
    CheckoutStatus,
    Donation,
    DonationStatus,
    Donor,
    Frequency,
    RecurringGift,
)
from membership.donations.signals import announce
from membership.donations.tributes import send_tribute_card
from membership.extensions import db
from membership.mail.services import queue_mail
from membership.sql import insert_or_ignore


@dataclass(frozen=True)
class Payment:
    """A successful payment as Stripe reported it."""

    amount_cents: int
    currency: str
    paid_at: datetime
    email: str | None = None
    name: str = ""
    customer_id: str | None = None
    gift_public_id: str | None = None   # our Checkout.public_id, from metadata
    campaign: str | None = None
    frequency: str = Frequency.ONCE
    billing_reason: str | None = None
    checkout_session_id: str | None = None
    payment_intent_id: str | None = None
    invoice_id: str | None = None
    charge_id: str | None = None
    subscription_id: str | None = None


def knows_donor(customer_id: str | None, gift_public_id: str | None) -> bool:
    """Whether a payment or subscription by this customer can be tied to a donor
    without asking Stripe."""
    if checkout_by_public_id(gift_public_id) is not None:
        return True
    return bool(customer_id) and db.session.scalar(
        select(func.count()).select_from(Donor).where(Donor.stripe_customer_id == customer_id)
    ) > 0


class NeedsDonor(LookupError):
    """We cannot tell who gave: the event carried no e-mail and we know no customer."""


DONOR_BY_CUSTOMER = select(Donor).where(Donor.stripe_customer_id == bindparam("customer"))


def donor_for(payment: Payment, checkout: Checkout | None) -> Donor:
    """Who gave: the checkout's donor, else the donor Stripe's customer id is known for
    (their e-mail may have changed since), else the donor for the e-mail."""
    if checkout is not None:
        donor = checkout.donor
    elif payment.customer_id and (donor := db.session.scalar(
            DONOR_BY_CUSTOMER, {"customer": payment.customer_id})):
        pass
    elif payment.email:
        donor = get_or_create_donor(payment.email, payment.name, payment.customer_id)
    else:
        raise NeedsDonor(payment.customer_id or "no customer")
    if payment.customer_id and donor.stripe_customer_id is None:
        donor.stripe_customer_id = payment.customer_id
    return donor


def record_one_time_payment(payment: Payment) -> int | None:
    """Record a paid one-time gift once: its id, or None if it was already recorded."""
    checkout = checkout_by_public_id(payment.gift_public_id)
    donor = donor_for(payment, checkout)
    details = gift_details(checkout, payment)
    donation = insert_donation(payment, donor, details, recurring_gift=None)
    if donation is not None:
        send_tribute_card(checkout)
    if checkout is not None:
        checkout.status = CheckoutStatus.PAID
    db.session.flush()
    return donation


def gift_details(source: Checkout | RecurringGift | None, payment: Payment) -> dict:
    if source is None:
        return {"fee_cents": 0, "frequency": payment.frequency, "campaign": payment.campaign,
                "anonymous": False, "dedication_kind": None, "dedication_name": None,
                "dedication_message": None}
    fee = source.fee_cents if source.amount_cents == payment.amount_cents else 0
    return {"fee_cents": fee, "frequency": source.frequency, "campaign": source.campaign,
            "anonymous": source.anonymous, "dedication_kind": source.dedication_kind,
            "dedication_name": source.dedication_name,
            "dedication_message": source.dedication_message}


def insert_donation(payment: Payment, donor: Donor, details: dict,
                     recurring_gift: RecurringGift | None) -> int | None:
    """Insert the donation unless one of its Stripe ids is known; thank the donor once.
    Returns the new donation's id, or None for a payment already recorded."""
    values = {
        "donor_id": donor.id,
        "recurring_gift_id": recurring_gift.id if recurring_gift else None,
        "amount_cents": payment.amount_cents,
        "currency": payment.currency.lower(),
        "status": DonationStatus.SUCCEEDED,
        "refunded_cents": 0,
        "billing_reason": payment.billing_reason,
        "stripe_checkout_session_id": payment.checkout_session_id,
        "stripe_payment_intent_id": payment.payment_intent_id,
        "stripe_invoice_id": payment.invoice_id,
        "stripe_charge_id": payment.charge_id,
        "created_at": payment.paid_at,
        **details,
    }
    donation_id = insert_or_ignore(Donation, values)
    if donation_id is None:
        return None
    announce(donation_id, values, recorded=True, gross_delta=payment.amount_cents,
              net_delta=payment.amount_cents, counted_delta=1 if payment.amount_cents else 0)
    apply_known_charge_state(donation_id, payment.charge_id, payment.payment_intent_id)
    # An unsaved copy is enough to write the thank-you mail.
    _thank(Donation(id=donation_id, donor=donor, **values), recurring_gift)
    return donation_id


def _thank(donation: Donation, recurring_gift: RecurringGift | None) -> None:
    queue_mail(
        donation.donor.email,
        "donations/thank_you",
        _l("Thank you for your gift"),
        language=donation.donor.language,
        amount_cents=donation.amount_cents,
        currency=donation.currency,
        receipt_number=donation.receipt_number,
        receipt_link=receipt_link(donation),
        dedication_kind=donation.dedication_kind,
        dedication_name=donation.dedication_name,
        attachments=[{"kind": "receipt", "donation": donation.id}],
        # A recurring gift's receipt leads to the gift's own page too.
        manage_link=manage_link(recurring_gift) if recurring_gift else None,
    )


def donation_with_payment_intent(payment_intent_id: str) -> Donation | None:
    return db.session.scalar(
        select(Donation).where(Donation.stripe_payment_intent_id == payment_intent_id))


def attach_payment_intent(invoice_id: str, payment_intent_id: str) -> None:
    donation = db.session.scalar(select(Donation).where(Donation.stripe_invoice_id == invoice_id))
    if donation is not None and donation.stripe_payment_intent_id is None:
        donation.stripe_payment_intent_id = payment_intent_id
        db.session.flush()
