"""What `register_observability` works out once per app, kept in `app.extensions`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

EXTENSION = "observability"


@dataclass(frozen=True)
class Observability:
    migration_heads: tuple[str, ...] | None  # None: the migration scripts could not be read
    multiprocess_dir: str | None  # PROMETHEUS_MULTIPROC_DIR: gunicorn's processes share metrics


def observability() -> Observability:
    return current_app.extensions[EXTENSION]
