"""Stripe events built from Stripe's own example objects (tests/fixtures/stripe_objects.json),
adapted per scenario to the pinned API version, and signed with the library's helper."""

from __future__ import annotations

import copy
import json
import time
from itertools import count
from pathlib import Path
from typing import Any

import stripe

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "stripe_objects.json").read_text())
RESOURCES = FIXTURES["resources"]
_serial = count(1)

DONATION = {"purpose": "donation", "frequency": "once"}
MONTHLY = {"purpose": "donation", "frequency": "monthly"}
YEARLY = {"purpose": "donation", "frequency": "yearly"}


def fresh_id(prefix: str) -> str:
    return f"{prefix}_test{next(_serial):08d}"


def _from(resource: str, **fields: Any) -> dict[str, Any]:
    obj = copy.deepcopy(RESOURCES[resource])
    obj.update(fields)
    return obj


def event(event_type: str, obj: dict[str, Any], created: int | None = None,
          event_id: str | None = None, livemode: bool = False) -> dict[str, Any]:
    return _from("event", id=event_id or fresh_id("evt"), type=event_type,
                 created=created or int(time.time()), api_version=stripe.api_version,
                 livemode=livemode, data={"object": obj}, pending_webhooks=1)


def sign(body: str, secret: str, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)


def post_event(client, app, evt: dict[str, Any], secret: str | None = None,
               timestamp: int | None = None):
    body = json.dumps(evt)
    header = sign(body, secret or app.config["STRIPE_WEBHOOK_SECRET"], timestamp)
    return client.post("/stripe/webhook", data=body, content_type="application/json",
                       headers={"Stripe-Signature": header})


# Objects ------------------------------------------------------------------------------------

def checkout_session(*, mode: str = "payment", payment_status: str = "paid",
                     amount: int = 3600, currency: str = "usd",
                     email: str = "donor@example.org", metadata: dict | None = None,
                     customer: str | None = None, payment_intent: str | None = None,
                     subscription: str | None = None, session_id: str | None = None,
                     name: str | None = "Dana Donor") -> dict[str, Any]:
    session = _from("checkout.session")
    session.update(
        id=session_id or fresh_id("cs"), mode=mode, payment_status=payment_status,
        status="complete", amount_total=amount, amount_subtotal=amount, currency=currency,
        customer=customer or fresh_id("cus"), customer_email=email,
        metadata=DONATION if metadata is None else metadata,
        payment_intent=(payment_intent or fresh_id("pi")) if mode == "payment" else None,
        subscription=subscription if mode == "subscription" else None, invoice=None,
    )
    session["customer_details"] = {**session["customer_details"], "email": email, "name": name}
    return session


def subscription(subscription_id: str, *, customer: str, status: str = "active",
                 amount: int = 1800, interval: str = "month", metadata: dict | None = None,
                 cancel_at_period_end: bool = False, period_end: int | None = None,
                 comment: str | None = None) -> dict[str, Any]:
    sub = _from("subscription", id=subscription_id, customer=customer, status=status,
                metadata=MONTHLY if metadata is None else metadata, currency="usd",
                cancel_at_period_end=cancel_at_period_end,
                # The example object's placeholders would pause it and schedule its end.
                pause_collection=None, cancel_at=period_end if cancel_at_period_end else None,
                canceled_at=int(time.time()) if status == "canceled" else None,
                ended_at=int(time.time()) if status == "canceled" else None,
                cancellation_details={"comment": comment, "feedback": None, "reason": None})
    item = sub["items"]["data"][0]
    item["subscription"] = subscription_id
    item["quantity"] = 1
    item["current_period_end"] = period_end or int(time.time()) + 30 * 86400
    item["price"].update(unit_amount=amount, currency="usd",
                         recurring={**item["price"]["recurring"], "interval": interval})
    return sub


def invoice(*, subscription_id: str, customer: str, amount: int = 1800,
            billing_reason: str = "subscription_cycle", paid: bool = True,
            metadata: dict | None = None, email: str = "donor@example.org",
            attempt_count: int = 1, invoice_id: str | None = None) -> dict[str, Any]:
    inv = _from("invoice")
    now = int(time.time())
    inv.update(
        id=invoice_id or fresh_id("in"), customer=customer, customer_email=email,
        currency="usd", amount_due=amount, amount_paid=amount if paid else 0,
        amount_remaining=0 if paid else amount, billing_reason=billing_reason,
        attempt_count=attempt_count, status="paid" if paid else "open",
        status_transitions={**inv["status_transitions"], "paid_at": now if paid else None},
        parent={"type": "subscription_details", "quote_details": None,
                "subscription_details": {"metadata": MONTHLY if metadata is None else metadata,
                                         "subscription": subscription_id}},
    )
    # The pinned API version has no top-level subscription on invoices.
    inv.pop("subscription", None)
    return inv


def charge(*, payment_intent: str, amount: int, amount_refunded: int = 0,
           charge_id: str | None = None) -> dict[str, Any]:
    return _from("charge", id=charge_id or fresh_id("ch"), payment_intent=payment_intent,
                 amount=amount, amount_captured=amount, amount_refunded=amount_refunded,
                 refunded=amount_refunded >= amount, currency="usd")


def payment_method(*, brand: str = "visa", last4: str = "4242", exp_month: int = 8,
                   exp_year: int = 2030, customer: str | None = None,
                   payment_method_id: str | None = None) -> dict[str, Any]:
    method = _from("payment_method", id=payment_method_id or fresh_id("pm"), customer=customer)
    method["card"] = {**method["card"], "brand": brand, "display_brand": brand,
                      "last4": last4, "exp_month": exp_month, "exp_year": exp_year}
    return method


def balance_transaction(*, amount: int, fee: int, currency: str = "usd",
                        source: str | None = None) -> dict[str, Any]:
    """A charge's balance transaction, as Stripe expands it in a charge it was asked for."""
    return {"id": fresh_id("txn"), "object": "balance_transaction", "amount": amount,
            "fee": fee, "net": amount - fee, "currency": currency, "source": source,
            "type": "charge", "status": "pending", "exchange_rate": None,
            "created": int(time.time())}


def dispute(*, charge_id: str, payment_intent: str, amount: int,
            status: str = "needs_response") -> dict[str, Any]:
    return _from("dispute", id=fresh_id("dp"), charge=charge_id, payment_intent=payment_intent,
                 amount=amount, currency="usd", status=status)
