"""What the donations domain needs from a payment provider.

The payments package implements it (Stripe, or the local sandbox) and puts the instance
in `app.extensions` when the app is built, so donations never import Stripe."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from flask import current_app

from membership.donations.models import Checkout, Donation, RecurringGift

GATEWAY_KEY = "payments_gateway"


class GatewayError(RuntimeError):
    """The payment provider refused or could not be reached; safe to show."""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


class Gateway(Protocol):
    name: str
    livemode: bool

    def create_checkout(self, checkout: Checkout, success_url: str,
                        cancel_url: str) -> CheckoutSession: ...

    def update_card_url(self, gift: RecurringGift, return_url: str) -> str: ...

    def change_amount(self, gift: RecurringGift, amount_cents: int) -> None: ...

    def cancel(self, gift: RecurringGift, reason: str, at_period_end: bool = False,
               feedback: str | None = None) -> None:
        """End the gift now, or at the end of the period it has paid for; `reason` is the
        donor's words, `feedback` the reason they picked (a CancelFeedback)."""
        ...

    def keep(self, gift: RecurringGift) -> None:
        """Take back a cancellation scheduled for the period's end."""
        ...

    def pause(self, gift: RecurringGift, resumes_at: datetime | None) -> None:
        """Charge nothing until `resumes_at` (None: until resumed); the invoices of the
        pause are voided, as Stripe's `pause_collection` with `behavior=void` does."""
        ...

    def resume(self, gift: RecurringGift) -> None: ...

    def switch(self, gift: RecurringGift, frequency: str, amount_cents: int) -> None:
        """Bill the gift monthly or yearly instead, `amount_cents` each time, from the end
        of the period already paid for (nothing is charged twice)."""
        ...

    def payment_intent_for_invoice(self, invoice_id: str) -> str | None: ...

    def invoice_for_payment_intent(self, payment_intent_id: str) -> str | None: ...

    def customer_email(self, customer_id: str) -> str | None: ...

    def current_object(self, kind: str, object_id: str) -> dict[str, Any] | None:
        """Stripe's object (`subscription` or `charge`) as it stands now, or None when
        there is none to read (the caller goes by the event's own copy). GatewayError when
        Stripe cannot be asked now: the caller goes by the copy and asks again later."""
        ...

    def events_since(self, created_gte: int) -> Iterator[dict[str, Any]]: ...

    def charge_of(self, donation: Donation) -> dict[str, Any] | None:
        """The charge that paid the donation, its balance transaction expanded; None when
        Stripe names none. GatewayError when Stripe cannot be asked now."""
        ...


def payment_gateway() -> Gateway:
    """The gateway chosen when the app was built (see membership.payments.gateway)."""
    return current_app.extensions[GATEWAY_KEY]
