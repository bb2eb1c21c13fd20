"""Small builders: each test creates exactly what it needs."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event, select

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


@contextmanager
def refusing_statements(refuse: Callable[[str], bool],
                        message: str = "injected database failure") -> Iterator[None]:
    """Make the database raise on every statement for which `refuse(sql)` is true."""

    def check(conn, cursor, statement, parameters, context, executemany):
        if refuse(statement.lstrip().upper()):
            raise RuntimeError(message)

    event.listen(db.engine, "before_cursor_execute", check)
    try:
        yield
    finally:
        event.remove(db.engine, "before_cursor_execute", check)


def failing_inserts(table: str, times: int = 1):
    """The next `times` inserts into `table` fail."""
    left = [times]

    def refuse(sql: str) -> bool:
        if sql.startswith(f"INSERT INTO {table.upper()} ") and left[0]:
            left[0] -= 1
            return True
        return False

    return refusing_statements(refuse, f"injected failure writing {table}")


def flaky_database(fraction: float, seed: int):
    """About `fraction` of the statements that write fail."""
    chance = random.Random(seed)
    return refusing_statements(
        lambda sql: sql.startswith(("INSERT", "UPDATE")) and chance.random() < fraction)
