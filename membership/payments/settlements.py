"""Settling older gifts: each donation recorded before its charge's balance transaction
was kept (or whose charge event never came) gets it from Stripe, by a command."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from membership.donations import charges
from membership.donations.gateway import GatewayError, payment_gateway
from membership.donations.models import Donation
from membership.extensions import db
from membership.payments.handlers import settlement_of
from membership.payments.payload import MalformedEvent, object_id, text
from membership.types import utcnow

BATCH = 100


@dataclass(frozen=True)
class Backfilled:
    settled: int  # donations that now know their settled amount and fee
    pending: int  # Stripe has no balance transaction for their charge yet, or no charge
    failed: int   # Stripe could not be asked (the run stopped there) or sent nonsense


def _unsettled(after_id: int, limit: int) -> list[int]:
    return list(db.session.scalars(
        select(Donation.id).where(
            Donation.settled_currency.is_(None), Donation.id > after_id,
            or_(Donation.stripe_charge_id.is_not(None),
                Donation.stripe_payment_intent_id.is_not(None),
                Donation.stripe_invoice_id.is_not(None)))
        .order_by(Donation.id).limit(limit)))


def backfill_settlements(limit: int | None = None) -> Backfilled:
    """Ask Stripe for the charge of every donation that does not know its settlement yet,
    oldest first, and keep its balance transaction. Stripe is asked with nothing locked;
    each donation commits on its own. Stops at the first charge Stripe cannot give now."""
    settled = pending = 0
    last_id = 0
    while limit is None or settled + pending < limit:
        ids = _unsettled(last_id, BATCH if limit is None else min(BATCH, limit - settled
                                                                  - pending))
        db.session.commit()
        if not ids:
            break
        for donation_id in ids:
            last_id = donation_id
            donation = db.session.get(Donation, donation_id)
            try:
                charge = payment_gateway().charge_of(donation)
                db.session.commit()  # nothing stays open while Stripe answers
                settlement = settlement_of(charge) if charge else None
                if settlement is None:
                    pending += 1
                    continue
                charges.apply_charge_state(text(charge, "id", required=True),
                                           object_id(charge, "payment_intent"), utcnow(),
                                           settlement=settlement)
                db.session.commit()
                settled += 1
            except (GatewayError, MalformedEvent):
                db.session.rollback()
                return Backfilled(settled, pending, 1)
    return Backfilled(settled, pending, 0)
