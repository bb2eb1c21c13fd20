"""Small builders: each test creates exactly what it needs."""

from __future__ import annotations

import re

from sqlalchemy import select

from membership.accounts.models import User
from membership.accounts.services import hash_password
from membership.extensions import db
from membership.mail.models import OutboxMessage
from membership.mail.services import render_message
from membership.types import utcnow


def make_user(email: str, password: str, name: str = "", staff: bool = False,
              verified: bool = True) -> User:
    user = User(email=email, name=name, password_hash=hash_password(password), is_staff=staff,
                email_verified_at=utcnow() if verified else None)
    db.session.add(user)
    db.session.commit()
    return user


def outbox(recipient: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if recipient:
        query = query.where(OutboxMessage.recipient == recipient)
    return list(db.session.scalars(query))


def last_link(recipient: str) -> str:
    """The path of the last link mailed to `recipient`."""
    messages = outbox(recipient)
    assert messages, f"no mail to {recipient}"
    urls = re.findall(r"https?://[^\s\"<]+", render_message(messages[-1]).text_body)
    assert urls, "no link in the mail"
    return re.sub(r"^https?://[^/]+", "", urls[-1])
