from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from membership.extensions import db
from membership.types import UTCDateTime, utcnow

PENDING, CONFIRMED, UNSUBSCRIBED = "pending", "confirmed", "unsubscribed"


class Subscriber(db.Model):
    """An address that asked for the daily e-mail, and the consent it gave: when, from
    which address, to which wording. Only confirmed subscribers receive it."""

    __tablename__ = "newsletter_subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    consent_version: Mapped[str] = mapped_column(String(20))
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_ip: Mapped[str | None] = mapped_column(String(45))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
