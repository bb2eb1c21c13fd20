"""Database helpers that must behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from flask import has_request_context, request
from sqlalchemy import Date, Integer, event, func, type_coerce
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
    db.session.flush()  # rows this one may refer to must exist first
    connection = db.session.connection()
    statement = _insert_or_ignore_statement(connection.dialect.name, model.__table__,
                                            tuple(conflict) if conflict else None)
    return connection.execute(statement, values).scalar()


@cache
def _insert_or_ignore_statement(dialect: str, table, conflict: tuple[str, ...] | None):
    # One statement per table, values bound at execution: SQLAlchemy compiles it once.
    return (upsert_insert(dialect)(table).on_conflict_do_nothing(index_elements=conflict)
            .returning(table.c.id))


NO_TRANSACTION = "none"  # sqlite_begin: no BEGIN at all (read_rows)


def read_rows(statement, params: dict[str, Any]) -> list:
    """The rows of one statement that only reads. On the request's transaction when one
    is open (it must see what this request wrote: pending changes are flushed first, as
    an ORM query would) or when the request may write (what it read then holds until it
    commits), else on a pooled connection of its own, outside any transaction (one
    statement reads one consistent state by itself): a request that reads nothing else
    (a page kept in memory) then skips the ORM session's setup and teardown, and the
    BEGIN and ROLLBACK, which cost more than the query."""
    if (db.session.registry.has() and db.session().in_transaction()) \
            or (has_request_context() and request.method not in SAFE_METHODS):
        db.session.flush()
        return db.session.connection().execute(statement, params).all()
    engine = db.engine
    # SQLite's transactions are begun by us (configure_sqlite); PostgreSQL's by the driver.
    options = {"sqlite_begin": NO_TRANSACTION} if engine.dialect.name == "sqlite" \
        else {"isolation_level": "AUTOCOMMIT"}
    with engine.connect().execution_options(**options) as connection:
        return connection.execute(statement, params).all()


def upsert_insert(dialect: str):
    """The dialect's INSERT construct, the one that knows ON CONFLICT."""
    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]


def whole_seconds(column):
    """SQLite keeps UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'; its date functions count
    milliseconds and, given a modifier, round .999999 up into the next second (and so the
    next day, week or month): they are given the whole seconds only."""
    return func.substr(column, 1, 19)


def utc_day(column, dialect: str):
    """The UTC calendar day of a timestamp column, as a DATE."""
    if dialect == "postgresql":
        return func.date(func.timezone("UTC", column))
    return type_coerce(func.date(whole_seconds(column)), Date)


def utc_year(column, dialect: str):
    """The UTC calendar year of a timestamp column, as an integer."""
    if dialect == "postgresql":
        return func.cast(func.extract("year", func.timezone("UTC", column)), Integer)
    return func.cast(func.substr(column, 1, 4), Integer)  # SQLite keeps UTC text


def utc_period(column, period: str, dialect: str):
    """The first UTC day of the day, week (from Monday) or month a timestamp falls in."""
    if dialect == "postgresql":
        return func.date(func.date_trunc(period, func.timezone("UTC", column)))
    modifiers = {"day": (), "week": ("-6 days", "weekday 1"), "month": ("start of month",)}
    return type_coerce(func.date(whole_seconds(column), *modifiers[period]), Date)


def utc_iso_text(column, dialect: str):
    """A timestamp as ISO 8601 text in UTC to the second, like 2026-03-01T09:30:00+00:00."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')
    return func.strftime("%Y-%m-%dT%H:%M:%S+00:00", column)


def copy_csv(statement) -> Iterator[bytes]:
    """PostgreSQL writes the rows of `statement` as CSV itself (COPY … TO STDOUT), in the
    session's transaction, block by block: far faster than fetching them into Python."""
    connection = db.session.connection()
    compiled = statement.compile(dialect=connection.dialect,
                                 compile_kwargs={"render_postcompile": True})
    cursor = connection.connection.driver_connection.cursor()
    pending = bytearray()
    with cursor.copy(f"COPY ({compiled}) TO STDOUT (FORMAT csv)", compiled.params) as copy:
        for row in copy:  # PostgreSQL sends a row at a time: pass on larger chunks
            pending += row
            if len(pending) >= COPY_CHUNK:
                yield bytes(pending)
                pending.clear()
    yield bytes(pending)


COPY_CHUNK = 256 * 1024


IMMEDIATE = {"sqlite_begin": "IMMEDIATE"}


def writing_connection():
    """The session's connection, for work that will write. A connection taken here begins
    with SQLite's write lock (BEGIN IMMEDIATE); one the session holds already is joined
    as it is (in a POST request, it began so)."""
    transaction = db.session().get_transaction()
    if transaction is not None and db.engine in transaction._connections:
        return db.session.connection()  # SQLAlchemy offers no public test for a held one
    return db.session.connection(execution_options=IMMEDIATE)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def configure_sqlite(engine: Engine) -> None:
    """Make SQLite behave like a server database where it matters to us.

    - Foreign keys are enforced (SQLite ignores them by default).
    - WAL lets readers go on while one process writes.
    - SQLAlchemy, not the driver, starts transactions, so work that will write takes the
      write lock up front with `BEGIN IMMEDIATE` and waits its turn (busy_timeout),
      instead of failing halfway with "database is locked" when another process wrote
      after it read: every transaction of a POST (or other unsafe) request does, and
      other work asks for it with `writing_connection()`."""
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
        if mode == NO_TRANSACTION:
            return  # each statement on its own, as SQLite runs them outside a transaction
        if not mode and has_request_context() and request.method not in SAFE_METHODS:
            mode = "IMMEDIATE"
        connection.exec_driver_sql(f"BEGIN {mode}".strip())
