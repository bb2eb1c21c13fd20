"""The Prometheus metrics the app records as it works.

prometheus-client's metric objects belong to the process, not to an app, so they are
defined once, here, and every app built in the process (tests build many) records into
them. With `PROMETHEUS_MULTIPROC_DIR` in the environment when the process starts (gunicorn),
prometheus-client keeps each process's values in files in that folder, and /metrics adds
them up (see `exposition.py`). Figures that live in the database (failed events, the outbox)
are not recorded here but read when Prometheus asks, by `exposition.DatabaseCollector`.

Every label has a bounded set of values: a route's endpoint name, never its raw path."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import Any

from prometheus_client import Counter, Histogram

# The endpoint label of requests that matched no route (404, 405): one value, whatever the path.
UNMATCHED = "unmatched"
# The type label of a webhook delivery that failed verification: there is no trusted type.
UNVERIFIED = "unverified"
# The type label of verified events of a type the app does not handle.
OTHER = "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered, by route endpoint, method and status.",
    ["endpoint", "method", "status"])
HTTP_REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request, by route endpoint.",
    ["endpoint"])
STRIPE_WEBHOOK_EVENTS = Counter(
    "stripe_webhook_events_total",
    "Stripe events taken in (webhook or reconcile), by type and outcome.", ["type", "outcome"])
MAIL_SEND_FAILURES = Counter(
    "mail_send_failures_total", "Outbox messages the SMTP server did not accept (each attempt).")
DIGEST_RUNS = Counter(
    "newsletter_digest_runs_total", "Runs of the daily digest, by outcome (ok or error).",
    ["outcome"])
DIGESTS_QUEUED = Counter(
    "newsletter_digests_queued_total", "Digest messages queued in the outbox.")
EDGE_CACHE_HITS = Counter(
    "edge_cache_hits_total", "Requests answered by the shared cache in front of the app.")


def observe_request(endpoint: str | None, method: str, status: int, seconds: float) -> None:
    counter, timer = _request_metrics(endpoint or UNMATCHED,
                                      method if method in METHODS else "other", status)
    counter.inc()
    timer.observe(seconds)


@cache
def _request_metrics(endpoint: str, method: str, status: int):
    """The labelled counter and histogram of one kind of request, looked up once (a label
    lookup takes a lock and formats the labels; the label values are bounded)."""
    return (HTTP_REQUESTS.labels(endpoint, method, str(status)),
            HTTP_REQUEST_SECONDS.labels(endpoint))


def count_webhook_event(type_label: str, outcome: str) -> None:
    STRIPE_WEBHOOK_EVENTS.labels(type_label, outcome).inc()


def counts_digest_runs(send_digest: Callable[..., Any]) -> Callable[..., Any]:
    """Count the runs of `send_digest` and the digests they queued (its result's `queued`)."""

    @wraps(send_digest)
    def counted(*args, **kwargs):
        try:
            run = send_digest(*args, **kwargs)
        except Exception:
            DIGEST_RUNS.labels("error").inc()
            raise
        DIGEST_RUNS.labels("ok").inc()
        DIGESTS_QUEUED.inc(run.queued)
        return run

    return counted
