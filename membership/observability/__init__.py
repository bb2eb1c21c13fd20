"""Operating the service: structured logs, Prometheus metrics and a readiness probe.

`register_observability(app)` wires it all when the app is built, after the blueprints (their
commands must be on `app.cli` already). Domain code reports what happens through
`StripeEventObservation` (webhook intake) and the counters in `metrics`."""

from __future__ import annotations

import os
import time
from collections.abc import Collection

from flask import Flask, Response, g, request, request_started
from flask_migrate.cli import db as migrate_commands

from membership.observability import exposition, logs, metrics, readiness
from membership.observability.state import EXTENSION, Observability


def register_observability(app: Flask) -> None:
    logs.configure_logging(app)
    logs.log_commands(app.cli)
    # `flask db …` comes from Flask-Migrate's entry point, not from app.cli.
    logs.log_commands(migrate_commands, ("db",))
    app.extensions[EXTENSION] = Observability(
        migration_heads=readiness.migration_heads(app),
        # prometheus-client reads it from the environment when it is first imported.
        multiprocess_dir=os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None,
    )
    app.register_blueprint(exposition.bp)
    # The signal comes before any before_request function, so the whole request is timed
    # and everything logged during it carries its id.
    request_started.connect(_start_request, app, weak=False)
    app.after_request(_finish_request)


def _start_request(sender: Flask, **_extra) -> None:
    g.request_started = time.perf_counter()
    g.request_id = logs.request_id(sender.config["TRUSTED_PROXIES"])


def _finish_request(response: Response) -> Response:
    started = g.get("request_started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    if g.get("request_id") is None:
        g.request_id = logs.request_id(0)
    response.headers[logs.REQUEST_ID_HEADER] = g.request_id
    rule = request.url_rule
    metrics.observe_request(rule.endpoint if rule else None, request.method,
                            response.status_code, seconds)
    logs.log_request(response.status_code, seconds)
    return response


class StripeEventObservation:
    """Times one Stripe event from intake to outcome, then logs it and counts it, once.

    `known_types` bounds the metric's `type` label: other types are counted as `other`
    (the log line keeps the real type)."""

    def __init__(self, event: dict | None, known_types: Collection[str]) -> None:
        self.started = time.perf_counter()
        self.event_id = event.get("id") if event else None
        self.event_type = event.get("type") if event else None
        if event is None:
            self.type_label = metrics.UNVERIFIED
        else:
            self.type_label = self.event_type if self.event_type in known_types else metrics.OTHER

    def finish(self, outcome: str, reason: str | None = None) -> None:
        metrics.count_webhook_event(self.type_label, outcome)
        logs.log_webhook_event(self.event_id, self.event_type, outcome,
                               time.perf_counter() - self.started, reason)
