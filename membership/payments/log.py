"""Stripe's event log as staff read it: every event we were sent, filtered."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, select

from membership.extensions import db
from membership.payments.models import StripeEvent


def events_matching(type: str | None = None, status: str | None = None,
                    day: date | None = None) -> Select:
    """Events of this type and status, created that UTC day, newest first; None leaves
    a detail open."""
    query = select(StripeEvent).order_by(StripeEvent.created.desc(), StripeEvent.id.desc())
    if type:
        query = query.where(StripeEvent.type == type)
    if status:
        query = query.where(StripeEvent.status == status)
    if day:
        start = datetime.combine(day, time.min, UTC)
        query = query.where(StripeEvent.created >= start,
                            StripeEvent.created < start + timedelta(days=1))
    return query


def event_types() -> list[str]:
    return list(db.session.scalars(
        select(StripeEvent.type).distinct().order_by(StripeEvent.type)))


def event_by_stripe_id(stripe_id: str):
    return select(StripeEvent).where(StripeEvent.stripe_id == stripe_id)
