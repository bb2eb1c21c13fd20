"""Moments other domains hook into without donations importing them.

`donation_changed(change)`: sent inside the transaction that records a donation, and
again whenever a refund or dispute changes what it is worth. Receivers keep running
totals (a campaign's progress, the daily report roll-ups) in that same transaction, so
a total can never disagree with the donations it sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from blinker import Namespace

_signals = Namespace()

donation_changed = _signals.signal("donation-changed")


@dataclass(frozen=True)
class DonationChange:
    """What one donation adds to, or takes from, any total it belongs to."""

    donation_id: int
    donor_id: int
    campaign: str | None
    currency: str
    frequency: str
    created_at: datetime
    recorded: bool  # True once, when the donation is recorded; then refunds and disputes
    gross_delta: int  # its amount when recorded, then 0: a payment's amount never changes
    net_delta: int  # what the organization keeps, after refunds and lost disputes
    counted_delta: int  # +1 when it starts to count (worth something), -1 when it stops
    recurring_gift_id: int | None = None  # the recurring gift it is a payment of
    # In the account's settlement currency, once Stripe has settled the payment: its
    # amount and fee (once), and what is kept of it (Donation.settled_kept_cents).
    settled_currency: str | None = None
    settled_count_delta: int = 0  # +1 once, when the payment is settled
    settled_delta: int = 0
    fee_delta: int = 0
    kept_delta: int = 0


def announce(donation_id: int, values: dict, **deltas) -> None:
    """Tell the keepers of running totals what the donation is now worth, compared with
    before, in this transaction. `values` holds the donation's columns."""
    donation_changed.send(DonationChange(
        donation_id=donation_id, donor_id=values["donor_id"], campaign=values["campaign"],
        currency=values["currency"], frequency=values["frequency"],
        created_at=values["created_at"], recurring_gift_id=values["recurring_gift_id"],
        **deltas))
