from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from membership.extensions import db
from membership.types import UTCDateTime, utcnow


class AuditEntry(db.Model):
    """One change a staff member made: who, what, to which record, when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                 index=True)
    actor_email: Mapped[str] = mapped_column(String(320))  # kept if the account goes
    action: Mapped[str] = mapped_column(String(60), index=True)  # e.g. "campaign.edit"
    target: Mapped[str] = mapped_column(String(200))  # e.g. "campaign 20th-anniversary"
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
