"""Gift operations as plain functions: they flush, the caller commits.

Payment facts come in as plain dataclasses (the payments package translates Stripe's
objects into them), so these rules are the same whatever told us: a webhook, a
reconciliation run or the sandbox gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import (
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    update,
)

from membership.accounts.models import User
from membership.accounts.services import AccountError, normalize_email
from membership.donations.gateway import GatewayError, payment_gateway
from membership.donations.models import (
    ANONYMIZED_DOMAIN,
    ENDED_STATUSES,
    LONG_GAP,
    LOST_DISPUTE_STATES,
    REFUND_FAILED_STATES,
    ChargeRefund,
    ChargeState,
    Checkout,
    CheckoutStatus,
    DailyTotal,
    Donation,
    DonationStatus,
    Donor,
    DonorActivity,
    DonorGap,
    Frequency,
    PaymentFailure,
    RecurringGift,
    SubscriptionStatus,
)
from membership.donations.money import cover_fee, format_money
from membership.donations.signals import DonationChange, donation_changed
from membership.extensions import db
from membership.mail.services import queue_mail
from membership.sql import insert_or_ignore, upsert_insert, utc_day, utc_period
from membership.types import UTCDateTime, isoformat, utcnow
from membership.urls import external_url

OPEN_DISPUTE_STATES = ("warning_needs_response", "warning_under_review", "needs_response",
                       "under_review")


# Donors ---------------------------------------------------------------------------------

def get_or_create_donor(email: str, name: str = "", customer_id: str | None = None) -> Donor:
    """The donor for this e-mail, created if new, in one statement that is safe against
    concurrent creation (every recorded gift passes here).

    A new donor whose address a reader has already verified joins that account at once;
    later verifications link through `link_donor_to_account`."""
    statement = _donor_upsert(db.session.get_bind().dialect.name)
    donor = db.session.scalars(statement, {
        "donor_email": normalize_email(email), "donor_name": name.strip(),
        "customer": customer_id, "now": utcnow(),
    }, execution_options={"populate_existing": True}).one()
    if name.strip() and not donor.name:
        donor.name = name.strip()
    return donor


@cache
def _donor_upsert(dialect: str):
    """INSERT … ON CONFLICT (email) DO UPDATE … RETURNING: the update rewrites the e-mail
    with itself, so an existing donor is returned unchanged."""
    upsert = upsert_insert(dialect)
    verified_owner = select(User.id).where(
        User.email == bindparam("donor_email"), User.email_verified_at.is_not(None)
    ).scalar_subquery()
    statement = upsert(Donor).values(
        email=bindparam("donor_email"), name=bindparam("donor_name"), user_id=verified_owner,
        stripe_customer_id=bindparam("customer"), created_at=bindparam("now"))
    return statement.on_conflict_do_update(
        index_elements=["email"], set_={"email": statement.excluded.email},
    ).returning(Donor)


_DONOR_BY_CUSTOMER = select(Donor).where(Donor.stripe_customer_id == bindparam("customer"))


def link_donor_to_account(user: User) -> None:
    """Gifts given as a guest with this (now verified) address join the account."""
    donor = db.session.scalar(select(Donor).where(Donor.email == user.email))
    if donor is not None and donor.user_id is None:
        donor.user_id = user.id
        db.session.flush()


def cancel_recurring_gifts(user: User) -> list[str]:
    """Account deletion: stop the reader's recurring gifts at the payment service first,
    so that nothing goes on charging a donor who can no longer see or cancel it. A gift
    the service will not cancel keeps the account (AccountError), and says which."""
    stopped = []
    for gift in recurring_gifts_for(user):
        if gift.status in ENDED_STATUSES:
            continue
        amount = format_money(gift.amount_cents, gift.currency)
        description = (_("%(amount)s a year", amount=amount) if gift.frequency == Frequency.YEARLY
                       else _("%(amount)s a month", amount=amount))
        try:
            payment_gateway().cancel(gift, "The donor deleted their account.")
        except GatewayError as error:
            raise AccountError(_(
                "We could not stop your recurring gift of %(gift)s (%(reason)s), so your "
                "account was not deleted. Please try again in a moment.",
                gift=description, reason=error)) from error
        stopped.append(_("Your recurring gift of %(gift)s is cancelled: nothing more will "
                         "be charged.", gift=description))
    return stopped


def anonymize_donor_records(user: User) -> None:
    """Keep gifts for the books, without the person: runs when an account is deleted.
    Only the donor records the account proved it owns (linked when it verified the
    address): an unverified sign-up with a guest donor's address erases nothing of theirs."""
    donors = db.session.scalars(select(Donor).where(Donor.user_id == user.id)).all()
    for donor in donors:
        donor.email = f"deleted-donor-{donor.id}@{ANONYMIZED_DOMAIN}"
        donor.name = ""
        donor.user_id = None
        for model in (Donation, RecurringGift, Checkout):
            for record in db.session.scalars(select(model).where(model.donor_id == donor.id)):
                record.dedication_name = None
                record.dedication_message = None
    db.session.flush()


def _gift_details(gift) -> dict:
    return {"amount_cents": gift.amount_cents, "currency": gift.currency,
            "frequency": gift.frequency, "campaign": gift.campaign,
            "anonymous": gift.anonymous, "dedication_kind": gift.dedication_kind,
            "dedication_name": gift.dedication_name,
            "dedication_message": gift.dedication_message}


def export_giving(user: User) -> tuple[str, list[dict]]:
    """The reader's gifts for their data download."""
    return "gifts", [
        {"date": donation.created_at.isoformat(), **_gift_details(donation),
         "status": donation.status, "refunded_cents": donation.refunded_cents}
        for donation in donations_for(user)
    ]


def export_recurring_gifts(user: User) -> tuple[str, list[dict]]:
    """The reader's monthly and yearly gifts for their data download."""
    return "recurring_gifts", [
        {"started_at": isoformat(gift.started_at), **_gift_details(gift), "status": gift.status,
         "cancel_at_period_end": gift.cancel_at_period_end,
         "current_period_end": isoformat(gift.current_period_end),
         "ended_at": isoformat(gift.ended_at), "cancel_reason": gift.cancel_reason}
        for gift in recurring_gifts_for(user)
    ]


# The gift form --------------------------------------------------------------------------

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
        db.session.flush()


# Recording payments ---------------------------------------------------------------------

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


def _donor_for(payment: Payment, checkout: Checkout | None) -> Donor:
    """Who gave: the checkout's donor, else the donor Stripe's customer id is known for
    (their e-mail may have changed since), else the donor for the e-mail."""
    if checkout is not None:
        donor = checkout.donor
    elif payment.customer_id and (donor := db.session.scalar(
            _DONOR_BY_CUSTOMER, {"customer": payment.customer_id})):
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
    donor = _donor_for(payment, checkout)
    details = _details(checkout, payment)
    donation = _insert_donation(payment, donor, details, recurring_gift=None)
    if checkout is not None:
        checkout.status = CheckoutStatus.PAID
    db.session.flush()
    return donation


def record_recurring_payment(payment: Payment, gift: RecurringGift,
                             as_of: datetime) -> int | None:
    """Record one paid invoice of a recurring gift once; the gift is active again."""
    details = _details(gift, payment)
    details["frequency"] = gift.frequency
    checkout = checkout_by_public_id(payment.gift_public_id)
    if gift.donor is None:
        gift.donor = _donor_for(payment, checkout)
    donation = _insert_donation(payment, gift.donor, details, recurring_gift=gift)
    note_status(gift, SubscriptionStatus.ACTIVE, as_of)
    if checkout is not None:
        checkout.status = CheckoutStatus.PAID
    db.session.flush()
    return donation


def _details(source: Checkout | RecurringGift | None, payment: Payment) -> dict:
    if source is None:
        return {"fee_cents": 0, "frequency": payment.frequency, "campaign": payment.campaign,
                "anonymous": False, "dedication_kind": None, "dedication_name": None,
                "dedication_message": None}
    fee = source.fee_cents if source.amount_cents == payment.amount_cents else 0
    return {"fee_cents": fee, "frequency": source.frequency, "campaign": source.campaign,
            "anonymous": source.anonymous, "dedication_kind": source.dedication_kind,
            "dedication_name": source.dedication_name,
            "dedication_message": source.dedication_message}


def _insert_donation(payment: Payment, donor: Donor, details: dict,
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
    _announce(donation_id, values, recorded=True, gross_delta=payment.amount_cents,
              net_delta=payment.amount_cents, counted_delta=1 if payment.amount_cents else 0)
    _note_donation_time(donor.id, donation_id, payment.paid_at)
    _apply_known_charge_state(donation_id, payment)
    # An unsaved copy is enough to write the thank-you mail.
    _thank(Donation(id=donation_id, donor=donor, **values))
    return donation_id


def _thank(donation: Donation) -> None:
    queue_mail(
        donation.donor.email,
        "donations/thank_you",
        _("Thank you for your gift"),
        amount_cents=donation.amount_cents,
        currency=donation.currency,
        receipt_number=donation.receipt_number,
        receipt_link=receipt_link(donation),
    )


# Recurring gifts ------------------------------------------------------------------------

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
    ended_because: str | None = None
    started_at: datetime | None = None
    # Facts from a checkout or an invoice, not a subscription: they create the gift if
    # needed but leave the state Stripe's subscription events report alone.
    authoritative: bool = True


def apply_subscription_state(state: SubscriptionState) -> RecurringGift:
    """Create the recurring gift if new; apply the state unless newer state is recorded.

    The row is locked (PostgreSQL) so concurrent events for one subscription apply one
    after the other; the `*_as_of` times make an older event arriving late a no-op, so
    the outcome does not depend on the order of delivery."""
    gift = _lock_gift(state.subscription_id)
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
    db.session.flush()
    return gift


def _donor_or_none(state: SubscriptionState) -> Donor | None:
    try:
        return _donor_for(Payment(amount_cents=0, currency="", paid_at=state.as_of,
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
        "frequency": state.frequency or (checkout.frequency if checkout else "monthly"),
        "campaign": checkout.campaign if checkout else state.campaign,
        "anonymous": checkout.anonymous if checkout else False,
        "dedication_kind": checkout.dedication_kind if checkout else None,
        "dedication_name": checkout.dedication_name if checkout else None,
        "dedication_message": checkout.dedication_message if checkout else None,
        "status": "incomplete",
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


def _lock_gift(subscription_id: str) -> RecurringGift | None:
    return db.session.scalar(
        select(RecurringGift).where(RecurringGift.stripe_subscription_id == subscription_id)
        .with_for_update())


# How far along its life a subscription is: Stripe's event times have one-second
# resolution, so of two statuses reported in the same second the later stage wins, whatever
# order their events arrive in (created as incomplete, then updated to active, in one second).
# A retried charge that succeeds moves past_due back to active, so active ranks above it.
_STAGE = {"incomplete": 0, "trialing": 1, SubscriptionStatus.PAST_DUE: 2, SubscriptionStatus.ACTIVE: 3, "unpaid": 4, "paused": 4,
          "incomplete_expired": 5, SubscriptionStatus.CANCELED: 5}


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


def record_payment_failure(gift: RecurringGift, invoice_id: str, attempt_count: int,
                           amount_cents: int, currency: str, failed_at: datetime,
                           update_card_link: str,
                           authentication_link: str | None = None) -> bool:
    """Record the failed charge once; mark the gift past due and e-mail the donor only
    when that is news: not when the invoice was paid since (a retry that succeeded, its
    failure delivered late), nor when a newer event already moved the gift on. When the
    bank asks the donor to confirm the payment (`authentication_link`, Stripe's hosted
    invoice page), the mail asks for that instead of a new card. One mail per attempt,
    whichever of Stripe's two events for it comes first. True if the failure is new."""
    recovered = db.session.scalar(select(Donation.id).where(
        Donation.stripe_invoice_id == invoice_id)) is not None
    # Past due now, by this event or by Stripe's current state read a moment ago.
    note_status(gift, SubscriptionStatus.PAST_DUE, failed_at)
    past_due = not recovered and gift.status == SubscriptionStatus.PAST_DUE
    failure_id = insert_or_ignore(PaymentFailure, {
        "recurring_gift_id": gift.id,
        "stripe_invoice_id": invoice_id,
        "attempt_count": attempt_count,
        "amount_cents": amount_cents,
        "currency": currency.lower(),
        "created_at": failed_at,
    })
    if failure_id is None or gift.donor is None or not past_due:
        return failure_id is not None
    if authentication_link:
        queue_mail(gift.donor.email, "donations/confirm_payment",
                   _("Your bank asks you to confirm your gift"),
                   frequency=gift.frequency, amount_cents=amount_cents,
                   currency=gift.currency, link=authentication_link)
        return True
    queue_mail(gift.donor.email, "donations/payment_failed",
               _("Your recurring gift could not be charged"),
               frequency=gift.frequency, amount_cents=gift.amount_cents,
               currency=gift.currency, link=update_card_link)
    return True


def record_cancel_reason(gift: RecurringGift, reason: str) -> None:
    gift.cancel_reason = reason.strip() or None
    db.session.flush()


# Refunds and disputes -------------------------------------------------------------------

@dataclass(frozen=True)
class RefundState:
    """One refund as a refund event reports it."""

    refund_id: str
    amount: int
    status: str


def apply_charge_state(charge_id: str, payment_intent_id: str | None, as_of: datetime,
                       amount_refunded: int | None = None,
                       dispute_status: str | None = None,
                       refunds: tuple[RefundState, ...] = ()) -> Donation | None:
    """Remember what Stripe says of a charge and apply it to its donation, if known.

    Each fact follows the newest event that reports it, whatever the order of delivery:
    the charge's refunded amount, each refund's status (a failed refund is final) and the
    dispute's status."""
    insert_or_ignore(ChargeState, {"stripe_charge_id": charge_id,
                                   "stripe_payment_intent_id": payment_intent_id,
                                   "amount_refunded": 0})
    charge = db.session.scalar(select(ChargeState).where(
        ChargeState.stripe_charge_id == charge_id).with_for_update())
    if payment_intent_id and not charge.stripe_payment_intent_id:
        charge.stripe_payment_intent_id = payment_intent_id
    if amount_refunded is not None and _newer(as_of, charge.refunded_as_of,
                                              amount_refunded > charge.amount_refunded):
        charge.amount_refunded = amount_refunded
        charge.refunded_as_of = as_of
    for refund in refunds:
        _note_refund(charge_id, refund, as_of)
    if dispute_status and _newer(as_of, charge.dispute_as_of, _DISPUTE_STAGE.get(
            dispute_status, 0) >= _DISPUTE_STAGE.get(charge.dispute_status or "", 0)):
        charge.dispute_status = dispute_status
        charge.dispute_as_of = as_of
    db.session.flush()
    matches = [Donation.stripe_charge_id == charge_id]
    if payment_intent_id:
        matches.append(Donation.stripe_payment_intent_id == payment_intent_id)
    donation = db.session.scalar(select(Donation).where(or_(*matches)).with_for_update())
    if donation is not None:
        _apply_charge(donation, charge)
    return donation


# A dispute's life, for two statuses reported in the same second: the later stage wins.
_DISPUTE_STAGE = {"warning_needs_response": 1, "warning_under_review": 2, "warning_closed": 3,
                  "needs_response": 4, "under_review": 5, "lost": 6,
                  "appeal_needs_response": 7, "appeal_under_review": 8, "won": 9}


def _newer(as_of: datetime, recorded: datetime | None, wins_a_tie: bool) -> bool:
    return recorded is None or as_of > recorded or (as_of == recorded and wins_a_tie)


def _note_refund(charge_id: str, refund: RefundState, as_of: datetime) -> None:
    insert_or_ignore(ChargeRefund, {"stripe_refund_id": refund.refund_id,
                                    "stripe_charge_id": charge_id, "amount": refund.amount,
                                    "status": refund.status, "as_of": as_of})
    known = db.session.scalar(select(ChargeRefund).where(
        ChargeRefund.stripe_refund_id == refund.refund_id).with_for_update())
    if known.status in REFUND_FAILED_STATES:
        return  # a refund that failed stays failed
    if refund.status in REFUND_FAILED_STATES or _newer(as_of, known.as_of, False):
        known.status, known.amount, known.as_of = refund.status, refund.amount, as_of


def refunded_cents(charge: ChargeState) -> int:
    """What the charge has given back: the refunds that stand, or what the charge last
    reported less the refunds that failed after that report (a report made since a
    failure already leaves the failed refund out)."""
    refunds = db.session.execute(
        select(ChargeRefund.amount, ChargeRefund.status, ChargeRefund.as_of).where(
            ChargeRefund.stripe_charge_id == charge.stripe_charge_id)).all()
    reported = charge.refunded_as_of
    failed_since = sum(amount for amount, status, as_of in refunds
                       if status in REFUND_FAILED_STATES
                       and (reported is None or as_of >= reported))
    standing = sum(amount for amount, status, _ in refunds
                   if status not in REFUND_FAILED_STATES)
    return max(standing, charge.amount_refunded - failed_since, 0)


def _apply_known_charge_state(donation_id: int, payment: Payment) -> None:
    """A refund or dispute that arrived before the payment applies now."""
    if not (payment.charge_id or payment.payment_intent_id):
        return
    charge_id = db.session.connection().execute(_KNOWN_CHARGE, {
        "charge": payment.charge_id, "payment_intent": payment.payment_intent_id}).scalar()
    if charge_id is not None:
        _apply_charge(db.session.get(Donation, donation_id),
                      db.session.get(ChargeState, charge_id))


# Looked up for every new donation; a None key matches nothing.
_KNOWN_CHARGE = select(ChargeState.id).where(or_(
    ChargeState.stripe_charge_id == bindparam("charge"),
    ChargeState.stripe_payment_intent_id == bindparam("payment_intent"),
)).limit(1)


def _apply_charge(donation: Donation, charge: ChargeState) -> None:
    net_before = donation.net_cents
    donation.stripe_charge_id = donation.stripe_charge_id or charge.stripe_charge_id
    donation.refunded_cents = min(refunded_cents(charge), donation.amount_cents)
    donation.dispute_status = charge.dispute_status
    donation.status = donation_status(donation)
    db.session.flush()
    net_after = donation.net_cents
    if net_after != net_before:
        _announce(donation.id, _totals_key(donation), recorded=False, gross_delta=0,
                  net_delta=net_after - net_before,
                  counted_delta=(net_after > 0) - (net_before > 0))


def _totals_key(donation: Donation) -> dict:
    return {"donor_id": donation.donor_id, "campaign": donation.campaign,
            "currency": donation.currency, "frequency": donation.frequency,
            "created_at": donation.created_at}


def _announce(donation_id: int, values: dict, **deltas) -> None:
    """Add what the donation is now worth, compared with before, to the daily totals and
    tell the other keepers of running totals, all in this transaction."""
    change = DonationChange(
        donation_id=donation_id, donor_id=values["donor_id"], campaign=values["campaign"],
        currency=values["currency"], frequency=values["frequency"],
        created_at=values["created_at"], **deltas)
    connection = db.session.connection()  # Core statements, past the ORM's layer
    connection.execute(_add_to_daily_total(connection.dialect.name), {
        "day": change.created_at.astimezone(UTC).date(), "currency": change.currency,
        "frequency": change.frequency, "campaign": change.campaign or "",
        "donations": int(change.recorded), "gross": change.gross_delta,
        "net": change.net_delta,
    })
    donation_changed.send(change)


@cache
def _add_to_daily_total(dialect: str):
    statement = upsert_insert(dialect)(DailyTotal).values(
        day=bindparam("day"), currency=bindparam("currency"),
        frequency=bindparam("frequency"), campaign=bindparam("campaign"),
        donations=bindparam("donations"), gross_cents=bindparam("gross"),
        net_cents=bindparam("net"))
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["day", "currency", "frequency", "campaign"],
        set_={"donations": DailyTotal.donations + excluded.donations,
              "gross_cents": DailyTotal.gross_cents + excluded.gross_cents,
              "net_cents": DailyTotal.net_cents + excluded.net_cents})


def daily_totals_from_donations():
    """The daily totals summed from the donations themselves: what the kept totals must
    always equal."""
    day = utc_day(Donation.created_at, db.session.get_bind().dialect.name)
    campaign = func.coalesce(Donation.campaign, "")
    return select(day, Donation.currency, Donation.frequency, campaign, func.count(),
                  func.sum(Donation.amount_cents), func.sum(Donation.net_cents)).group_by(
        day, Donation.currency, Donation.frequency, campaign)


def recount_daily_totals() -> None:
    """Rebuild the kept daily totals, each donor's first and last donation, the long gaps
    and the weeks and months donors gave in, from the donations (after a bulk load,
    which bypasses the bookkeeping)."""
    db.session.execute(delete(DailyTotal))
    db.session.execute(insert(DailyTotal).from_select(
        ["day", "currency", "frequency", "campaign", "donations", "gross_cents", "net_cents"],
        daily_totals_from_donations()))
    spans = select(Donation.donor_id, func.min(Donation.created_at).label("first_at"),
                   func.max(Donation.created_at).label("last_at")
                   ).group_by(Donation.donor_id).subquery()
    db.session.execute(update(Donor).where(Donor.id == spans.c.donor_id).values(
        first_donation_at=spans.c.first_at, last_donation_at=spans.c.last_at))
    db.session.execute(delete(DonorGap))
    db.session.execute(insert(DonorGap).from_select(
        ["donor_id", "from_at", "to_at"], long_gaps_from_donations()))
    db.session.execute(delete(DonorActivity))
    for period in ("week", "month"):
        db.session.execute(insert(DonorActivity).from_select(
            ["donor_id", "period", "starts"], activity_from_donations(period)))
    db.session.flush()


def activity_from_donations(period: str):
    """(donor, period, first day) for every week or month each donor gave in."""
    starts = utc_period(Donation.created_at, period, db.session.get_bind().dialect.name)
    return select(Donation.donor_id, literal(period), starts).distinct()


def long_gaps_from_donations():
    """Every gap longer than LONG_GAP between consecutive donations of a donor, found
    from the donations themselves."""
    previous = type_coerce(func.lag(Donation.created_at).over(
        partition_by=Donation.donor_id, order_by=Donation.created_at), UTCDateTime)
    pairs = select(Donation.donor_id, previous.label("from_at"),
                   Donation.created_at.label("to_at")).subquery()
    rows = select(pairs.c.donor_id, pairs.c.from_at, pairs.c.to_at).where(
        pairs.c.from_at.is_not(None)).distinct()
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return rows.where(pairs.c.to_at - pairs.c.from_at > LONG_GAP)
    # SQLite keeps UTC text; julianday() measures it in days.
    return rows.where(func.julianday(pairs.c.to_at) - func.julianday(pairs.c.from_at)
                      > LONG_GAP.days)


def _note_donation_time(donor_id: int, donation_id: int, at: datetime) -> None:
    """Keep the donor's weeks and months of giving, first and last donation times and
    long gaps up to date with a donation made `at` (which may arrive after later ones:
    Stripe does not promise order). The donor row is locked first, so two donations of
    one donor recorded at the same moment see each other."""
    day = at.astimezone(UTC).date()
    # Core statements on the connection: they run for every donation, the ORM adds nothing.
    connection = db.session.connection()
    connection.execute(_note_activity(connection.dialect.name), {
        "donor_id": donor_id, "week": day - timedelta(days=day.weekday()),
        "month": day.replace(day=1)})
    times = connection.execute(_SPAN_UPDATE, {"donor": donor_id, "at": at}).one()
    if times.first_donation_at == at == times.last_donation_at:
        return  # the first donation: no neighbours
    # A statement of its own: on PostgreSQL it sees a donation committed while the
    # update above waited for the donor's row (the update's own snapshot would not).
    before, after = connection.execute(_NEIGHBOURS, {"donor": donor_id, "at": at,
                                                     "donation": donation_id}).one()
    if before is not None and after is not None and after - before > LONG_GAP:
        connection.execute(delete(DonorGap).where(DonorGap.donor_id == donor_id,
                                                  DonorGap.from_at == before))
    for start, end in ((before, at), (at, after)):
        if start is not None and end is not None and end - start > LONG_GAP:
            connection.execute(_keep_gap(connection.dialect.name),
                               {"donor_id": donor_id, "from_at": start, "to_at": end})


@cache
def _note_activity(dialect: str):
    """The donor's week and month, in one statement."""
    return upsert_insert(dialect)(DonorActivity.__table__).values([
        {"donor_id": bindparam("donor_id"), "period": "week", "starts": bindparam("week")},
        {"donor_id": bindparam("donor_id"), "period": "month", "starts": bindparam("month")},
    ]).on_conflict_do_nothing()


@cache
def _keep_gap(dialect: str):
    return upsert_insert(dialect)(DonorGap.__table__).on_conflict_do_nothing()


_SPAN_UPDATE = update(Donor).where(Donor.id == bindparam("donor")).values(
    first_donation_at=case(
        (or_(Donor.first_donation_at.is_(None), Donor.first_donation_at > bindparam("at")),
         bindparam("at")), else_=Donor.first_donation_at),
    last_donation_at=case(
        (or_(Donor.last_donation_at.is_(None), Donor.last_donation_at < bindparam("at")),
         bindparam("at")), else_=Donor.last_donation_at),
).returning(Donor.first_donation_at, Donor.last_donation_at)
# The donor's donations just before and just after one made `at`, in one round trip.
_NEIGHBOURS = select(
    select(func.max(Donation.created_at)).where(
        Donation.donor_id == bindparam("donor"), Donation.created_at <= bindparam("at"),
        Donation.id != bindparam("donation")).scalar_subquery(),
    select(func.min(Donation.created_at)).where(
        Donation.donor_id == bindparam("donor"), Donation.created_at >= bindparam("at"),
        Donation.id != bindparam("donation")).scalar_subquery())


def donation_status(donation: Donation) -> str:
    if donation.dispute_status in LOST_DISPUTE_STATES:
        return DonationStatus.REVERSED
    if donation.dispute_status in OPEN_DISPUTE_STATES:
        return DonationStatus.DISPUTED
    if donation.refunded_cents >= donation.amount_cents:
        return DonationStatus.REFUNDED
    if donation.refunded_cents > 0:
        return DonationStatus.PARTIALLY_REFUNDED
    return DonationStatus.SUCCEEDED


# The donor's own view -------------------------------------------------------------------

def donations_for(user: User) -> list[Donation]:
    return list(db.session.scalars(
        select(Donation).join(Donor).where(Donor.user_id == user.id)
        .order_by(Donation.created_at.desc(), Donation.id.desc())))


def recurring_gifts_for(user: User) -> list[RecurringGift]:
    return list(db.session.scalars(
        select(RecurringGift).join(Donor).where(Donor.user_id == user.id)
        .order_by(RecurringGift.created_at.desc())))


def own_donation_or_none(user: User, donation_id: int) -> Donation | None:
    """The one place deciding whether a reader may see a gift: only their own."""
    return db.session.scalar(
        select(Donation).join(Donor).where(Donation.id == donation_id, Donor.user_id == user.id))


def own_recurring_gift_or_none(user: User, gift_id: int) -> RecurringGift | None:
    return db.session.scalar(
        select(RecurringGift).join(Donor)
        .where(RecurringGift.id == gift_id, Donor.user_id == user.id))


def yearly_statement(user: User, year: int) -> tuple[list[Donation], dict[str, int]]:
    """A calendar year's gifts and the net total per currency."""
    donations = [d for d in donations_for(user) if d.created_at.year == year]
    totals: dict[str, int] = {}
    for donation in sorted(donations, key=lambda d: d.created_at):
        totals[donation.currency] = totals.get(donation.currency, 0) + donation.net_cents
    return sorted(donations, key=lambda d: d.created_at), totals


def _receipt_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="donations.receipt")


def receipt_token(donation: Donation) -> str:
    return _receipt_serializer().dumps(donation.id)


def donation_for_receipt_token(token: str) -> Donation | None:
    try:
        donation_id = _receipt_serializer().loads(token)
    except BadSignature:
        return None
    return db.session.get(Donation, donation_id) if isinstance(donation_id, int) else None


def receipt_link(donation: Donation) -> str:
    return external_url("donations.public_receipt", token=receipt_token(donation))


def donation_with_payment_intent(payment_intent_id: str) -> Donation | None:
    return db.session.scalar(
        select(Donation).where(Donation.stripe_payment_intent_id == payment_intent_id))


def attach_payment_intent(invoice_id: str, payment_intent_id: str) -> None:
    donation = db.session.scalar(select(Donation).where(Donation.stripe_invoice_id == invoice_id))
    if donation is not None and donation.stripe_payment_intent_id is None:
        donation.stripe_payment_intent_id = payment_intent_id
        db.session.flush()


def recurring_gift_exists(subscription_id: str) -> bool:
    return db.session.scalar(select(func.count()).select_from(RecurringGift).where(
        RecurringGift.stripe_subscription_id == subscription_id)) > 0
