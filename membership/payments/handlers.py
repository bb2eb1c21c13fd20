"""What each Stripe event does: translate the object, hand the facts to donations.

Each handler returns PROCESSED or IGNORED. Anything without our donation metadata is
ignored (but stays stored). Every handler is safe to run twice: the donation services
insert-or-ignore on Stripe ids and compare event times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from membership.donations import services as donations
from membership.donations.gateway import Gateway, GatewayError
from membership.donations.models import FAILED, INTERVALS, MONTHLY, PAID, PROCESSING
from membership.payments.models import IGNORED, PROCESSED
from membership.urls import external_url

StripeObject = dict[str, Any]
FREQUENCY_FOR_INTERVAL = {interval: frequency for frequency, interval in INTERVALS.items()}


def timestamp(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


def is_donation(metadata: dict | None) -> bool:
    return (metadata or {}).get("purpose") == "donation"


def _email(session: StripeObject) -> str | None:
    details = session.get("customer_details") or {}
    return details.get("email") or session.get("customer_email")


def _id(value: str | dict | None) -> str | None:
    """Stripe ids can arrive expanded into objects."""
    if isinstance(value, dict):
        return value.get("id")
    return value


def _email_if_unknown(customer_id: str | None, gift_public_id: str | None,
                     subscription_id: str, gateway: Gateway) -> str | None:
    """Ask Stripe for the customer's e-mail only when nothing we hold names the donor
    (an event about a subscription that arrives before its checkout)."""
    if donations.recurring_gift_exists(subscription_id) \
            or donations.knows_donor(customer_id, gift_public_id) or not customer_id:
        return None
    try:
        return gateway.customer_email(customer_id)
    except GatewayError:
        # Not fatal: the gift is kept without a donor until the checkout or an invoice,
        # which carry the e-mail, arrive.
        return None


# Checkout ---------------------------------------------------------------------------------

def on_checkout_completed(session: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    metadata = session.get("metadata") or {}
    if not is_donation(metadata):
        return IGNORED
    paid = session.get("payment_status") in ("paid", "no_payment_required")
    if session.get("mode") == "subscription" and not session.get("subscription"):
        return IGNORED  # no subscription was started; its events will tell us if one is
    if session.get("mode") == "subscription":
        donations.apply_subscription_state(donations.SubscriptionState(
            subscription_id=_id(session["subscription"]),
            as_of=as_of,
            customer_id=_id(session.get("customer")),
            email=_email(session),
            gift_public_id=metadata.get("gift"),
            status="active" if paid else "incomplete",
            amount_cents=session.get("amount_total"),
            currency=session.get("currency"),
            frequency=metadata.get("frequency"),
            campaign=metadata.get("campaign"),
            authoritative=False,
        ))
        donations.mark_checkout(metadata.get("gift"), session["id"],
                                PAID if paid else PROCESSING)
        return PROCESSED
    if session.get("mode") != "payment":
        return IGNORED
    if not paid:
        # Bank debits and the like: the money arrives later, with async_payment_succeeded.
        donations.mark_checkout(metadata.get("gift"), session["id"], PROCESSING)
        return PROCESSED
    return _record_session_payment(session, as_of)


def on_async_payment_succeeded(session: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    if not is_donation(session.get("metadata")) or session.get("mode") != "payment":
        return IGNORED
    return _record_session_payment(session, as_of)


def on_async_payment_failed(session: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    metadata = session.get("metadata") or {}
    if not is_donation(metadata):
        return IGNORED
    donations.mark_checkout(metadata.get("gift"), session["id"], FAILED)
    return PROCESSED


def _record_session_payment(session: StripeObject, as_of: datetime) -> str:
    metadata = session.get("metadata") or {}
    details = session.get("customer_details") or {}
    donations.record_one_time_payment(donations.Payment(
        amount_cents=session["amount_total"],
        currency=session["currency"],
        paid_at=as_of,
        email=_email(session),
        name=details.get("name") or "",
        customer_id=_id(session.get("customer")),
        gift_public_id=metadata.get("gift"),
        campaign=metadata.get("campaign"),
        checkout_session_id=session["id"],
        payment_intent_id=_id(session.get("payment_intent")),
    ))
    return PROCESSED


# Invoices ---------------------------------------------------------------------------------

def _subscription_details(invoice: StripeObject) -> tuple[str | None, dict]:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return _id(details.get("subscription")), details.get("metadata") or {}


def _gift_for_invoice(invoice: StripeObject, as_of: datetime, gateway: Gateway):
    subscription_id, metadata = _subscription_details(invoice)
    customer_id = _id(invoice.get("customer"))
    return donations.apply_subscription_state(donations.SubscriptionState(
        subscription_id=subscription_id,
        as_of=as_of,
        customer_id=customer_id,
        email=invoice.get("customer_email")
        or _email_if_unknown(customer_id, metadata.get("gift"), subscription_id, gateway),
        gift_public_id=metadata.get("gift"),
        amount_cents=invoice.get("amount_due"),
        currency=invoice.get("currency"),
        frequency=metadata.get("frequency") or MONTHLY,
        campaign=metadata.get("campaign"),
        authoritative=False,
    ))


def _invoice_payment_intent(invoice: StripeObject, gateway: Gateway) -> str | None:
    # `payments` comes only when expanded; otherwise ask the Invoice Payments API.
    for payment in (invoice.get("payments") or {}).get("data", []):
        if payment.get("payment", {}).get("payment_intent"):
            return _id(payment["payment"]["payment_intent"])
    return gateway.payment_intent_for_invoice(invoice["id"])


def on_invoice_paid(invoice: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    subscription_id, metadata = _subscription_details(invoice)
    if not subscription_id or not is_donation(metadata) or not invoice.get("amount_paid"):
        return IGNORED
    gift = _gift_for_invoice(invoice, as_of, gateway)
    paid_at = timestamp((invoice.get("status_transitions") or {}).get("paid_at")) or as_of
    donations.record_recurring_payment(donations.Payment(
        amount_cents=invoice["amount_paid"],
        currency=invoice["currency"],
        paid_at=paid_at,
        email=invoice.get("customer_email"),
        name=invoice.get("customer_name") or "",
        customer_id=_id(invoice.get("customer")),
        gift_public_id=metadata.get("gift"),
        billing_reason=invoice.get("billing_reason"),
        invoice_id=invoice["id"],
        payment_intent_id=_invoice_payment_intent(invoice, gateway),
        subscription_id=subscription_id,
    ), gift, as_of)
    return PROCESSED


def on_invoice_payment_failed(invoice: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    subscription_id, metadata = _subscription_details(invoice)
    if not subscription_id or not is_donation(metadata):
        return IGNORED
    gift = _gift_for_invoice(invoice, as_of, gateway)
    donations.record_payment_failure(
        gift,
        invoice_id=invoice["id"],
        attempt_count=invoice.get("attempt_count") or 1,
        amount_cents=invoice.get("amount_due") or 0,
        currency=invoice["currency"],
        failed_at=as_of,
        update_card_link=external_url("donations.giving"),
    )
    return PROCESSED


# Subscriptions ----------------------------------------------------------------------------

def on_subscription_changed(subscription: StripeObject, as_of: datetime,
                            gateway: Gateway) -> str:
    metadata = subscription.get("metadata") or {}
    if not is_donation(metadata):
        return IGNORED
    items = (subscription.get("items") or {}).get("data") or [{}]
    item = items[0]
    price = item.get("price") or {}
    interval = (price.get("recurring") or {}).get("interval")
    unit_amount = price.get("unit_amount")
    details = subscription.get("cancellation_details") or {}
    ended = subscription.get("status") == donations.CANCELED
    customer_id = _id(subscription.get("customer"))
    donations.apply_subscription_state(donations.SubscriptionState(
        subscription_id=subscription["id"],
        as_of=as_of,
        customer_id=customer_id,
        email=_email_if_unknown(customer_id, metadata.get("gift"), subscription["id"],
                                gateway),
        gift_public_id=metadata.get("gift"),
        started_at=timestamp(subscription.get("start_date")),
        status=subscription.get("status"),
        amount_cents=unit_amount * (item.get("quantity") or 1) if unit_amount else None,
        currency=subscription.get("currency"),
        frequency=FREQUENCY_FOR_INTERVAL.get(interval) or metadata.get("frequency"),
        campaign=metadata.get("campaign"),
        cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
        current_period_end=timestamp(item.get("current_period_end")),
        ended_at=(timestamp(subscription.get("ended_at")) or as_of) if ended else None,
        cancel_reason=details.get("comment") or details.get("feedback"),
    ))
    return PROCESSED


def on_subscription_deleted(subscription: StripeObject, as_of: datetime,
                            gateway: Gateway) -> str:
    return on_subscription_changed({**subscription, "status": donations.CANCELED}, as_of,
                                   gateway)


# Refunds and disputes -----------------------------------------------------------------------

def _ensure_invoice_donation_knows(payment_intent_id: str | None, gateway: Gateway) -> None:
    """A recurring payment may have been recorded before we learnt its PaymentIntent."""
    if payment_intent_id and not donations.donation_with_payment_intent(payment_intent_id):
        invoice_id = gateway.invoice_for_payment_intent(payment_intent_id)
        if invoice_id:
            donations.attach_payment_intent(invoice_id, payment_intent_id)


def on_charge_refunded(charge: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    payment_intent_id = _id(charge.get("payment_intent"))
    _ensure_invoice_donation_knows(payment_intent_id, gateway)
    donation = donations.apply_charge_state(charge["id"], payment_intent_id, as_of,
                                            amount_refunded=charge.get("amount_refunded") or 0)
    return PROCESSED if donation is not None else IGNORED


def on_dispute(dispute: StripeObject, as_of: datetime, gateway: Gateway) -> str:
    payment_intent_id = _id(dispute.get("payment_intent"))
    _ensure_invoice_donation_knows(payment_intent_id, gateway)
    donation = donations.apply_charge_state(_id(dispute["charge"]), payment_intent_id, as_of,
                                            dispute_status=dispute.get("status"))
    return PROCESSED if donation is not None else IGNORED


Handler = Callable[[StripeObject, datetime, Gateway], str]

HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": on_checkout_completed,
    "checkout.session.async_payment_succeeded": on_async_payment_succeeded,
    "checkout.session.async_payment_failed": on_async_payment_failed,
    "invoice.paid": on_invoice_paid,
    "invoice.payment_failed": on_invoice_payment_failed,
    "customer.subscription.created": on_subscription_changed,
    "customer.subscription.updated": on_subscription_changed,
    "customer.subscription.deleted": on_subscription_deleted,
    "charge.refunded": on_charge_refunded,
    "charge.dispute.created": on_dispute,
    "charge.dispute.updated": on_dispute,
    "charge.dispute.closed": on_dispute,
}


def apply_event(event: dict[str, Any], gateway: Gateway) -> str:
    handler = HANDLERS.get(event.get("type", ""))
    if handler is None:
        return IGNORED
    return handler(event["data"]["object"], timestamp(event["created"]), gateway)
