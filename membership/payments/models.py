from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from membership.extensions import db
from membership.types import UTCDateTime, utcnow


class EventStatus(StrEnum):
    RECEIVED = "received"    # stored, not yet applied
    PROCESSED = "processed"  # applied
    IGNORED = "ignored"      # not about a donation, or a type we do not handle
    FAILED = "failed"        # applying it raised; Stripe (or a replay) will try again
    MALFORMED = "malformed"  # signed but unreadable (its content, an old API version): 400


class StripeEvent(db.Model):
    """Every verified event, stored before it is applied, so none is ever lost."""

    __tablename__ = "stripe_events"
    __table_args__ = (Index("ix_stripe_events_status_created", "status", "created"),
                      Index("ix_stripe_events_read_again_at", "read_again_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    api_version: Mapped[str | None] = mapped_column(String(40))
    livemode: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.RECEIVED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Stripe could not be read when the event was applied, so its own copy was: the
    # object is read again from this time on (`flask stripe refresh`), then cleared.
    read_again_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
