"""Column types and clocks shared by every domain."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_iso_day(text: str) -> date:
    """A day written exactly YYYY-MM-DD, or ValueError: Python's own parser also takes
    20260101 and 2026-W01-1, which no form or report documents."""
    if not _ISO_DAY.fullmatch(text):
        raise ValueError(f"{text!r} is not a day written YYYY-MM-DD")
    return date.fromisoformat(text)


def isoformat(moment: datetime | None) -> str | None:
    """A moment for JSON (data downloads): ISO 8601 with its offset, or None."""
    return moment.isoformat() if moment else None


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no offset, so values come back naive; this restores UTC on the way out and
    refuses naive values on the way in, where a silent local-time guess would corrupt data.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use membership.types.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def render_migration_type(kind: str, obj, autogen_context):
    """Alembic hook: write UTCDateTime as a plain timezone-aware DateTime, so migration
    files never import application code."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
