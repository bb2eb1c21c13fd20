"""A local stand-in for Stripe Checkout and the Customer Portal (development and testing).

It builds the same Stripe-shaped objects and events Stripe would send for each step,
signs them with the webhook secret and delivers them through the real webhook intake, so
`make run` gives the whole donation flow with no network and no Stripe account."""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import stripe
from flask import Flask, current_app, url_for

from membership import tokens
from membership.donations.gateway import CheckoutSession, GatewayError
from membership.donations.models import (
    INTERVALS,
    Checkout,
    Donation,
    Frequency,
    RecurringGift,
    SubscriptionStatus,
)
from membership.donations.money import to_major, to_minor
from membership.extensions import db
from membership.payments.gateway import donation_metadata

PAY, DECLINE, PAY_THEN_FAIL = "pay", "decline", "pay_then_fail"
# A bank debit: the session completes unpaid and the money arrives (or not) later.
DEBIT_PAID, DEBIT_FAILED, EXPIRE = "debit_paid", "debit_failed", "expire"
CHECKOUT_ACTIONS = (PAY, PAY_THEN_FAIL, DEBIT_PAID, DEBIT_FAILED, EXPIRE)
# What can happen to a gift after its checkout, as Stripe's events tell it.
DONATION_ACTIONS = ("refund", "refund_fails", "dispute_lost", "dispute_won")
GIFT_ACTIONS = ("renewal_paid", "renewal_fails", "renewal_needs_authentication")


def _id(prefix: str) -> str:
    return f"{prefix}_sbx_{secrets.token_hex(12)}"


class SandboxGateway:
    name = "sandbox"
    livemode = False

    def create_checkout(self, checkout: Checkout, success_url: str,
                        cancel_url: str) -> CheckoutSession:
        session_id = _id("cs_test")
        # Like Stripe Checkout's back link: to the gift form as the donor filled it in.
        back = urlsplit(cancel_url)
        return CheckoutSession(id=session_id, url=url_for(
            "sandbox.checkout", session_id=session_id,
            back=back.path + (f"?{back.query}" if back.query else "")))

    def update_card_url(self, gift: RecurringGift, return_url: str) -> str:
        back = urlsplit(return_url)
        return url_for("sandbox.update_card", gift_id=gift.id, session=tokens.make(
            PORTAL_SESSION, {"gift": gift.id, "version": gift.manage_version,
                             "return": back.path}))

    def change_amount(self, gift: RecurringGift, amount_cents: int) -> None:
        deliver([event("customer.subscription.updated",
                       gift_subscription(gift, amount_cents=amount_cents), after(gift))])

    def cancel(self, gift: RecurringGift, reason: str, at_period_end: bool = False,
               feedback: str | None = None) -> None:
        if at_period_end:
            deliver([event("customer.subscription.updated",
                           gift_subscription(gift, cancel_at_period_end=True, reason=reason,
                                             feedback=feedback), after(gift))])
            return
        deliver([event("customer.subscription.deleted",
                       gift_subscription(gift, status="canceled", reason=reason,
                                         feedback=feedback), after(gift))])

    def keep(self, gift: RecurringGift) -> None:
        deliver([event("customer.subscription.updated",
                       gift_subscription(gift, cancel_at_period_end=False, reason=CLEARED,
                                         feedback=CLEARED), after(gift))])

    def pause(self, gift: RecurringGift, resumes_at: datetime | None) -> None:
        pause = {"behavior": "void",
                 "resumes_at": int(resumes_at.timestamp()) if resumes_at else None}
        deliver([event("customer.subscription.updated",
                       gift_subscription(gift, pause_collection=pause), after(gift))])

    def switch(self, gift: RecurringGift, frequency: str, amount_cents: int) -> None:
        deliver([event("customer.subscription.updated",
                       gift_subscription(gift, amount_cents=amount_cents, frequency=frequency),
                       after(gift))])

    def resume(self, gift: RecurringGift) -> None:
        deliver([event("customer.subscription.updated",
                       gift_subscription(gift, pause_collection=None), after(gift))])

    # Nothing to look up: sandbox events carry everything.
    def payment_intent_for_invoice(self, invoice_id: str) -> str | None:
        return None

    def invoice_for_payment_intent(self, payment_intent_id: str) -> str | None:
        return None

    def customer_email(self, customer_id: str) -> str | None:
        return None

    def current_object(self, kind: str, object_id: str) -> dict[str, Any] | None:
        return None  # the sandbox's events are the whole truth

    def charge_of(self, donation: Donation) -> dict[str, Any] | None:
        return settled_charge(donation.stripe_payment_intent_id or _id("pi"),
                              donation.amount_cents, donation.currency,
                              int(donation.created_at.timestamp()), donation.stripe_charge_id)

    def events_since(self, created_gte: int) -> Iterator[dict[str, Any]]:
        raise GatewayError("The sandbox keeps no event list; its events are delivered at once.")


# Stripe-shaped objects ----------------------------------------------------------------------

PORTAL_SESSION = "sandbox.portal-session"
PORTAL_SESSION_AGE = 3600  # Stripe's portal sessions last a few minutes; a sandbox hour


def portal_session(token: str, gift: RecurringGift | None) -> str | None:
    """The page a valid portal session of this gift returns to; None when it is not one
    (nor one opened before the donor disabled the gift's links)."""
    try:
        session = tokens.read(PORTAL_SESSION, token, PORTAL_SESSION_AGE)
    except tokens.BadToken:
        return None
    if (gift is None or not isinstance(session, dict) or session.get("gift") != gift.id
            or session.get("version") != gift.manage_version):
        return None
    return str(session.get("return") or "/")


def after(gift: RecurringGift) -> int:
    """A time for the gift's next event: now, or a second after the newest event it has
    seen when that is later (the sandbox plays a month's events within seconds, and of
    two events of one second either may apply first)."""
    seen = [moment.timestamp() for moment in (gift.state_as_of, gift.status_as_of) if moment]
    return max(int(time.time()), int(max(seen, default=0)) + 1)


def event(event_type: str, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    return {
        "id": _id("evt"),
        "object": "event",
        "api_version": stripe.api_version,
        "created": created or int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def checkout_session_object(checkout: Checkout, customer_id: str,
                            subscription_id: str | None = None,
                            payment_intent_id: str | None = None) -> dict[str, Any]:
    now = int(time.time())
    return {
        "id": checkout.stripe_session_id,
        "object": "checkout.session",
        "amount_subtotal": checkout.amount_cents,
        "amount_total": checkout.amount_cents,
        "client_reference_id": checkout.public_id,
        "created": now,
        "currency": checkout.currency,
        "customer": customer_id,
        "customer_details": {"email": checkout.donor.email, "name": checkout.donor.name or None},
        "customer_email": checkout.donor.email,
        "expires_at": now + 86400,
        "invoice": None,
        "livemode": False,
        "metadata": donation_metadata(checkout),
        "mode": "payment" if checkout.frequency == Frequency.ONCE else "subscription",
        "payment_intent": payment_intent_id,
        "payment_status": "paid",
        "status": "complete",
        "subscription": subscription_id,
        "url": None,
    }


def subscription_object(subscription_id: str, customer_id: str, currency: str, frequency: str,
                        amount_cents: int, metadata: dict[str, str], started: int,
                        status: str = "active", reason: str = "",
                        cancel_at_period_end: bool = False,
                        pause_collection: dict[str, Any] | None = None,
                        period_end: int | None = None,
                        payment_method: dict[str, Any] | None = None,
                        feedback: str | None = None) -> dict[str, Any]:
    now = int(time.time())
    period = 31 * 86400 if frequency == "monthly" else 365 * 86400
    period_end = period_end or now + period
    canceled = status == "canceled"
    asked = canceled or cancel_at_period_end
    return {
        "id": subscription_id,
        "object": "subscription",
        "cancel_at_period_end": cancel_at_period_end,
        "cancel_at": period_end if cancel_at_period_end else None,
        "canceled_at": now if asked else None,
        "cancellation_details": {"comment": reason or None, "feedback": feedback,
                                 "reason": "cancellation_requested" if asked else None},
        "created": started,
        "currency": currency,
        "customer": customer_id,
        # Expanded, as Stripe's answer to reading the subscription with its card is (its
        # events carry only the id): the sandbox's events are all there is to read.
        "default_payment_method": payment_method or sandbox_card(),
        "ended_at": now if canceled else None,
        "items": {"object": "list", "data": [{
            "id": f"si_{subscription_id}",
            "object": "subscription_item",
            "current_period_start": period_end - period,
            "current_period_end": period_end,
            "quantity": 1,
            "price": {"object": "price", "currency": currency, "product": "prod_sbx_gift",
                      "recurring": {"interval": INTERVALS[frequency], "interval_count": 1},
                      "type": "recurring", "unit_amount": amount_cents},
        }]},
        "livemode": False,
        "metadata": metadata,
        "pause_collection": pause_collection,
        "start_date": started,
        "status": status,
    }


def gift_metadata(gift: RecurringGift) -> dict[str, str]:
    metadata = {"purpose": "donation", "frequency": gift.frequency}
    if gift.campaign:
        metadata["campaign"] = gift.campaign
    return metadata


KEEP = object()  # a gift_subscription argument left as the gift has it
CLEARED = object()  # a gift_subscription reason or feedback taken away


def sandbox_card(brand: str = "visa", last4: str = "4242", years: int = 3,
                 payment_method_id: str | None = None) -> dict[str, Any]:
    """A card payment method as Stripe shows it, expiring in December `years` from now."""
    return {"id": payment_method_id or _id("pm"), "object": "payment_method", "type": "card",
            "card": {"brand": brand, "last4": last4, "exp_month": 12,
                     "exp_year": datetime.now(UTC).year + years}}


def _gift_card(gift: RecurringGift) -> dict[str, Any] | None:
    if not gift.card_last4:
        return None
    return {"id": gift.stripe_payment_method_id or _id("pm"), "object": "payment_method",
            "type": "card", "card": {"brand": gift.card_brand, "last4": gift.card_last4,
                                     "exp_month": gift.card_exp_month,
                                     "exp_year": gift.card_exp_year}}


def gift_subscription(gift: RecurringGift, status: str | None = None,
                      amount_cents: int | None = None, reason: Any = "",
                      cancel_at_period_end: bool | None = None,
                      pause_collection: Any = KEEP,
                      frequency: str | None = None,
                      payment_method: dict[str, Any] | None = None,
                      feedback: Any = None) -> dict[str, Any]:
    """The subscription object of an existing gift as it stands, with the given changes
    (a pause or a scheduled end the gift has is kept unless changed)."""
    if pause_collection is KEEP:
        pause_collection = {"behavior": "void", "resumes_at": int(
            gift.collection_resumes_at.timestamp()) if gift.collection_resumes_at else None
        } if gift.collection_paused else None
    return subscription_object(
        gift.stripe_subscription_id, gift.donor.stripe_customer_id, gift.currency,
        frequency or gift.frequency,
        gift.amount_cents if amount_cents is None else amount_cents,
        gift_metadata(gift), int(gift.started_at.timestamp()),
        status=status or ("active" if gift.status == "past_due" else gift.status),
        reason="" if reason is CLEARED else reason or (gift.cancel_reason or ""),
        cancel_at_period_end=(gift.cancel_at_period_end if cancel_at_period_end is None
                              else cancel_at_period_end),
        pause_collection=pause_collection,
        period_end=int(gift.current_period_end.timestamp()) if gift.current_period_end
        else None,
        payment_method=payment_method or _gift_card(gift),
        feedback=None if feedback is CLEARED else feedback or gift.cancel_feedback)


def invoice_object(subscription_id: str, customer_id: str, email: str, amount_cents: int,
                   currency: str, metadata: dict[str, str], billing_reason: str,
                   paid: bool, attempt_count: int = 1) -> dict[str, Any]:
    now = int(time.time())
    invoice_id = _id("in")
    payment_intent_id = _id("pi")
    return {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": amount_cents,
        "amount_paid": amount_cents if paid else 0,
        "amount_remaining": 0 if paid else amount_cents,
        "attempt_count": attempt_count,
        "attempted": True,
        "billing_reason": billing_reason,
        "created": now,
        "currency": currency,
        "customer": customer_id,
        "customer_email": email,
        "livemode": False,
        "parent": {"type": "subscription_details", "quote_details": None,
                   "subscription_details": {"metadata": metadata,
                                            "subscription": subscription_id}},
        # Real webhooks leave `payments` out unless expanded; the sandbox includes it so
        # refunds of sandbox payments can be matched without an API.
        "payments": {"object": "list", "data": [{
            "object": "invoice_payment", "invoice": invoice_id, "amount_paid": amount_cents,
            "currency": currency, "status": "paid" if paid else "open",
            "payment": {"type": "payment_intent", "payment_intent": payment_intent_id},
        }]},
        "status": "paid" if paid else "open",
        "status_transitions": {"paid_at": now if paid else None, "finalized_at": now},
        # Stripe tries a declined renewal again a few days later.
        "next_payment_attempt": None if paid else now + 3 * 86400,
    }


# The sandbox's own exchange rates, in US dollars per unit, and Stripe's standard card fee:
# enough for its payments to settle in the account's currency as Stripe's would.
SANDBOX_RATES = {"usd": Decimal("1"), "eur": Decimal("1.08"), "gbp": Decimal("1.27"),
                 "aed": Decimal("0.2723"), "ils": Decimal("0.27"), "jod": Decimal("1.41"),
                 "pkr": Decimal("0.0036"), "afn": Decimal("0.0142")}
SANDBOX_FEE_PERCENT, SANDBOX_FEE_FIXED = Decimal("2.9"), Decimal("0.30")


def settled_charge(payment_intent_id: str, amount_cents: int, currency: str,
                   created: int, charge_id: str | None = None) -> dict[str, Any]:
    """The charge of a paid payment with its balance transaction expanded, as `charge.
    succeeded` brings it once read from Stripe: settled in the account's currency (the
    first of DONATION_CURRENCIES), less the fee."""
    settlement = current_app.config["DONATION_CURRENCIES"][0]
    rate = (SANDBOX_RATES.get(currency, Decimal(1))
            / SANDBOX_RATES.get(settlement, Decimal(1)))
    settled = to_minor(to_major(amount_cents, currency) * rate, settlement)
    fee = to_minor(to_major(settled, settlement) * SANDBOX_FEE_PERCENT / 100
                   + SANDBOX_FEE_FIXED, settlement)
    charge_id = charge_id or _id("ch")
    return {
        "id": charge_id, "object": "charge", "amount": amount_cents, "currency": currency,
        "livemode": False, "payment_intent": payment_intent_id, "status": "succeeded",
        "paid": True, "created": created,
        "balance_transaction": {
            "id": _id("txn"), "object": "balance_transaction", "amount": settled,
            "currency": settlement, "fee": fee, "net": settled - fee,
            "exchange_rate": None if rate == 1 else float(rate), "source": charge_id,
            "type": "charge", "status": "pending", "created": created,
        },
    }


def _charge_event(payment_intent_id: str, amount_cents: int, currency: str,
                  created: int) -> dict[str, Any]:
    return event("charge.succeeded",
                 settled_charge(payment_intent_id, amount_cents, currency, created), created)


def _invoice_charge_event(invoice: dict[str, Any], created: int) -> dict[str, Any]:
    payment_intent_id = invoice["payments"]["data"][0]["payment"]["payment_intent"]
    return _charge_event(payment_intent_id, invoice["amount_paid"], invoice["currency"],
                         created)


def play_donation(donation: Donation, action: str) -> None:
    """A refund (that may fail) or a dispute (lost or won) of a recorded gift."""
    now = int(time.time())
    charge_id = donation.stripe_charge_id or _id("ch")
    charge = {"id": charge_id, "object": "charge", "amount": donation.amount_cents,
              "currency": donation.currency, "livemode": False,
              "payment_intent": donation.stripe_payment_intent_id}
    if action in ("refund", "refund_fails"):
        events = [event("charge.refunded", {**charge, "amount_refunded": donation.amount_cents,
                                            "refunded": True}, now)]
        if action == "refund_fails":
            events.append(event("refund.failed", {
                "id": _id("re"), "object": "refund", "amount": donation.amount_cents,
                "charge": charge_id, "payment_intent": donation.stripe_payment_intent_id,
                "currency": donation.currency, "status": "failed",
                "failure_reason": "expired_or_canceled_card"}, now + 1))
    else:
        dispute = {"id": _id("dp"), "object": "dispute", "amount": donation.amount_cents,
                   "charge": charge_id, "currency": donation.currency,
                   "payment_intent": donation.stripe_payment_intent_id,
                   "reason": "fraudulent"}
        events = [event("charge.dispute.created", {**dispute, "status": "needs_response"}, now),
                  event("charge.dispute.closed",
                        {**dispute, "status": "lost" if action == "dispute_lost" else "won"},
                        now + 1)]
    deliver(events)


def play_renewal(gift: RecurringGift, action: str, confirm_url: str) -> None:
    """The gift's next renewal: paid, declined, or held for the bank's confirmation."""
    now = after(gift)
    paid = action == "renewal_paid"
    renewal = invoice_object(gift.stripe_subscription_id, gift.donor.stripe_customer_id,
                             gift.donor.email, gift.amount_cents, gift.currency,
                             gift_metadata(gift), "subscription_cycle", paid=paid)
    if paid:
        deliver([event("invoice.paid", renewal, now), _invoice_charge_event(renewal, now)])
        return
    events = [event("invoice.payment_failed", renewal, now),
              event("customer.subscription.updated", gift_subscription(gift, "past_due"), now)]
    if action == "renewal_needs_authentication":
        events.insert(0, event("invoice.payment_action_required",
                               {**renewal, "hosted_invoice_url": confirm_url}, now))
    deliver(events)


# Delivery -------------------------------------------------------------------------------------

def deliver(events: list[dict[str, Any]]) -> None:
    """Sign each event and hand it to the real webhook intake, as Stripe would."""
    from membership.payments.webhook import receive_webhook

    secret = current_app.config["STRIPE_WEBHOOK_SECRET"]
    for item in events:
        raw = json.dumps(item)
        header = stripe.WebhookSignature.generate_signature_header(raw, secret)
        outcome = receive_webhook(raw.encode(), header)
        if outcome.http_status != 200:
            raise GatewayError(f"the sandbox webhook answered {outcome.http_status}: "
                               f"{outcome.body}")


def complete_checkout(checkout: Checkout, action: str) -> None:
    """What Stripe would send after the donor pressed Pay on the checkout page."""
    donor = checkout.donor
    customer_id = donor.stripe_customer_id or _id("cus")
    metadata = donation_metadata(checkout)
    if action == EXPIRE:
        session = checkout_session_object(checkout, customer_id)
        deliver([event("checkout.session.expired",
                       {**session, "status": "expired", "payment_status": "unpaid"})])
        return
    if checkout.frequency == Frequency.ONCE:
        session = checkout_session_object(checkout, customer_id,
                                          payment_intent_id=_id("pi"))
        if action in (DEBIT_PAID, DEBIT_FAILED):
            now = int(time.time())
            outcome = ("checkout.session.async_payment_succeeded" if action == DEBIT_PAID
                       else "checkout.session.async_payment_failed")
            events = [event("checkout.session.completed",
                            {**session, "payment_status": "unpaid"}, now),
                      event(outcome, {**session, "payment_status": "paid"
                                      if action == DEBIT_PAID else "unpaid"}, now + 1)]
            if action == DEBIT_PAID:
                events.append(_charge_event(session["payment_intent"], checkout.amount_cents,
                                            checkout.currency, now + 1))
            deliver(events)
            return
        now = int(time.time())
        deliver([event("checkout.session.completed", session, now),
                 _charge_event(session["payment_intent"], checkout.amount_cents,
                               checkout.currency, now)])
        return
    subscription_id = _id("sub")
    now = int(time.time())
    session = checkout_session_object(checkout, customer_id, subscription_id=subscription_id)
    subscription = subscription_object(subscription_id, customer_id, checkout.currency,
                                       checkout.frequency, checkout.amount_cents, metadata, now)
    first = invoice_object(subscription_id, customer_id, donor.email, checkout.amount_cents,
                           checkout.currency, metadata, "subscription_create", paid=True)
    # As Stripe does: the subscription is created incomplete and turns active once its
    # first invoice is paid, all in one second, and its events may come in any order.
    events = [
        event("customer.subscription.created", {**subscription, "status": "incomplete"}, now),
        event("checkout.session.completed", session, now),
        event("invoice.paid", first, now),
        _invoice_charge_event(first, now),
        event("customer.subscription.updated", subscription, now),
    ]
    _shuffle(events)
    if action == PAY_THEN_FAIL:
        # The next renewal, played at once but a second later (Stripe's events of one
        # second may apply in any order): the card is declined and the gift falls due.
        renewal = invoice_object(subscription_id, customer_id, donor.email,
                                 checkout.amount_cents, checkout.currency, metadata,
                                 "subscription_cycle", paid=False)
        events += [
            event("invoice.payment_failed", renewal, now + 1),
            event("customer.subscription.updated", {**subscription, "status": "past_due"},
                  now + 1),
        ]
    deliver(events)


def _shuffle(events: list[dict]) -> None:
    """Stripe promises no order; neither does the sandbox (not a secret: no CSPRNG)."""
    random.shuffle(events)  # nosec B311


def complete_later(app: Flask, checkout_id: int, action: str, delay: float) -> None:
    """Deliver the checkout's events from a background thread after `delay` seconds, so
    the thank-you page shows "processing" first, as it does with Stripe."""

    def run() -> None:
        time.sleep(delay)
        with app.app_context():
            try:
                complete_checkout(db.session.get(Checkout, checkout_id), action)
            except GatewayError:
                app.logger.exception("sandbox delivery failed")
            finally:
                db.session.remove()

    threading.Thread(target=run, daemon=True).start()


def update_card(gift: RecurringGift) -> None:
    """The donor gave a new card in the portal: it pays for the gift from now on, and a
    renewal that failed is tried again on it, and succeeds."""
    now = after(gift)  # after the failure it recovers from
    subscription = gift_subscription(gift, "active", payment_method=sandbox_card(
        "mastercard", "4444", years=4))
    events = [event("customer.subscription.updated", subscription, now)]
    if gift.status == SubscriptionStatus.PAST_DUE:
        paid = invoice_object(gift.stripe_subscription_id, gift.donor.stripe_customer_id,
                              gift.donor.email, gift.amount_cents, gift.currency,
                              gift_metadata(gift), "subscription_cycle", paid=True)
        events += [event("invoice.paid", paid, now), _invoice_charge_event(paid, now)]
    deliver(events)
