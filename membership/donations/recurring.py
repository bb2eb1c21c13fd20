"""Recurring gifts: one per Stripe subscription, following the newest state Stripe
reported whatever the order its events arrive in; their paid and failed renewals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from membership.donations.checkout import checkout_by_public_id
from membership.donations.giving import manage_link
from membership.donations.models import (
    CancellationReason,
    CheckoutStatus,
    Donation,
    Donor,
    Frequency,
    PaymentFailure,
    RecurringGift,
    SubscriptionStatus,
)
from membership.donations.money import to_major
from membership.donations.recording import (
    NeedsDonor,
    Payment,
    donor_for,
    gift_details,
    insert_donation,
)
from membership.donations.tributes import send_tribute_card
from membership.extensions import db
from membership.mail.services import queue_mail, withdraw_pending
from membership.sql import insert_or_ignore
from membership.types import utcnow
from membership.urls import external_url


@dataclass(frozen=True)
class Card:
    """A card as Stripe shows it: never its number, only its brand and last four digits."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class SubscriptionState:
    """A recurring gift's state as of one Stripe event."""

    subscription_id: str
    as_of: datetime
    customer_id: str | None = None
    email: str | None = None
    gift_public_id: str | None = None
    status: str | None = None
    amount_cents: int | None = None
    currency: str | None = None
    frequency: str | None = None
    campaign: str | None = None
    cancel_at_period_end: bool | None = None
    cancel_at: datetime | None = None
    # None: the event does not say; False: collecting; True: paused (until resumes_at).
    collection_paused: bool | None = None
    collection_resumes_at: datetime | None = None
    current_period_end: datetime | None = None
    ended_at: datetime | None = None
    cancel_reason: str | None = None
    cancel_feedback: str | None = None
    # The object carries `cancellation_details`: its feedback (or none) is the gift's now.
    cancellation_said: bool = False
    ended_because: str | None = None
    started_at: datetime | None = None
    # The subscription's default payment method, and its card when the object says;
    # `no_payment_method`: the object says there is none (the card was removed).
    payment_method_id: str | None = None
    card: Card | None = None
    no_payment_method: bool = False
    # Facts from a checkout or an invoice, not a subscription: they create the gift if
    # needed but leave the state Stripe's subscription events report alone.
    authoritative: bool = True


def apply_subscription_state(state: SubscriptionState) -> RecurringGift:
    """Create the recurring gift if new; apply the state unless newer state is recorded.

    The row is locked (PostgreSQL) so concurrent events for one subscription apply one
    after the other; the `*_as_of` times make an older event arriving late a no-op, so
    the outcome does not depend on the order of delivery."""
    gift = _lock_gift(state.subscription_id)
    was = gift.status if gift else None
    if gift is None:
        gift = _create_gift(state)
        if not state.authoritative and state.status:
            note_status(gift, state.status, state.as_of)
    elif gift.donor is None:
        gift.donor = _donor_or_none(state)
    elif state.customer_id and gift.donor.stripe_customer_id is None:
        gift.donor.stripe_customer_id = state.customer_id
    if not state.authoritative and state.frequency and gift.state_as_of is None:
        # Until the subscription itself is heard from, the latest fact wins: a Payment
        # Link's checkout says no frequency (the gift took a default), its invoice bills
        # a month or a year.
        gift.frequency = state.frequency
    started = min(filter(None, (state.started_at, state.as_of)))
    if started < gift.started_at:
        gift.started_at = started
    if state.authoritative:
        if gift.state_as_of is None or state.as_of >= gift.state_as_of:
            _apply_details(gift, state)
        if state.status:
            note_status(gift, state.status, state.as_of)
    _tell_gift_ended(gift, was)
    db.session.flush()
    return gift


def _donor_or_none(state: SubscriptionState) -> Donor | None:
    try:
        return donor_for(Payment(amount_cents=0, currency="", paid_at=state.as_of,
                                  email=state.email, customer_id=state.customer_id),
                          checkout_by_public_id(state.gift_public_id))
    except NeedsDonor:
        return None


def _create_gift(state: SubscriptionState) -> RecurringGift:
    checkout = checkout_by_public_id(state.gift_public_id)
    donor = _donor_or_none(state)
    insert_or_ignore(RecurringGift, {
        "donor_id": donor.id if donor else None,
        "stripe_subscription_id": state.subscription_id,
        "amount_cents": state.amount_cents or (checkout.amount_cents if checkout else 0),
        "fee_cents": checkout.fee_cents if checkout else 0,
        "currency": (state.currency or (checkout.currency if checkout else "usd")).lower(),
        "frequency": state.frequency or (checkout.frequency if checkout else Frequency.MONTHLY),
        "campaign": checkout.campaign if checkout else state.campaign,
        "anonymous": checkout.anonymous if checkout else False,
        "dedication_kind": checkout.dedication_kind if checkout else None,
        "dedication_name": checkout.dedication_name if checkout else None,
        "dedication_message": checkout.dedication_message if checkout else None,
        "status": SubscriptionStatus.INCOMPLETE,
        "cancel_at_period_end": False,
        "started_at": state.started_at or state.as_of,
        "created_at": utcnow(),
    })
    return _lock_gift(state.subscription_id)


def _apply_details(gift: RecurringGift, state: SubscriptionState) -> None:
    gift.state_as_of = state.as_of
    if state.amount_cents is not None:
        gift.amount_cents = state.amount_cents
    if state.frequency:
        gift.frequency = state.frequency
    if state.cancel_at_period_end is not None:
        gift.cancel_at_period_end = state.cancel_at_period_end
        gift.cancel_at = state.cancel_at
    if state.collection_paused is not None:
        gift.collection_paused = state.collection_paused
        gift.collection_resumes_at = state.collection_resumes_at
    if state.current_period_end is not None:
        gift.current_period_end = state.current_period_end
    if state.ended_at is not None:
        gift.ended_at = state.ended_at
    if state.ended_because:
        gift.ended_because = state.ended_because
    if state.cancel_reason and not gift.cancel_reason:
        gift.cancel_reason = state.cancel_reason
    if state.cancellation_said:
        gift.cancel_feedback = state.cancel_feedback
    if state.no_payment_method and gift.stripe_payment_method_id:
        gift.stripe_payment_method_id = None
        _set_card(gift, None, state.as_of)
    if state.payment_method_id and state.payment_method_id != gift.stripe_payment_method_id:
        # Another card: the old one's details no longer say anything about this gift.
        gift.stripe_payment_method_id = state.payment_method_id
        _set_card(gift, None, None)
    if state.card and (gift.card_as_of is None or state.as_of >= gift.card_as_of):
        _set_card(gift, state.card, state.as_of)


def _set_card(gift: RecurringGift, card: Card | None, as_of: datetime | None) -> None:
    gift.card_brand = card.brand if card else None
    gift.card_last4 = card.last4 if card else None
    gift.card_exp_month = card.exp_month if card else None
    gift.card_exp_year = card.exp_year if card else None
    gift.card_as_of = as_of


def update_card(payment_method_id: str, card: Card, as_of: datetime) -> int:
    """A payment method's card changed (the bank sent a new expiry, say): every gift it
    pays for shows it, unless newer news of it is recorded. How many gifts it pays for."""
    gifts = db.session.scalars(select(RecurringGift).where(
        RecurringGift.stripe_payment_method_id == payment_method_id).with_for_update()).all()
    for gift in gifts:
        if gift.card_as_of is None or as_of >= gift.card_as_of:
            _set_card(gift, card, as_of)
    db.session.flush()
    return len(gifts)


def _lock_gift(subscription_id: str) -> RecurringGift | None:
    return db.session.scalar(
        select(RecurringGift).where(RecurringGift.stripe_subscription_id == subscription_id)
        .with_for_update())


# How far along its life a subscription is: Stripe's event times have one-second
# resolution, so of two statuses reported in the same second the later stage wins, whatever
# order their events arrive in (created as incomplete, then updated to active, in one second).
# A retried charge that succeeds moves past_due back to active, so active ranks above it.
_STAGE = {SubscriptionStatus.INCOMPLETE: 0, SubscriptionStatus.TRIALING: 1,
          SubscriptionStatus.PAST_DUE: 2, SubscriptionStatus.ACTIVE: 3,
          SubscriptionStatus.UNPAID: 4, SubscriptionStatus.PAUSED: 4,
          SubscriptionStatus.INCOMPLETE_EXPIRED: 5, SubscriptionStatus.CANCELED: 5}


def note_status(gift: RecurringGift, status: str, as_of: datetime) -> bool:
    """Set the gift's status from an event of time `as_of`, unless a newer one already did.
    Canceled is final: no late event revives a gift. True when the status now stands."""
    if gift.status == SubscriptionStatus.CANCELED:
        return False
    if gift.status_as_of is not None:
        if as_of < gift.status_as_of:
            return False
        if as_of == gift.status_as_of and _STAGE.get(status, 3) < _STAGE.get(gift.status, 3):
            return False
    gift.status = status
    gift.status_as_of = as_of
    return True


def record_recurring_payment(payment: Payment, gift: RecurringGift,
                             as_of: datetime) -> int | None:
    """Record one paid invoice of a recurring gift once; the gift is active again."""
    details = gift_details(gift, payment)
    details["frequency"] = gift.frequency
    checkout = checkout_by_public_id(payment.gift_public_id)
    if gift.donor is None:
        gift.donor = donor_for(payment, checkout)
    donation = insert_donation(payment, gift.donor, details, recurring_gift=gift)
    if donation is not None and payment.invoice_id:
        # Paid: what was said about this invoice's failed tries is no longer true.
        withdraw_pending([_about_invoice(payment.invoice_id)], FAILED_PAYMENT_MAILS)
    if donation is not None:
        send_tribute_card(checkout)  # the first payment's checkout: once
    note_status(gift, SubscriptionStatus.ACTIVE, as_of)
    if checkout is not None:
        checkout.status = CheckoutStatus.PAID
    db.session.flush()
    return donation


def record_payment_failure(gift: RecurringGift, invoice_id: str, attempt_count: int,
                           amount_cents: int, currency: str, failed_at: datetime,
                           next_attempt_at: datetime | None = None,
                           authentication_link: str | None = None) -> bool:
    """Record the failed charge once; mark the gift past due and e-mail the donor only
    when that is news: not when the invoice was paid since (a retry that succeeded, its
    failure delivered late), nor when a newer event already moved the gift on, nor for a
    try older than one already recorded. True if the failure is new.

    The mails follow Stripe's retries: the first failure asks for a new card; the failure
    after which one try is left (PAYMENT_RETRY_ATTEMPTS, as set in Stripe's dashboard)
    says when that last try is; the end of the gift is told by `apply_subscription_state`.
    When the bank asks the donor to confirm the payment (`authentication_link`, Stripe's
    hosted invoice page), the mail asks for that instead. One mail per attempt, whichever
    of Stripe's two events for it comes first; a payment withdraws those not yet sent."""
    recovered = db.session.scalar(select(Donation.id).where(
        Donation.stripe_invoice_id == invoice_id)) is not None
    # Past due now, by this event or by Stripe's current state read a moment ago.
    note_status(gift, SubscriptionStatus.PAST_DUE, failed_at)
    past_due = not recovered and gift.status == SubscriptionStatus.PAST_DUE
    later_try = db.session.scalar(select(PaymentFailure.id).where(
        PaymentFailure.stripe_invoice_id == invoice_id,
        PaymentFailure.attempt_count > attempt_count).limit(1)) is not None
    failure_id = insert_or_ignore(PaymentFailure, {
        "recurring_gift_id": gift.id,
        "stripe_invoice_id": invoice_id,
        "attempt_count": attempt_count,
        "amount_cents": amount_cents,
        "currency": currency.lower(),
        "created_at": failed_at,
        "next_attempt_at": next_attempt_at,
    })
    if failure_id is None or gift.donor is None or not past_due or later_try:
        return failure_id is not None
    # The gift's own page: a guest donor fixes the card there without an account.
    page = manage_link(gift)
    values = {"language": gift.donor.language, "about": _about_invoice(invoice_id),
              "frequency": gift.frequency, "amount_cents": amount_cents,
              "currency": gift.currency, "next_attempt": next_attempt_at.date().isoformat()
              if next_attempt_at else None, "manage_link": page}
    if authentication_link:
        queue_mail(gift.donor.email, "donations/confirm_payment",
                   _l("Your bank asks you to confirm your gift"), link=authentication_link,
                   **values)
        return True
    # Only the try after which one is left: if Stripe tries more often than the setting
    # says, the donor is not told of several "last" tries.
    if next_attempt_at is not None and attempt_count + 1 \
            == current_app.config["PAYMENT_RETRY_ATTEMPTS"]:
        queue_mail(gift.donor.email, "donations/last_attempt",
                   _l("One last try for your recurring gift"), link=page, **values)
    elif attempt_count == 1:
        queue_mail(gift.donor.email, "donations/payment_failed",
                   _l("Your recurring gift could not be charged"), link=page, **values)
    return True


# The mails about a failed payment, withdrawn once it is paid after all.
FAILED_PAYMENT_MAILS = ("donations/payment_failed", "donations/last_attempt",
                        "donations/confirm_payment")


def _about_invoice(invoice_id: str) -> str:
    return f"invoice:{invoice_id}"[:64]


def _tell_gift_ended(gift: RecurringGift, was: str) -> None:
    """Stripe stopped the gift after its payments failed: the donor hears so, once (at the
    change of status), with the way to start again."""
    stopped = (gift.status == SubscriptionStatus.UNPAID or (
        gift.status == SubscriptionStatus.CANCELED
        and gift.ended_because == CancellationReason.PAYMENT_FAILED))
    if not stopped or gift.status == was or gift.donor is None:
        return
    failed = db.session.scalars(select(PaymentFailure.stripe_invoice_id).where(
        PaymentFailure.recurring_gift_id == gift.id).distinct())
    withdraw_pending([_about_invoice(invoice) for invoice in failed], FAILED_PAYMENT_MAILS)
    queue_mail(gift.donor.email, "donations/gift_ended",
               _l("Your recurring gift has stopped"), language=gift.donor.language,
               about=f"gift:{gift.id}", frequency=gift.frequency,
               amount_cents=gift.amount_cents, currency=gift.currency,
               campaign=gift.campaign, ended=gift.status == SubscriptionStatus.CANCELED,
               link=external_url("donations.donate", frequency=gift.frequency,
                                 amount=to_major(gift.amount_cents, gift.currency),
                                 campaign=gift.campaign))


def record_cancel_reason(gift: RecurringGift, reason: str, feedback: str | None) -> None:
    gift.cancel_reason = reason.strip() or None
    gift.cancel_feedback = feedback
    db.session.flush()


def recurring_gift_exists(subscription_id: str) -> bool:
    return db.session.scalar(select(func.count()).select_from(RecurringGift).where(
        RecurringGift.stripe_subscription_id == subscription_id)) > 0
