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
