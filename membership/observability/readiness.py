"""Readiness: the database answers and its schema is at the migrations' head.

`/healthz` (liveness) only asks whether the database answers; a process that answers it but
runs against an older schema (a deploy whose `flask db upgrade` has not run yet) must not be
sent traffic, which is what `/readyz` tells the load balancer."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from membership.extensions import db
from membership.observability.state import observability


def migration_heads(app: Flask) -> tuple[str, ...] | None:
    """The head revisions of the app's migration scripts (None if they cannot be read).
    Read once, when the app is built: the scripts do not change while it runs."""
    directory = app.extensions["migrate"].directory
    try:
        return tuple(sorted(ScriptDirectory(directory).get_heads()))
    except CommandError:
        app.logger.warning("readiness: no migration scripts in %s", directory)
        return None


def readiness_problem() -> str | None:
    """Why this process should not take traffic yet, or None when it is ready."""
    want = observability().migration_heads
    if want is None:
        return "migration scripts not found"
    options = {key: value for key, value in current_app.extensions["migrate"].configure_args
               .items() if key in ("version_table", "version_table_schema")}
    try:
        context = MigrationContext.configure(db.session.connection(), opts=options)
        have = tuple(sorted(context.get_current_heads()))
    except SQLAlchemyError:
        db.session.rollback()
        return "database unavailable"
    if have != want:
        return (f"schema not at head: have {', '.join(have) or 'none'}, "
                f"want {', '.join(want)}")
    return None
