"""Refunds and disputes: what Stripe last said of each charge, and what that leaves a
donation worth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, or_, select

from membership.donations.models import (
    LOST_DISPUTE_STATES,
    OPEN_DISPUTE_STATES,
    REFUND_FAILED_STATES,
    ChargeRefund,
    ChargeState,
    DisputeStatus,
    Donation,
    DonationStatus,
)
from membership.donations.signals import announce
from membership.extensions import db
from membership.sql import insert_or_ignore
from membership.types import utcnow


@dataclass(frozen=True)
class RefundState:
    """One refund as a refund event reports it."""

    refund_id: str
    amount: int
    status: str


@dataclass(frozen=True)
class Settlement:
    """A charge's balance transaction: what the payment came to in the Stripe account's
    settlement currency, and Stripe's fee, in that currency's minor units."""

    balance_transaction_id: str
    currency: str
    amount_cents: int
    fee_cents: int


def apply_charge_state(charge_id: str, payment_intent_id: str | None, as_of: datetime,
                       amount_refunded: int | None = None,
                       dispute_status: str | None = None,
                       refunds: tuple[RefundState, ...] = (),
                       settlement: Settlement | None = None) -> Donation | None:
    """Remember what Stripe says of a charge and apply it to its donation, if known.

    Each fact follows the newest event that reports it, whatever the order of delivery:
    the charge's refunded amount, each refund's status (a failed refund is final) and the
    dispute's status. Its settlement is kept as first reported: it never changes."""
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
    if settlement is not None and charge.stripe_balance_transaction_id is None:
        charge.stripe_balance_transaction_id = settlement.balance_transaction_id
        charge.settled_currency = settlement.currency
        charge.settled_amount_cents = settlement.amount_cents
        charge.settled_fee_cents = settlement.fee_cents
    db.session.flush()
    matches = [Donation.stripe_charge_id == charge_id]
    if payment_intent_id:
        matches.append(Donation.stripe_payment_intent_id == payment_intent_id)
    donation = db.session.scalar(select(Donation).where(or_(*matches)).with_for_update())
    if donation is not None:
        _apply_charge(donation, charge)
    return donation


# A dispute's life, for two statuses reported in the same second: the later stage wins.
_DISPUTE_STAGE = {status: stage for stage, status in enumerate(DisputeStatus, start=1)}


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


def settle_donation(donation_id: int, charge_id: str, payment_intent_id: str | None,
                    settlement: Settlement) -> bool:
    """Keep the settlement of a donation's charge, found for it by asking Stripe (a gift
    recorded from its invoice alone may not know its charge yet: it learns it here,
    unless another donation holds that charge). True when the donation is now settled."""
    donation = db.session.scalar(select(Donation).where(Donation.id == donation_id)
                                 .with_for_update())
    taken = db.session.scalar(select(Donation.id).where(Donation.stripe_charge_id == charge_id))
    if donation.stripe_charge_id is None and taken is None:
        donation.stripe_charge_id = charge_id
        db.session.flush()
    apply_charge_state(charge_id, payment_intent_id, utcnow(), settlement=settlement)
    db.session.refresh(donation)
    return donation.settled_currency is not None


def apply_known_charge_state(donation_id: int, charge_id: str | None,
                             payment_intent_id: str | None) -> None:
    """A refund or dispute that arrived before the new donation's payment applies now."""
    if not (charge_id or payment_intent_id):
        return
    charge_id = db.session.connection().execute(_KNOWN_CHARGE, {
        "charge": charge_id, "payment_intent": payment_intent_id}).scalar()
    if charge_id is not None:
        _apply_charge(db.session.get(Donation, donation_id),
                      db.session.get(ChargeState, charge_id))


# Looked up for every new donation; a None key matches nothing.
_KNOWN_CHARGE = select(ChargeState.id).where(or_(
    ChargeState.stripe_charge_id == bindparam("charge"),
    ChargeState.stripe_payment_intent_id == bindparam("payment_intent"),
)).limit(1)


def _apply_charge(donation: Donation, charge: ChargeState) -> None:
    before = _worth(donation)
    donation.stripe_charge_id = donation.stripe_charge_id or charge.stripe_charge_id
    donation.refunded_cents = min(refunded_cents(charge), donation.amount_cents)
    donation.dispute_status = charge.dispute_status
    donation.status = donation_status(donation)
    if charge.stripe_balance_transaction_id is not None:
        donation.settled_currency = charge.settled_currency
        donation.settled_amount_cents = charge.settled_amount_cents
        donation.settled_fee_cents = charge.settled_fee_cents
    db.session.flush()
    after = _worth(donation)
    if after != before:
        announce(donation.id, _totals_key(donation), recorded=False, gross_delta=0,
                 net_delta=after.net - before.net,
                 counted_delta=(after.net > 0) - (before.net > 0),
                 settled_currency=donation.settled_currency,
                 settled_count_delta=int(after.settled is not None and before.settled is None),
                 settled_delta=(after.settled or 0) - (before.settled or 0),
                 fee_delta=(after.fee or 0) - (before.fee or 0),
                 kept_delta=(after.kept or 0) - (before.kept or 0))


class _Worth(NamedTuple):
    net: int
    settled: int | None
    fee: int | None
    kept: int | None


def _worth(donation: Donation) -> _Worth:
    return _Worth(donation.net_cents, donation.settled_amount_cents,
                  donation.settled_fee_cents, donation.settled_kept_cents)


def _totals_key(donation: Donation) -> dict:
    return {"donor_id": donation.donor_id, "campaign": donation.campaign,
            "currency": donation.currency, "frequency": donation.frequency,
            "created_at": donation.created_at,
            "recurring_gift_id": donation.recurring_gift_id}


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
