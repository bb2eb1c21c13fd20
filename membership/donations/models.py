from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    func,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from membership.extensions import db
from membership.types import UTCDateTime, utcnow


class Frequency(StrEnum):
    ONCE = "once"
    MONTHLY = "monthly"
    YEARLY = "yearly"


INTERVALS = {Frequency.MONTHLY: "month", Frequency.YEARLY: "year"}  # → Stripe's interval


class CheckoutStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"  # paid by bank debit: the money is on its way
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"  # the donor left Stripe's payment page; it closed after 24 hours


class SubscriptionStatus(StrEnum):
    """Stripe's subscription statuses, as the recurring gift keeps them."""

    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    PAUSED = "paused"
    CANCELED = "canceled"


# The statuses in which Stripe charges the donor, or is still retrying a failed charge.
# incomplete, incomplete_expired, unpaid, paused and canceled bring nothing.
COLLECTING_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING,
                       SubscriptionStatus.PAST_DUE)
# A subscription in these states is over for good: nothing to cancel.
ENDED_STATUSES = (SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED)
# Stripe's states of an unpaid first invoice: the gift never brought anything.
NEVER_PAID_STATUSES = (SubscriptionStatus.INCOMPLETE, SubscriptionStatus.INCOMPLETE_EXPIRED)


class CancellationReason(StrEnum):
    """Why Stripe ended a subscription (its `cancellation_details.reason`)."""

    CANCELLATION_REQUESTED = "cancellation_requested"  # the donor, staff or our code asked
    PAYMENT_FAILED = "payment_failed"  # Stripe gave up retrying a failed renewal
    PAYMENT_DISPUTED = "payment_disputed"


class CancelFeedback(StrEnum):
    """Why the donor cancels, as they pick it: Stripe's `cancellation_details.feedback`
    values (the staff see the same in Stripe's dashboard)."""

    TOO_EXPENSIVE = "too_expensive"
    UNUSED = "unused"
    LOW_QUALITY = "low_quality"
    SWITCHED_SERVICE = "switched_service"
    CUSTOMER_SERVICE = "customer_service"
    OTHER = "other"


class DonationStatus(StrEnum):
    """Derived from refunds and disputes (see `recording.donation_status`)."""

    SUCCEEDED = "succeeded"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    REVERSED = "reversed"


class DisputeStatus(StrEnum):
    """Stripe's dispute statuses, with the appeal of a lost one, in the order of a
    dispute's life: of two reported in the same second, the later one wins."""

    WARNING_NEEDS_RESPONSE = "warning_needs_response"
    WARNING_UNDER_REVIEW = "warning_under_review"
    WARNING_CLOSED = "warning_closed"
    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    LOST = "lost"
    APPEAL_NEEDS_RESPONSE = "appeal_needs_response"
    APPEAL_UNDER_REVIEW = "appeal_under_review"
    WON = "won"


OPEN_DISPUTE_STATES = (DisputeStatus.WARNING_NEEDS_RESPONSE, DisputeStatus.WARNING_UNDER_REVIEW,
                       DisputeStatus.NEEDS_RESPONSE, DisputeStatus.UNDER_REVIEW)
# A lost dispute under appeal: the money stays gone until the appeal is won (the dispute
# then becomes "won").
LOST_DISPUTE_STATES = (DisputeStatus.LOST, DisputeStatus.APPEAL_NEEDS_RESPONSE,
                       DisputeStatus.APPEAL_UNDER_REVIEW)


class RefundStatus(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


# The refund states that do not give the money back to the donor.
REFUND_FAILED_STATES = (RefundStatus.FAILED, RefundStatus.CANCELED)


def new_public_id() -> str:
    return uuid.uuid4().hex


# A deleted account's donor records keep their gifts under an address of this domain.
ANONYMIZED_DOMAIN = "anonymized.invalid"


class Donor(db.Model):
    """A person who gives, keyed by normalized e-mail; linked to an account once the
    account's owner has proved they own that address."""

    __tablename__ = "donors"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # The language of the gift form they last used: receipts are written in it.
    language: Mapped[str | None] = mapped_column(String(8))
    # When their first and last donations were made: reports count "new donors" and,
    # with the long gaps below, the donors of a period without reading every donation.
    first_donation_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_donation_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first UTC year with a donation of theirs that counts (is worth something now):
    # retention counts new donors from it (kept with reports.models.DonorYear).
    first_counted_year: Mapped[int | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_donors_donation_span", "first_donation_at", "last_donation_at"),)


class _GiftDetails:
    """What the donor chose on the form, carried by the checkout, the recurring gift and
    each donation."""

    amount_cents: Mapped[int]
    fee_cents: Mapped[int] = mapped_column(default=0)  # part added to cover processing fees
    currency: Mapped[str] = mapped_column(String(3))
    frequency: Mapped[str] = mapped_column(String(10))
    campaign: Mapped[str | None] = mapped_column(String(100), index=True)
    anonymous: Mapped[bool] = mapped_column(default=False)
    dedication_kind: Mapped[str | None] = mapped_column(String(20))  # "honor" or "memory"
    dedication_name: Mapped[str | None] = mapped_column(String(200))
    dedication_message: Mapped[str | None] = mapped_column(Text)


class Checkout(_GiftDetails, db.Model):
    """A gift on its way through the payment page: recorded before the redirect."""

    __tablename__ = "checkouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donors.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=CheckoutStatus.PENDING)
    stripe_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # A tribute gift's card to the person it honours (with the dedication's message): their
    # address is kept only until the card is sent (once, when the gift is paid), then erased.
    honoree_email: Mapped[str | None] = mapped_column(String(320))
    honoree_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    donor: Mapped[Donor] = relationship()


class RecurringGift(_GiftDetails, db.Model):
    """A monthly or yearly gift: one Stripe subscription."""

    __tablename__ = "recurring_gifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unknown while only subscription events have arrived and Stripe cannot be asked who
    # the customer is; the checkout or the first invoice fills it in.
    donor_id: Mapped[int | None] = mapped_column(ForeignKey("donors.id"), index=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    # Stripe's subscription status: incomplete, active, past_due, canceled, unpaid, …
    status: Mapped[str] = mapped_column(String(24), default=SubscriptionStatus.INCOMPLETE)
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    # A scheduled end: Stripe's `cancel_at` (the end of the paid period when
    # `cancel_at_period_end`, or any moment staff or the donor chose).
    cancel_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Stripe's `pause_collection`: the subscription runs but charges nothing, until
    # `collection_resumes_at` when that is set.
    collection_paused: Mapped[bool] = mapped_column(default=False)
    collection_resumes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When its first donation was paid (whatever became of it): the cohort it belongs to
    # (kept by reports, with its months of giving, reports.models.GiftMonth).
    first_paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # The reason the donor picked when cancelling, in Stripe's words (a CancelFeedback).
    cancel_feedback: Mapped[str | None] = mapped_column(String(32))
    # The card Stripe charges (the subscription's default payment method): what the donor
    # sees on their giving page, and when it expires (the reminder before it does).
    stripe_payment_method_id: Mapped[str | None] = mapped_column(String(255), index=True)
    card_brand: Mapped[str | None] = mapped_column(String(32))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    card_exp_month: Mapped[int | None]
    card_exp_year: Mapped[int | None]
    card_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The card (payment method and expiry) whose expiry reminder was sent: once per card.
    card_reminded_for: Mapped[str | None] = mapped_column(String(300))
    # Part of the gift's signed links (donations.giving.manage_link): raising it disables
    # every link sent so far.
    manage_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Stripe's reason for the end (a CancellationReason); None where the event's API
    # version does not say.
    ended_because: Mapped[str | None] = mapped_column(String(32))
    # When the newest Stripe event applied to the subscription's details (amount, period,
    # cancellation) and to its status was created: an older event arriving late must not
    # overwrite newer state. Kept apart because payment events move the status only.
    state_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    donor: Mapped[Donor | None] = relationship()

    @hybrid_property
    def is_collecting(self) -> bool:
        """Whether the gift brings money in: Stripe charges it (or still retries), and
        collection is not paused (the contract's "collecting" recurring gifts)."""
        return self.status in COLLECTING_STATUSES and not self.collection_paused

    @is_collecting.inplace.expression
    @classmethod
    def _is_collecting_expression(cls):
        return and_(cls.status.in_(COLLECTING_STATUSES), cls.collection_paused.is_(False))

    @property
    def ends_at(self) -> datetime | None:
        """When a gift that is still running will end, if an end is scheduled."""
        if self.status == SubscriptionStatus.CANCELED:
            return None
        return self.cancel_at or (self.current_period_end if self.cancel_at_period_end
                                  else None)

    @hybrid_property
    def monthly_cents(self) -> int:
        """The gift's value per month (yearly gifts count a twelfth, rounded): what it
        adds to MRR."""
        if self.frequency == Frequency.YEARLY:
            return (self.amount_cents + 6) // 12
        return self.amount_cents

    @monthly_cents.inplace.expression
    @classmethod
    def _monthly_cents_expression(cls):
        return case((cls.frequency == Frequency.YEARLY, (cls.amount_cents + 6) // 12),
                    else_=cls.amount_cents)


class Donation(_GiftDetails, db.Model):
    """One successful payment: a one-time gift, or one charge of a recurring gift."""

    __tablename__ = "donations"
    __table_args__ = (
        # Donations by time, with their donor: a period's donors are counted from the
        # index alone (old gifts' rows are scattered across the table).
        Index("ix_donations_created_at_donor", "created_at", "donor_id"),
        # A campaign's supporters wall and recount read its gifts newest first.
        Index("ix_donations_campaign_created_at", "campaign", "created_at"),
        # A donor's donations before and after a moment (the gaps above).
        Index("ix_donations_donor_created_at", "donor_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donors.id"), index=True)
    recurring_gift_id: Mapped[int | None] = mapped_column(
        ForeignKey("recurring_gifts.id"), index=True)
    status: Mapped[str] = mapped_column(String(24), default=DonationStatus.SUCCEEDED)
    refunded_cents: Mapped[int] = mapped_column(default=0)
    dispute_status: Mapped[str | None] = mapped_column(String(32))
    billing_reason: Mapped[str | None] = mapped_column(String(40))
    # Each Stripe object that can stand for this payment is unique: a retried or
    # concurrent webhook can never record the same payment twice.
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What the payment came to in the Stripe account's settlement currency, and Stripe's
    # fee, from the charge's balance transaction: unknown until Stripe has settled it.
    settled_currency: Mapped[str | None] = mapped_column(String(3))
    settled_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    settled_fee_cents: Mapped[int | None] = mapped_column(BigInteger)

    donor: Mapped[Donor] = relationship()
    recurring_gift: Mapped[RecurringGift | None] = relationship()

    @hybrid_property
    def net_cents(self) -> int:
        """What the organization keeps: nothing after a lost dispute, else minus refunds."""
        if self.dispute_status in LOST_DISPUTE_STATES:
            return 0
        return self.amount_cents - self.refunded_cents

    @net_cents.inplace.expression
    @classmethod
    def _net_cents_expression(cls):
        return case((cls.dispute_status.in_(LOST_DISPUTE_STATES), 0),
                    else_=cls.amount_cents - cls.refunded_cents)

    @hybrid_property
    def settled_kept_cents(self) -> int | None:
        """What is kept of the settled amount: all of it, nothing once the gift is wholly
        refunded or lost to a dispute, else as much as is kept of the gift (rounded down:
        refunds go back at the charge's own exchange rate). None until settled."""
        if self.settled_amount_cents is None:
            return None
        net = self.net_cents
        if net >= self.amount_cents:
            return self.settled_amount_cents
        if net <= 0:
            return 0
        return self.settled_amount_cents * net // self.amount_cents

    @settled_kept_cents.inplace.expression
    @classmethod
    def _settled_kept_cents_expression(cls):
        net = cls.net_cents
        return case((cls.settled_amount_cents.is_(None), None),
                    (net >= cls.amount_cents, cls.settled_amount_cents),
                    (net <= 0, 0),
                    else_=cls.settled_amount_cents * net // cls.amount_cents)

    @hybrid_property
    def stripe_id(self) -> str:
        return (self.stripe_payment_intent_id or self.stripe_invoice_id
                or self.stripe_checkout_session_id or "")

    @stripe_id.inplace.expression
    @classmethod
    def _stripe_id_expression(cls):
        return func.coalesce(cls.stripe_payment_intent_id, cls.stripe_invoice_id,
                             cls.stripe_checkout_session_id, "")

    @property
    def receipt_number(self) -> str:
        return f"{self.created_at:%Y}-{self.id:06d}"


class PaymentFailure(db.Model):
    """A failed charge of a recurring gift (one row per invoice attempt)."""

    __tablename__ = "payment_failures"
    __table_args__ = (UniqueConstraint("stripe_invoice_id", "attempt_count"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recurring_gift_id: Mapped[int] = mapped_column(ForeignKey("recurring_gifts.id"), index=True)
    stripe_invoice_id: Mapped[str] = mapped_column(String(255))
    attempt_count: Mapped[int] = mapped_column(default=1)
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # When Stripe will try again (its `next_payment_attempt`); None: no more tries.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SentStatement(db.Model):
    """A donor's yearly statement, e-mailed: once per donor and fiscal year."""

    __tablename__ = "sent_statements"
    __table_args__ = (UniqueConstraint("donor_id", "fiscal_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donors.id", ondelete="CASCADE"))
    fiscal_year: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChargeState(db.Model):
    """What Stripe last told us about a charge's refunds and dispute.

    Kept even before we know which donation the charge belongs to, because a refund
    event can arrive before the payment event; the donation picks it up when recorded."""

    __tablename__ = "charge_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_charge_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # The charge's `amount_refunded` as its newest charge event reported it.
    amount_refunded: Mapped[int] = mapped_column(default=0)
    refunded_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispute_status: Mapped[str | None] = mapped_column(String(32))
    dispute_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The charge's balance transaction (see Donation.settled_*): it never changes.
    stripe_balance_transaction_id: Mapped[str | None] = mapped_column(String(255))
    settled_currency: Mapped[str | None] = mapped_column(String(3))
    settled_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    settled_fee_cents: Mapped[int | None] = mapped_column(BigInteger)


class ChargeRefund(db.Model):
    """One refund of a charge, as its newest refund event reported it. A refund can fail
    after the charge said it was refunded: the failed ones are taken off again."""

    __tablename__ = "charge_refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_refund_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_charge_id: Mapped[str] = mapped_column(String(255), index=True)
    amount: Mapped[int]
    status: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
