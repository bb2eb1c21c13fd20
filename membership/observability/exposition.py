"""GET /metrics for Prometheus, behind a bearer token, with the figures that live in the
database read at scrape time."""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from membership.extensions import db, limiter
from membership.mail.models import MailStatus, OutboxMessage
from membership.observability.state import observability
from membership.payments.models import EventStatus, StripeEvent
from membership.types import utcnow

bp = Blueprint("observability", __name__)


def _count(model: type[StripeEvent] | type[OutboxMessage], status: str) -> int:
    return db.session.scalar(select(func.count()).select_from(model)
                             .where(model.status == status))


class DatabaseCollector:
    """Figures kept in the database, read when Prometheus asks, so that every process
    reports the same whichever one it asks. Each query runs on an index (status first)."""

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        try:
            failed_events = _count(StripeEvent, EventStatus.FAILED)
            pending = _count(OutboxMessage, MailStatus.PENDING)
            given_up = _count(OutboxMessage, MailStatus.FAILED)
            oldest_due = db.session.scalar(
                select(func.min(OutboxMessage.next_attempt_at))
                .where(OutboxMessage.status == MailStatus.PENDING,
                       OutboxMessage.next_attempt_at <= now))
        except SQLAlchemyError:
            db.session.rollback()
            current_app.logger.warning("metrics: the database did not answer", exc_info=True)
            return
        yield GaugeMetricFamily(
            "stripe_events_failed",
            "Stored Stripe events that failed to apply, waiting for Stripe's retry or a replay.",
            value=failed_events)
        yield GaugeMetricFamily(
            "mail_outbox_pending", "Outbox messages not sent yet (due or waiting to retry).",
            value=pending)
        yield GaugeMetricFamily(
            "mail_outbox_failed",
            "Outbox messages given up after MAIL_MAX_ATTEMPTS (staff can see why in the outbox).",
            value=given_up)
        yield GaugeMetricFamily(
            "mail_outbox_oldest_due_age_seconds",
            "Seconds the longest-waiting due outbox message has been due (0 when none is).",
            value=max((now - oldest_due).total_seconds(), 0.0) if oldest_due else 0.0)


class _Everything:
    """The process's default registry as one collector of a scrape's registry."""

    def collect(self) -> Iterator[Metric]:
        return REGISTRY.collect()


def scrape_registry(multiprocess_dir: str | None) -> CollectorRegistry:
    """A registry for one scrape: in multi-process mode (gunicorn), the values every process
    wrote to `multiprocess_dir`, added up; otherwise this process's own metrics (and its
    process_* and python_* figures). Both with the database's figures."""
    registry = CollectorRegistry()
    if multiprocess_dir:
        MultiProcessCollector(registry, path=multiprocess_dir)
    else:
        registry.register(_Everything())
    registry.register(DatabaseCollector())
    return registry


def _unauthorized(error: str | None) -> Response:
    challenge = 'Bearer realm="metrics"' + (f', error="{error}"' if error else "")
    return Response("a bearer token is required\n", 401, mimetype="text/plain",
                    headers={"WWW-Authenticate": challenge})


@bp.get("/metrics")
@limiter.exempt  # Prometheus asks every few seconds; the token keeps everyone else out
def metrics():
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        abort(404)
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not offered.strip():
        return _unauthorized(None)
    if not hmac.compare_digest(offered.strip().encode(), token.encode()):
        return _unauthorized("invalid_token")
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    registry = scrape_registry(observability().multiprocess_dir)
    return Response(encode(registry), content_type=content_type,
                    headers={"Cache-Control": "no-store"})
