"""Settling older gifts: each donation recorded before its charge's balance transaction
was kept (or whose charge event never came) gets it from Stripe, by a command."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import or_, select

from membership.donations import charges
from membership.donations.gateway import GatewayError, payment_gateway
from membership.donations.models import Donation
from membership.extensions import db
from membership.payments.handlers import settlement_of
from membership.payments.payload import MalformedEvent, object_id, text

BATCH = 100


@dataclass(frozen=True)
class Backfilled:
    settled: int  # donations that now know their settled amount and fee
    pending: int  # Stripe has no balance transaction for their charge yet, or no charge
    failed: int   # Stripe sent a charge we cannot read (logged), or could not be asked
    stopped: bool = False  # Stripe could not be asked: the others wait for the next run


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
    each donation commits on its own. Stops at the first charge Stripe cannot give now;
    one it sends that cannot be read is logged and passed over."""
    settled = pending = failed = 0
    last_id = 0
    while limit is None or settled + pending + failed < limit:
        left = BATCH if limit is None else min(BATCH, limit - settled - pending - failed)
        ids = _unsettled(last_id, left)
        db.session.commit()
        if not ids:
            break
        for donation_id in ids:
            last_id = donation_id
            try:
                charge = payment_gateway().charge_of(db.session.get(Donation, donation_id))
            except GatewayError:
                db.session.rollback()
                return Backfilled(settled, pending, failed + 1, stopped=True)
            db.session.commit()  # nothing stays open while Stripe answers
            try:
                settlement = settlement_of(charge) if charge else None
                done = settlement is not None and charges.settle_donation(
                    donation_id, text(charge, "id", required=True),
                    object_id(charge, "payment_intent"), settlement)
            except MalformedEvent as error:
                db.session.rollback()
                current_app.logger.warning("Stripe's charge for donation %s: %s",
                                           donation_id, error)
                failed += 1
                continue
            db.session.commit()
            settled, pending = (settled + 1, pending) if done else (settled, pending + 1)
    return Backfilled(settled, pending, failed)
