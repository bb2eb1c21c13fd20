"""What each Stripe event does: translate the object, hand the facts to donations.

Each handler returns PROCESSED or IGNORED. Anything without our donation metadata is
ignored (but stays stored). Every handler is safe to run twice: the donation services
insert-or-ignore on Stripe ids and compare event times."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import current_app

from membership.donations import charges, checkout, recording, recurring
from membership.donations.gateway import Gateway, GatewayError
from membership.donations.models import (
    INTERVALS,
    CancelFeedback,
    CancellationReason,
    CheckoutStatus,
    Frequency,
    SubscriptionStatus,
)
from membership.payments.models import EventStatus
from membership.payments.payload import (
    MAX_AMOUNT,
    MalformedEvent,
    amount,
    card,
    currency,
    items,
    mapping,
    metadata,
    moment,
    object_id,
    text,
)
from membership.urls import external_url

StripeObject = dict[str, Any]
# Longer than any month, shorter than any year: a line billing more is a yearly gift's.
YEARLY_PERIOD = timedelta(days=200)
FREQUENCY_FOR_INTERVAL = {interval: frequency for frequency, interval in INTERVALS.items()}


def is_donation(values: dict) -> bool:
    return values.get("purpose") == "donation"


def _gift_metadata(obj: StripeObject) -> dict[str, str]:
    """Our keys in a donation's metadata, checked: staff can type them on Payment Links."""
    values = metadata(obj)
    if len(values.get("campaign") or "") > 100:
        raise MalformedEvent("metadata 'campaign' must be a campaign's slug")
    if values.get("frequency") not in (None, *Frequency):
        values = {**values, "frequency": None}
    return values


def _email(session: StripeObject) -> str | None:
    return text(mapping(session, "customer_details"), "email", max_length=320) \
        or text(session, "customer_email", max_length=320)


def _name(obj: StripeObject, key: str = "name") -> str:
    return text(obj, key, max_length=200) or ""


def _email_if_unknown(customer_id: str | None, gift_public_id: str | None,
                     subscription_id: str, gateway: Gateway) -> str | None:
    """Ask Stripe for the customer's e-mail only when nothing we hold names the donor
    (an event about a subscription that arrives before its checkout)."""
    if recurring.recurring_gift_exists(subscription_id) \
            or recording.knows_donor(customer_id, gift_public_id) or not customer_id:
        return None
    try:
        return gateway.customer_email(customer_id)
    except GatewayError:
        # Not fatal: the gift is kept without a donor until the checkout or an invoice,
        # which carry the e-mail, arrive.
        return None


# Checkout ---------------------------------------------------------------------------------

def on_checkout_completed(session: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    values = _gift_metadata(session)
    if not is_donation(values):
        return EventStatus.IGNORED
    paid = text(session, "payment_status") in ("paid", "no_payment_required")
    mode = text(session, "mode")
    subscription_id = object_id(session, "subscription")
    if mode == "subscription" and not subscription_id:
        return EventStatus.IGNORED  # no subscription was started; its events will tell us if one is
    if mode == "subscription":
        recurring.apply_subscription_state(recurring.SubscriptionState(
            subscription_id=subscription_id,
            as_of=as_of,
            customer_id=object_id(session, "customer"),
            email=_email(session),
            gift_public_id=values.get("gift"),
            status="active" if paid else "incomplete",
            amount_cents=amount(session, "amount_total"),
            currency=currency(session, "currency"),
            frequency=values.get("frequency"),
            campaign=values.get("campaign"),
            authoritative=False,
        ))
        checkout.mark_checkout(values.get("gift"), text(session, "id", required=True),
                                CheckoutStatus.PAID if paid else CheckoutStatus.PROCESSING)
        return EventStatus.PROCESSED
    if mode != "payment":
        return EventStatus.IGNORED
    if not paid:
        # Bank debits and the like: the money arrives later, with async_payment_succeeded.
        checkout.mark_checkout(values.get("gift"), text(session, "id", required=True),
                                CheckoutStatus.PROCESSING)
        return EventStatus.PROCESSED
    return _record_session_payment(session, as_of)


def on_async_payment_succeeded(session: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    if not is_donation(_gift_metadata(session)) or text(session, "mode") != "payment":
        return EventStatus.IGNORED
    return _record_session_payment(session, as_of)


def on_async_payment_failed(session: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    values = _gift_metadata(session)
    if not is_donation(values):
        return EventStatus.IGNORED
    checkout.mark_checkout(values.get("gift"), text(session, "id", required=True),
                            CheckoutStatus.FAILED)
    return EventStatus.PROCESSED


def on_checkout_expired(session: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    """The payment page closed unpaid: the pending gift is abandoned (a paid one stays)."""
    values = _gift_metadata(session)
    if not is_donation(values):
        return EventStatus.IGNORED
    checkout.mark_checkout(values.get("gift"), text(session, "id", required=True),
                            CheckoutStatus.EXPIRED)
    return EventStatus.PROCESSED


def _record_session_payment(session: StripeObject, as_of: datetime) -> str:
    values = _gift_metadata(session)
    recording.record_one_time_payment(recording.Payment(
        amount_cents=amount(session, "amount_total", required=True),
        currency=currency(session, "currency", required=True),
        paid_at=as_of,
        email=_email(session),
        name=_name(mapping(session, "customer_details")),
        customer_id=object_id(session, "customer"),
        gift_public_id=values.get("gift"),
        campaign=values.get("campaign"),
        checkout_session_id=text(session, "id", required=True),
        payment_intent_id=object_id(session, "payment_intent"),
    ))
    return EventStatus.PROCESSED


# Invoices ---------------------------------------------------------------------------------

def _subscription_details(invoice: StripeObject) -> tuple[str | None, dict]:
    details = mapping(mapping(invoice, "parent"), "subscription_details")
    return object_id(details, "subscription"), _gift_metadata(details)


def _gift_for_invoice(invoice: StripeObject, as_of: datetime, gateway: Gateway):
    subscription_id, values = _subscription_details(invoice)
    customer_id = object_id(invoice, "customer")
    return recurring.apply_subscription_state(recurring.SubscriptionState(
        subscription_id=subscription_id,
        as_of=as_of,
        customer_id=customer_id,
        email=text(invoice, "customer_email", max_length=320)
        or _email_if_unknown(customer_id, values.get("gift"), subscription_id, gateway),
        gift_public_id=values.get("gift"),
        amount_cents=amount(invoice, "amount_due"),
        currency=currency(invoice, "currency"),
        frequency=values.get("frequency") or _billing_frequency(invoice),
        campaign=values.get("campaign"),
        authoritative=False,
    ))


def _billing_frequency(invoice: StripeObject) -> str:
    """Monthly or yearly, from the period the invoice's subscription line bills: a Payment
    Link's gift carries no frequency in its metadata, and its invoice can arrive before
    its subscription (basil's invoice lines name the price but not its interval)."""
    for line in items(invoice, "lines"):
        period = mapping(line, "period")
        start, end = moment(period, "start"), moment(period, "end")
        if start and end and end - start > YEARLY_PERIOD:
            return Frequency.YEARLY
    return Frequency.MONTHLY


def _invoice_payment_intent(invoice: StripeObject, gateway: Gateway) -> str | None:
    # `payments` comes only when expanded; otherwise ask the Invoice Payments API.
    expanded = items(invoice, "payments")
    if expanded:
        for payment in expanded:
            if text(payment, "status", max_length=32) == "paid":
                return object_id(mapping(payment, "payment"), "payment_intent")
        return None
    return gateway.payment_intent_for_invoice(text(invoice, "id", required=True))


def on_invoice_paid(invoice: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    subscription_id, values = _subscription_details(invoice)
    if not subscription_id or not is_donation(values) or not amount(invoice, "amount_paid"):
        return EventStatus.IGNORED
    gift = _gift_for_invoice(invoice, as_of, gateway)
    paid_at = moment(mapping(invoice, "status_transitions"), "paid_at") or as_of
    recurring.record_recurring_payment(recording.Payment(
        amount_cents=amount(invoice, "amount_paid", required=True),
        currency=currency(invoice, "currency", required=True),
        paid_at=paid_at,
        email=text(invoice, "customer_email", max_length=320),
        name=_name(invoice, "customer_name"),
        customer_id=object_id(invoice, "customer"),
        gift_public_id=values.get("gift"),
        billing_reason=text(invoice, "billing_reason", max_length=40),
        invoice_id=text(invoice, "id", required=True),
        payment_intent_id=_invoice_payment_intent(invoice, gateway),
        subscription_id=subscription_id,
    ), gift, as_of)
    return EventStatus.PROCESSED


def on_invoice_payment_failed(invoice: StripeObject, as_of: datetime, gateway: Gateway,
                              authentication_link: str | None = None) -> str:
    subscription_id, values = _subscription_details(invoice)
    if not subscription_id or not is_donation(values):
        return EventStatus.IGNORED
    gift = _gift_for_invoice(invoice, as_of, gateway)
    recurring.record_payment_failure(
        gift,
        invoice_id=text(invoice, "id", required=True),
        attempt_count=min(amount(invoice, "attempt_count") or 1, 1000),
        amount_cents=amount(invoice, "amount_due") or 0,
        currency=currency(invoice, "currency", required=True),
        failed_at=as_of,
        next_attempt_at=moment(invoice, "next_payment_attempt"),
        authentication_link=authentication_link,
    )
    return EventStatus.PROCESSED


def on_invoice_action_required(invoice: StripeObject, as_of: datetime,
                               gateway: Gateway) -> str:
    """The renewal needs the donor to authenticate (3-D Secure): the charge has not gone
    through yet, and the hosted invoice page is where they confirm it."""
    link = text(invoice, "hosted_invoice_url", max_length=2000)
    # Stripe's page, or the sandbox's stand-in for it on this site.
    if link is not None and not link.startswith(("https://",
                                                 current_app.config["SITE_URL"] + "/")):
        raise MalformedEvent("'hosted_invoice_url' must be an https address")
    return on_invoice_payment_failed(invoice, as_of, gateway,
                                     authentication_link=link or external_url(
                                         "donations.giving"))


# Subscriptions ----------------------------------------------------------------------------

def on_subscription_changed(subscription: StripeObject, as_of: datetime,
                            gateway: Gateway) -> str:
    values = _gift_metadata(subscription)
    if not is_donation(values):
        return EventStatus.IGNORED
    subscription_id = text(subscription, "id", required=True)
    item = (items(subscription, "items") or [{}])[0]
    price = mapping(item, "price")
    interval = text(mapping(price, "recurring"), "interval")
    unit_amount = amount(price, "unit_amount")
    quantity = amount(item, "quantity") or 1
    details = mapping(subscription, "cancellation_details")
    pause = mapping(subscription, "pause_collection")
    status = text(subscription, "status", required=True, max_length=24)
    ended = status == SubscriptionStatus.CANCELED
    customer_id = object_id(subscription, "customer")
    recurring.apply_subscription_state(recurring.SubscriptionState(
        subscription_id=subscription_id,
        as_of=as_of,
        customer_id=customer_id,
        email=_email_if_unknown(customer_id, values.get("gift"), subscription_id, gateway),
        gift_public_id=values.get("gift"),
        started_at=moment(subscription, "start_date"),
        status=status,
        amount_cents=_subscription_amount(unit_amount, quantity),
        currency=currency(subscription, "currency"),
        frequency=FREQUENCY_FOR_INTERVAL.get(interval) or values.get("frequency"),
        campaign=values.get("campaign"),
        cancel_at_period_end=subscription.get("cancel_at_period_end") is True,
        cancel_at=moment(subscription, "cancel_at"),
        collection_paused=bool(pause),
        collection_resumes_at=moment(pause, "resumes_at"),
        current_period_end=moment(item, "current_period_end"),
        ended_at=(moment(subscription, "ended_at") or as_of) if ended else None,
        cancel_reason=text(details, "comment", max_length=5000),
        cancel_feedback=_choice(text(details, "feedback", max_length=32), CancelFeedback),
        cancellation_said="cancellation_details" in subscription,
        ended_because=_choice(text(details, "reason", max_length=32), CancellationReason),
        # An id in events; the payment method itself when read from Stripe (expanded).
        payment_method_id=object_id(subscription, "default_payment_method"),
        card=card(subscription.get("default_payment_method")),
        no_payment_method="default_payment_method" in subscription
        and subscription["default_payment_method"] is None,
    ))
    return EventStatus.PROCESSED


def _choice(value: str | None, known: type[StrEnum]) -> str | None:
    """Stripe's word, if it is one we know (a newer API version may add more)."""
    return value if value in tuple(known) else None


def _subscription_amount(unit_amount: int | None, quantity: int) -> int | None:
    if not unit_amount:
        return None
    if unit_amount * quantity > MAX_AMOUNT:
        raise MalformedEvent("'unit_amount' times 'quantity' is larger than any gift")
    return unit_amount * quantity


def on_subscription_deleted(subscription: StripeObject, as_of: datetime,
                            gateway: Gateway) -> str:
    return on_subscription_changed({**subscription, "status": SubscriptionStatus.CANCELED}, as_of,
                                   gateway)


def on_payment_method_changed(payment_method: StripeObject, as_of: datetime,
                              gateway: Gateway) -> str:
    """A card's details changed (Stripe's card updater brings a new expiry or number):
    the gifts it pays for show the new ones."""
    new_card = card(payment_method)
    if new_card is None:
        return EventStatus.IGNORED
    gifts = recurring.update_card(text(payment_method, "id", required=True), new_card, as_of)
    return EventStatus.PROCESSED if gifts else EventStatus.IGNORED


# Refunds and disputes -----------------------------------------------------------------------

def _ensure_invoice_donation_knows(payment_intent_id: str | None, gateway: Gateway) -> None:
    """A recurring payment may have been recorded before we learnt its PaymentIntent."""
    if payment_intent_id and not recording.donation_with_payment_intent(payment_intent_id):
        invoice_id = gateway.invoice_for_payment_intent(payment_intent_id)
        if invoice_id:
            recording.attach_payment_intent(invoice_id, payment_intent_id)


def _refund_state(refund: StripeObject) -> charges.RefundState:
    return charges.RefundState(refund_id=text(refund, "id", required=True),
                                 amount=amount(refund, "amount") or 0,
                                 status=text(refund, "status", max_length=32) or "succeeded")


def on_charge_refunded(charge: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    payment_intent_id = object_id(charge, "payment_intent")
    _ensure_invoice_donation_knows(payment_intent_id, gateway)
    # The refunds come along only when expanded; refund events tell of each one anyway.
    donation = charges.apply_charge_state(
        text(charge, "id", required=True), payment_intent_id, as_of,
        amount_refunded=amount(charge, "amount_refunded") or 0,
        refunds=tuple(_refund_state(refund) for refund in items(charge, "refunds")),
        settlement=settlement_of(charge))
    return EventStatus.PROCESSED if donation is not None else EventStatus.IGNORED


def on_charge_settled(charge: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    """A charge that succeeded, or was updated: its balance transaction, once Stripe has
    one (read with the charge from Stripe, expanded), gives the settled amount and fee.
    Kept for a charge of no known donation too: its donation may be recorded later."""
    settlement = settlement_of(charge)
    if settlement is None or text(charge, "status", max_length=32) != "succeeded":
        return EventStatus.IGNORED
    donation = charges.apply_charge_state(text(charge, "id", required=True),
                                          object_id(charge, "payment_intent"), as_of,
                                          settlement=settlement)
    return EventStatus.PROCESSED if donation is not None else EventStatus.IGNORED


def settlement_of(charge: StripeObject) -> charges.Settlement | None:
    """The charge's balance transaction when Stripe expanded it (an id alone says
    nothing of the amounts)."""
    if not isinstance(charge.get("balance_transaction"), dict):
        return None
    balance = mapping(charge, "balance_transaction")
    return charges.Settlement(
        balance_transaction_id=text(balance, "id", required=True),
        currency=currency(balance, "currency", required=True).lower(),
        amount_cents=amount(balance, "amount", required=True),
        fee_cents=amount(balance, "fee") or 0)


def on_refund(refund: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    """A refund created, updated or failed: a failed one gives the amount back to the gift."""
    charge_id = object_id(refund, "charge")
    if not charge_id:
        return EventStatus.IGNORED
    payment_intent_id = object_id(refund, "payment_intent")
    _ensure_invoice_donation_knows(payment_intent_id, gateway)
    donation = charges.apply_charge_state(charge_id, payment_intent_id, as_of,
                                            refunds=(_refund_state(refund),))
    return EventStatus.PROCESSED if donation is not None else EventStatus.IGNORED


def on_dispute(dispute: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    payment_intent_id = object_id(dispute, "payment_intent")
    charge_id = object_id(dispute, "charge")
    if not charge_id:
        return EventStatus.IGNORED
    _ensure_invoice_donation_knows(payment_intent_id, gateway)
    donation = charges.apply_charge_state(charge_id, payment_intent_id, as_of,
                                            dispute_status=text(dispute, "status",
                                                                max_length=32))
    return EventStatus.PROCESSED if donation is not None else EventStatus.IGNORED


Handler = Callable[[StripeObject, datetime, Gateway], str]

HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": on_checkout_completed,
    "checkout.session.async_payment_succeeded": on_async_payment_succeeded,
    "checkout.session.async_payment_failed": on_async_payment_failed,
    "checkout.session.expired": on_checkout_expired,
    "invoice.paid": on_invoice_paid,
    "invoice.payment_failed": on_invoice_payment_failed,
    "invoice.payment_action_required": on_invoice_action_required,
    "customer.subscription.created": on_subscription_changed,
    "customer.subscription.updated": on_subscription_changed,
    "customer.subscription.deleted": on_subscription_deleted,
    "payment_method.updated": on_payment_method_changed,
    "payment_method.automatically_updated": on_payment_method_changed,
    "payment_method.attached": on_payment_method_changed,
    "charge.refunded": on_charge_refunded,
    "charge.succeeded": on_charge_settled,
    "charge.updated": on_charge_settled,
    "charge.refund.updated": on_refund,
    "refund.created": on_refund,
    "refund.updated": on_refund,
    "refund.failed": on_refund,
    "charge.dispute.created": on_dispute,
    "charge.dispute.updated": on_dispute,
    "charge.dispute.closed": on_dispute,
}


# Events whose object is applied as Stripe holds it now, not as the event's copy had it:
# then neither the order of delivery nor a tie in one second can leave a stale state.
CURRENT_STATE = {
    "customer.subscription.created": "subscription",
    "customer.subscription.updated": "subscription",
    "customer.subscription.deleted": "subscription",
    "charge.refunded": "charge",
    "charge.succeeded": "charge",
    "charge.updated": "charge",
}


@dataclass(frozen=True)
class CurrentState:
    """Stripe's object as read at `read_at` (which stands in for the event's time)."""

    obj: StripeObject
    read_at: datetime


def apply_event(event: dict[str, Any], gateway: Gateway,
                current: CurrentState | None = None) -> str:
    handler = HANDLERS.get(event.get("type", ""))
    if handler is None:
        return EventStatus.IGNORED
    if current is not None:
        return handler(current.obj, current.read_at, gateway)
    return handler(event["data"]["object"], moment(event, "created"), gateway)
