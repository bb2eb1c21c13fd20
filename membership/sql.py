"""Database helpers that must behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from membership.extensions import db


def insert_or_ignore(model: type, values: dict[str, Any],
                     conflict: list[str] | None = None) -> int | None:
    """Insert a row unless it would break a unique constraint (only those on `conflict`
    columns, when given).

    Returns the new row's id, or None when the row was already there. This is the
    database's own INSERT … ON CONFLICT DO NOTHING, so two concurrent callers can never
    both insert (unlike a check-then-insert)."""
    dialect = db.session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = (
        insert(model).values(**values).on_conflict_do_nothing(index_elements=conflict)
        .returning(model.id)
    )
    return db.session.execute(statement).scalar()


IMMEDIATE = {"sqlite_begin": "IMMEDIATE"}


def configure_sqlite(engine: Engine) -> None:
    """Make SQLite behave like a server database where it matters to us.

    - Foreign keys are enforced (SQLite ignores them by default).
    - WAL lets readers go on while one process writes.
    - SQLAlchemy, not the driver, starts transactions, so a unit of work that will write
      can ask for `BEGIN IMMEDIATE` (`db.session.connection(execution_options=IMMEDIATE)`)
      and wait for the write lock up front, instead of failing halfway when another
      process wrote first."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())
