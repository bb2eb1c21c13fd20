"""The Stripe gateway, and the choice between it and the sandbox when the app is built."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import stripe
from flask import Flask, current_app
from flask_babel import gettext as _

from membership.donations.gateway import GATEWAY_KEY, CheckoutSession, GatewayError
from membership.donations.models import INTERVALS, Checkout, Donation, Frequency, RecurringGift
from membership.i18n import current_language


def donation_metadata(checkout: Checkout) -> dict[str, str]:
    """The contract's metadata: Stripe hands it back on every event about this gift."""
    metadata = {"purpose": "donation", "gift": checkout.public_id,
                "frequency": checkout.frequency}
    if checkout.campaign:
        metadata["campaign"] = checkout.campaign
    return metadata


def line_item_name(checkout: Checkout) -> str:
    organization = current_app.config["ORGANIZATION_NAME"]
    if checkout.frequency == Frequency.ONCE:
        return _("Gift to %(org)s", org=organization)
    if checkout.frequency == Frequency.MONTHLY:
        return _("Monthly gift to %(org)s", org=organization)
    return _("Yearly gift to %(org)s", org=organization)


# The languages Stripe's hosted pages (Checkout, the Customer Portal) are written in, of
# ours: Arabic and Hebrew are not among them in the pinned API version, so those readers
# get "auto", the browser's language where Stripe has it and English where it has not.
STRIPE_LOCALES = {"en": "en"}


def stripe_locale() -> str:
    return STRIPE_LOCALES.get(current_language(), "auto")


class StripeGateway:
    """Stripe Checkout, the Customer Portal and the Subscriptions API."""

    name = "stripe"

    def __init__(self, secret_key: str, api_base: str = ""):
        self.livemode = secret_key.startswith(("sk_live_", "rk_live_"))
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=2,
        )

    def _call(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except stripe.StripeError as error:
            current_app.logger.warning("Stripe call failed: %s", error)
            raise GatewayError(error.user_message or "The payment service is unavailable."
                               ) from error

    def create_checkout(self, checkout: Checkout, success_url: str,
                        cancel_url: str) -> CheckoutSession:
        metadata = donation_metadata(checkout)
        price_data: dict[str, Any] = {
            "currency": checkout.currency,
            "unit_amount": checkout.amount_cents,
            "product_data": {"name": line_item_name(checkout)},
        }
        params: dict[str, Any] = {
            "line_items": [{"quantity": 1, "price_data": price_data}],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": checkout.public_id,
            "metadata": metadata,
            "locale": stripe_locale(),
        }
        donor = checkout.donor
        if donor.stripe_customer_id:
            params["customer"] = donor.stripe_customer_id
        else:
            params["customer_email"] = donor.email
        if checkout.frequency == Frequency.ONCE:
            params["mode"] = "payment"
            params["submit_type"] = "donate"
            params["payment_intent_data"] = {"metadata": metadata}
            if not donor.stripe_customer_id:
                params["customer_creation"] = "always"
        else:
            params["mode"] = "subscription"
            price_data["recurring"] = {"interval": INTERVALS[checkout.frequency]}
            params["subscription_data"] = {"metadata": metadata}
        session = self._call(
            self.client.v1.checkout.sessions.create, params,
            # Our own pending-gift id: a retried request can never open a second session.
            {"idempotency_key": f"checkout-{checkout.public_id}"},
        )
        return CheckoutSession(id=session.id, url=session.url)

    def update_card_url(self, gift: RecurringGift, return_url: str) -> str:
        portal = self._call(self.client.v1.billing_portal.sessions.create, {
            "customer": gift.donor.stripe_customer_id,
            "return_url": return_url,
            "locale": stripe_locale(),
            "flow_data": {"type": "payment_method_update"},
        })
        return portal.url

    def change_amount(self, gift: RecurringGift, amount_cents: int) -> None:
        subscription = self._call(self.client.v1.subscriptions.retrieve,
                                  gift.stripe_subscription_id).to_dict()
        item = subscription["items"]["data"][0]
        self._call(self.client.v1.subscriptions.update, gift.stripe_subscription_id, {
            "items": [{"id": item["id"], "price_data": {
                "currency": gift.currency,
                "unit_amount": amount_cents,
                "product": item["price"]["product"],
                "recurring": {"interval": INTERVALS[gift.frequency]},
            }}],
            "proration_behavior": "none",
        })

    def cancel(self, gift: RecurringGift, reason: str, at_period_end: bool = False,
               feedback: str | None = None) -> None:
        details = {key: value for key, value in (("comment", reason), ("feedback", feedback))
                   if value}
        params = {"cancellation_details": details} if details else {}
        if at_period_end:
            self._update(gift, {**params, "cancel_at_period_end": True})
            return
        self._call(self.client.v1.subscriptions.cancel, gift.stripe_subscription_id, params)

    def keep(self, gift: RecurringGift) -> None:
        # The reason given for the cancellation taken back goes with it ("" unsets).
        self._update(gift, {"cancel_at_period_end": False,
                            "cancellation_details": {"comment": "", "feedback": ""}})

    def pause(self, gift: RecurringGift, resumes_at: datetime | None) -> None:
        pause: dict[str, Any] = {"behavior": "void"}
        if resumes_at is not None:
            pause["resumes_at"] = int(resumes_at.timestamp())
        self._update(gift, {"pause_collection": pause})

    def resume(self, gift: RecurringGift) -> None:
        self._update(gift, {"pause_collection": ""})  # an empty value unsets it

    def switch(self, gift: RecurringGift, frequency: str, amount_cents: int) -> None:
        subscription = self._call(self.client.v1.subscriptions.retrieve,
                                  gift.stripe_subscription_id).to_dict()
        item = subscription["items"]["data"][0]
        params: dict[str, Any] = {
            "items": [{"id": item["id"], "price_data": {
                "currency": gift.currency,
                "unit_amount": amount_cents,
                "product": item["price"]["product"],
                "recurring": {"interval": INTERVALS[frequency]},
            }}],
            "proration_behavior": "none",
        }
        # A new interval starts a new billing cycle at once; a trial until the paid
        # period's end moves its first charge there instead.
        if item.get("current_period_end"):
            params["trial_end"] = item["current_period_end"]
        self._update(gift, params)

    def _update(self, gift: RecurringGift, params: dict[str, Any]) -> None:
        self._call(self.client.v1.subscriptions.update, gift.stripe_subscription_id, params)

    def payment_intent_for_invoice(self, invoice_id: str) -> str | None:
        """The PaymentIntent that paid the invoice (an invoice may have had failed or
        canceled attempts before it)."""
        # Stripe filters by status: whatever comes back paid the invoice.
        payments = self._call(self.client.v1.invoice_payments.list,
                              {"invoice": invoice_id, "status": "paid"}).to_dict()["data"]
        return payments[0]["payment"].get("payment_intent") if payments else None

    def invoice_for_payment_intent(self, payment_intent_id: str) -> str | None:
        payments = self._call(self.client.v1.invoice_payments.list, {
            "payment": {"type": "payment_intent", "payment_intent": payment_intent_id}})
        data = payments.to_dict()["data"]
        return data[0]["invoice"] if data else None

    def customer_email(self, customer_id: str) -> str | None:
        customer = self._call(self.client.v1.customers.retrieve, customer_id)
        return customer.to_dict().get("email")

    def current_object(self, kind: str, object_id: str) -> dict[str, Any] | None:
        """The object as Stripe holds it now; None when this key may not see it (the
        event's copy is all there is). Raises GatewayError when Stripe cannot be asked
        now (unreachable, overloaded, rate limited): worth asking again later."""
        resource = {"subscription": self.client.v1.subscriptions,
                    "charge": self.client.v1.charges}[kind]
        # A charge's balance transaction comes along: it says what the payment settled as;
        # a subscription's card does: the donor sees it on their giving page.
        params = {"expand": ["balance_transaction" if kind == "charge"
                             else "default_payment_method"]}
        try:
            return resource.retrieve(object_id, params).to_dict()
        except (stripe.InvalidRequestError, stripe.PermissionError) as error:
            current_app.logger.warning("Stripe will not show %s %s: %s", kind, object_id,
                                       error)
            return None
        except stripe.StripeError as error:
            current_app.logger.warning("could not read %s %s from Stripe: %s", kind,
                                       object_id, error)
            raise GatewayError(str(error)) from error

    def charge_of(self, donation: Donation) -> dict[str, Any] | None:
        if donation.stripe_charge_id:
            return self.current_object("charge", donation.stripe_charge_id)
        try:
            payment_intent_id = donation.stripe_payment_intent_id or (
                self.payment_intent_for_invoice(donation.stripe_invoice_id)
                if donation.stripe_invoice_id else None)
            if not payment_intent_id:
                return None
            intent = self.client.v1.payment_intents.retrieve(
                payment_intent_id, {"expand": ["latest_charge.balance_transaction"]}).to_dict()
        except (stripe.InvalidRequestError, stripe.PermissionError):
            return None  # not this key's to see: nothing to settle from
        except stripe.StripeError as error:
            raise GatewayError(str(error)) from error
        charge = intent.get("latest_charge")
        return charge if isinstance(charge, dict) else None

    def events_since(self, created_gte: int) -> Iterator[dict[str, Any]]:
        events = self._call(self.client.v1.events.list,
                            {"created": {"gte": created_gte}, "limit": 100})
        for event in events.auto_paging_iter():
            yield event.to_dict()


def init_gateway(app: Flask) -> None:
    """Choose the gateway named by PAYMENTS_GATEWAY and hand it to the app."""
    if app.config["PAYMENTS_GATEWAY"] == "sandbox":
        from membership.payments.sandbox import SandboxGateway

        app.extensions[GATEWAY_KEY] = SandboxGateway()
    else:
        app.extensions[GATEWAY_KEY] = StripeGateway(
            app.config["STRIPE_SECRET_KEY"] or "sk_test_unset", app.config["STRIPE_API_BASE"])

