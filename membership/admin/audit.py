"""The audit log: every change staff make through the admin is written in the same
transaction as the change itself."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from membership.admin.models import AuditEntry
from membership.extensions import db


def record_staff_action(action: str, target: str, **details) -> None:
    db.session.add(AuditEntry(actor_id=current_user.id, actor_email=current_user.email,
                              action=action, target=target, details=details))
    db.session.flush()


def newest_first():
    return select(AuditEntry).order_by(AuditEntry.id.desc())


def changes(before: dict, after: dict) -> dict:
    """The fields that differ, as {"field": [old, new]}, JSON-ready."""
    return {name: [_plain(before.get(name)), _plain(value)]
            for name, value in after.items() if before.get(name) != value}


def readable(value) -> str:
    """A recorded value as people read it: no Python spellings (None, True, [{…}])."""
    if value is None or value == "" or value == []:
        return _("(none)")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return "; ".join(readable(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{name}: {readable(item)}" for name, item in value.items())
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else value
