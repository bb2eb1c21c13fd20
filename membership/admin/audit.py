"""The audit log: every change staff make through the admin is written in the same
transaction as the change itself."""

from __future__ import annotations

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


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else value
