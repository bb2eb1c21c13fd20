from __future__ import annotations

import secrets
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from membership.extensions import db
from membership.types import UTCDateTime, utcnow


class SubscriberStatus(StrEnum):
    PENDING = "pending"  # asked, not yet confirmed from the mail
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


def new_public_id() -> str:
    return secrets.token_urlsafe(16)


class Subscriber(db.Model):
    """An address that asked for the daily e-mail, and the consent it gave: when, from
    which address, to which wording. Only confirmed subscribers receive it."""

    __tablename__ = "newsletter_subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the links in mails name: random and never reused, unlike `id`, which SQLite
    # hands out again after a delete (an old link must never act on a new subscriber).
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=SubscriberStatus.PENDING, index=True)
    consent_version: Mapped[str] = mapped_column(String(20))
    # The language of the consent wording they saw (each language has its own version),
    # and the one their mail is written in.
    consent_language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    language: Mapped[str | None] = mapped_column(String(8))
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_ip: Mapped[str | None] = mapped_column(String(45))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubscriberTopic(db.Model):
    """A topic a subscriber without an account chose on their preferences page."""

    __tablename__ = "newsletter_subscriber_topics"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("newsletter_subscribers.id", ondelete="CASCADE"), primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"),
                                          primary_key=True)


class DigestSent(db.Model):
    """A subscriber's digest of one day is in the outbox: written in the same transaction
    as the message, so no run, repeated or resumed after a crash, sends a second copy."""

    __tablename__ = "newsletter_digests"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("newsletter_subscribers.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
