from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from membership.extensions import db
from membership.types import UTCDateTime, utcnow


class GoalType(StrEnum):
    """What the goal counts."""

    AMOUNT = "amount"
    DONORS = "donors"


class CampaignStatus(StrEnum):
    """Where a campaign stands at a moment (worked out from its dates, not stored)."""

    UPCOMING = "upcoming"
    ACTIVE = "active"
    ENDED = "ended"


class Campaign(db.Model):
    """An appeal with a goal and dates, and its running totals.

    The totals are kept up to date in the transaction that records each donation, refund
    or dispute (see services.count_donation_change), so showing progress costs one row
    read however many gifts there are. They count gifts in the campaign's currency made
    in [starts_at, ends_at)."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("goal > 0", name="goal_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    appeal: Mapped[str] = mapped_column(Text, default="")  # a sentence or two
    story: Mapped[str] = mapped_column(Text, default="")  # Markdown
    goal_type: Mapped[str] = mapped_column(String(10), default=GoalType.AMOUNT)
    goal: Mapped[int]  # minor units of `currency`, or a number of donors
    currency: Mapped[str] = mapped_column(String(3))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    featured: Mapped[bool] = mapped_column(default=False)
    # One-time amounts to suggest, in minor units; empty: the site's usual suggestions.
    suggested_amounts: Mapped[list[int]] = mapped_column(JSON, default=list)
    # [{"at": goal units, "label": text}], in goal units (minor units or donors).
    milestones: Mapped[list[dict]] = mapped_column(JSON, default=list)
    # A sponsor gives `match_sponsor_part` for every `match_gift_part` readers give, up
    # to `match_cap_cents`.
    sponsor_name: Mapped[str | None] = mapped_column(String(200))
    match_sponsor_part: Mapped[int | None]
    match_gift_part: Mapped[int | None]
    match_cap_cents: Mapped[int | None]

    raised_cents: Mapped[int] = mapped_column(BigInteger, default=0)  # net: refunds, lost disputes
    donations: Mapped[int] = mapped_column(default=0)  # gifts still worth something
    donors: Mapped[int] = mapped_column(default=0)  # distinct donors of those gifts

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def status(self, now: datetime) -> str:
        if now < self.starts_at:
            return CampaignStatus.UPCOMING
        if now < self.ends_at:
            return CampaignStatus.ACTIVE
        return CampaignStatus.ENDED

    @property
    def last_day(self) -> date | None:
        """The last UTC day a campaign ending at midnight runs through (one that ends at
        00:00 on the 25th runs through the 24th); None when it ends during a day."""
        end = self.ends_at.astimezone(UTC)
        if (end.hour, end.minute, end.second, end.microsecond) != (0, 0, 0, 0):
            return None
        return end.date() - timedelta(days=1)

    def includes(self, when: datetime) -> bool:
        return self.starts_at <= when < self.ends_at

    @property
    def has_match(self) -> bool:
        return bool(self.sponsor_name and self.match_sponsor_part and self.match_gift_part
                    and self.match_cap_cents)


class CampaignSupporter(db.Model):
    """How many of a donor's gifts currently count toward a campaign: a donor is counted
    once, and stops counting when every one of their gifts has been refunded."""

    __tablename__ = "campaign_supporters"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donors.id"), primary_key=True)
    gifts: Mapped[int] = mapped_column(default=0)
