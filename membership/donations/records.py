"""What staff look up: donors by name or address, one donor's record, donations filtered.
Each returns a statement or plain values; the staff pages page through them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, func, or_, select

from membership.donations.models import Donation, Donor, RecurringGift
from membership.extensions import db

RECORD_GIFTS = 500  # a donor's page shows their newest gifts, up to this many


def donor_search(text: str | None) -> Select:
    """Donors whose address or name holds `text` (any case), newest first."""
    query = select(Donor).order_by(Donor.id.desc())
    if text and text.strip():
        pattern = f"%{text.strip().lower()}%"
        query = query.where(or_(Donor.email.like(pattern), func.lower(Donor.name).like(pattern)))
    return query


def gift_counts(donor_ids: list[int]) -> dict[int, int]:
    """How many donations each of these donors made."""
    if not donor_ids:
        return {}
    return dict(db.session.execute(
        select(Donation.donor_id, func.count()).where(Donation.donor_id.in_(donor_ids))
        .group_by(Donation.donor_id)).all())


@dataclass(frozen=True)
class DonorRecord:
    gifts: list[Donation]  # newest first, up to RECORD_GIFTS
    recurring: list[RecurringGift]
    net_by_currency: dict[str, int]  # of the gifts shown


def donor_record(donor: Donor) -> DonorRecord:
    gifts = db.session.scalars(select(Donation).where(Donation.donor_id == donor.id)
                               .order_by(Donation.created_at.desc()).limit(RECORD_GIFTS)).all()
    recurring = db.session.scalars(select(RecurringGift).where(
        RecurringGift.donor_id == donor.id).order_by(RecurringGift.started_at.desc())).all()
    totals: dict[str, int] = {}
    for gift in gifts:
        totals[gift.currency] = totals.get(gift.currency, 0) + gift.net_cents
    return DonorRecord(list(gifts), list(recurring), totals)


def donations_matching(start: date | None = None, end: date | None = None,
                       campaign: str | None = None, frequency: str | None = None,
                       status: str | None = None) -> Select:
    """Donations made from `start` to `end` (whole UTC days) with these details, newest
    first; None leaves a detail open."""
    query = select(Donation).join(Donor).order_by(Donation.created_at.desc(),
                                                  Donation.id.desc())
    if start:
        query = query.where(Donation.created_at >= datetime.combine(start, time.min, UTC))
    if end:
        query = query.where(Donation.created_at < datetime.combine(
            end + timedelta(days=1), time.min, UTC))
    if campaign:
        query = query.where(Donation.campaign == campaign)
    if frequency:
        query = query.where(Donation.frequency == frequency)
    if status:
        query = query.where(Donation.status == status)
    return query
