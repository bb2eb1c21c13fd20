"""Taking in Stripe events: verify, store, then apply each exactly once.

`receive_webhook` is the endpoint's whole logic, shared with the sandbox gateway;
`ingest_event` (store + apply) is shared with `flask stripe reconcile`. They own their
transactions: the event is committed on its own before it is applied, so a failure while
applying never loses it, and applying is one transaction per event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import stripe
from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError

from membership.donations.gateway import payment_gateway
from membership.extensions import db
from membership.observability import StripeEventObservation
from membership.payments import payload
from membership.payments.handlers import CURRENT_STATE, HANDLERS, CurrentState, apply_event
from membership.payments.lookups import MAX_ROUNDS, NeedsStripe, PrefetchedAnswers
from membership.payments.models import FAILED, IGNORED, MALFORMED, PROCESSED, StripeEvent
from membership.sql import IMMEDIATE, insert_or_ignore
from membership.types import utcnow

TOLERANCE_SECONDS = 300
ALREADY = "already_processed"


class WebhookRejected(ValueError):
    """The request is not a genuine, well-formed Stripe event for us (answer 400)."""


@dataclass(frozen=True)
class Outcome:
    http_status: int
    body: dict[str, Any]


def verify_event(raw: bytes, signature: str | None, secret: str, livemode: bool) -> dict:
    """The event in `raw`, if Stripe signed it with `secret` within the tolerance."""
    try:
        stripe.WebhookSignature.verify_header(raw, signature, secret, TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as error:
        raise WebhookRejected(f"signature verification failed: {error.user_message}") from error
    except UnicodeDecodeError as error:
        raise WebhookRejected("the body is not UTF-8 text") from error
    try:
        event = json.loads(raw)
    except ValueError as error:
        raise WebhookRejected("the body is not valid JSON") from error
    data = event.get("data") if isinstance(event, dict) else None
    if not (isinstance(data, dict) and isinstance(data.get("object"), dict)
            and event.get("object") == "event" and _sane(event.get("id"), 255)
            and _sane(event.get("type"), 100)):
        raise WebhookRejected("the body is not a Stripe event")
    if bool(event.get("livemode")) != livemode:
        mode = "live" if event.get("livemode") else "test"
        raise WebhookRejected(f"a {mode}-mode event does not belong to this deployment")
    return event


def _sane(value, max_length: int) -> bool:
    """Text that can be stored as an event's id or type."""
    return isinstance(value, str) and 0 < len(value) <= max_length and "\x00" not in value


def store_event(event: dict, raw: str) -> bool:
    """Keep the event (once). True when it is new.

    On PostgreSQL this commit need not wait for the disk: the commit that applies the
    event (or records its failure) comes right after and flushes the log up to it, and if
    the process dies before that, Stripe got no answer and sends the event again."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
    return insert_or_ignore(StripeEvent, {
        "stripe_id": event["id"],
        "type": event["type"],
        # A malformed `created` is refused after storing; the row needs a time all the same.
        "created": _created(event),
        "api_version": _api_version(event),
        "livemode": bool(event.get("livemode")),
        "payload": raw,
        "received_at": utcnow(),
        "status": "received",
        "attempts": 0,
    }, ["stripe_id"]) is not None


def _api_version(event: dict) -> str | None:
    version = event.get("api_version")
    return str(version)[:40] if version else None


def _created(event: dict):
    try:
        return payload.moment(event, "created") or utcnow()
    except payload.MalformedEvent:
        return utcnow()


def current_state(event: dict) -> CurrentState | None:
    """Stripe's object as it stands now, for the events that are applied so. Called with
    no transaction open and no lock held: the request to Stripe may take a while."""
    kind = CURRENT_STATE.get(event["type"])
    object_id = event["data"]["object"].get("id")
    if kind is None or not isinstance(object_id, str):
        return None
    # Whole seconds, as Stripe stamps its events: a state read now and an event's own copy
    # (when Stripe could not be asked) are then ordered on one clock, ties by stage.
    read_at = utcnow().replace(microsecond=0)
    obj = payment_gateway().current_object(kind, object_id)
    if not isinstance(obj, dict) or obj.get("id") != object_id:
        return None
    return CurrentState(obj, read_at)


def apply_stored_event(event: dict, current: CurrentState | None = None,
                       answers: PrefetchedAnswers | None = None) -> str:
    """Apply a stored event unless it already was. Flushes; the caller commits.

    The event row is locked first (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite),
    so two deliveries of one event at the same moment apply it one after the other, and
    the second finds it done."""
    connection = db.session.connection(execution_options=IMMEDIATE)
    status = connection.execute(_LOCK_EVENT, {"event_id": event["id"]}).scalar_one()
    if status in (PROCESSED, IGNORED):
        return ALREADY
    status = apply_event(event, answers or PrefetchedAnswers(payment_gateway()), current)
    db.session.flush()
    connection.execute(_MARK_APPLIED, {"event_id": event["id"], "outcome": status,
                                       "applied_at": utcnow()})
    return status


_events = StripeEvent.__table__
# A refused copy gives way to a delivery that can be read.
_REPLACE_REFUSED = (update(_events).where(_events.c.stripe_id == bindparam("event_id"),
                                          _events.c.status == MALFORMED)
                    .values(payload=bindparam("payload"), api_version=bindparam("api_version")))
_LOCK_EVENT = (select(_events.c.status)
               .where(_events.c.stripe_id == bindparam("event_id")).with_for_update())
_MARK_APPLIED = (update(_events).where(_events.c.stripe_id == bindparam("event_id"))
                 .values(status=bindparam("outcome"), attempts=_events.c.attempts + 1,
                         processed_at=bindparam("applied_at"), last_error=None))


def _record_failure(stripe_id: str, error: Exception, status: str = FAILED) -> None:
    stored = db.session.scalar(select(StripeEvent).where(StripeEvent.stripe_id == stripe_id))
    stored.status = status
    stored.attempts += 1
    stored.last_error = f"{type(error).__name__}: {error}"[:4000]


def _refuse(event: dict, raw: str, reason: str, observation) -> Outcome:
    """A signed event we cannot read: kept (status malformed, with the reason) for staff to
    see, answered 400, never applied in part. A later delivery of the same event in a
    form we can read (the endpoint's API version, say) replaces it and is applied."""
    current_app.logger.warning("refused Stripe event %s: %s", event["id"], reason)
    try:
        _record_failure(event["id"], payload.MalformedEvent(reason), MALFORMED)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
    observation.finish(MALFORMED, reason=reason)
    return Outcome(400, {"error": "rejected", "reason": reason, "event": event["id"]})


def ingest_event(event: dict, raw: str) -> Outcome:
    """Store, then apply, committing each step; never raises."""
    observation = StripeEventObservation(event, HANDLERS)
    problem = payload.envelope_problem(event)
    try:
        is_new = store_event(event, raw)
        if not is_new and problem is None:
            db.session.execute(_REPLACE_REFUSED, {"event_id": event["id"], "payload": raw,
                                                  "api_version": _api_version(event)})
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("could not store Stripe event %s", event.get("id"))
        observation.finish("store_failed")
        return Outcome(503, {"error": "could not store the event; please retry"})
    if problem is not None:
        return _refuse(event, raw, problem, observation)
    try:
        status = _apply_asking_stripe_between(event, current_state(event))
    except payload.MalformedEvent as error:
        db.session.rollback()
        return _refuse(event, raw, str(error), observation)
    except Exception as error:  # any failure: roll back, keep the reason, let Stripe retry
        db.session.rollback()
        current_app.logger.exception("could not apply Stripe event %s", event["id"])
        try:
            _record_failure(event["id"], error)
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
        observation.finish("failed")
        return Outcome(500, {"error": "the event could not be applied; it will be retried",
                             "event": event["id"]})
    observation.finish(status)
    return Outcome(200, {"received": True, "event": event["id"], "status": status,
                         "new": is_new})


def _apply_asking_stripe_between(event: dict, current: CurrentState | None) -> str:
    """Apply and commit; each question for Stripe rolls back, is asked with nothing
    locked, and the event is applied again with its answer (see payments.lookups)."""
    answers = PrefetchedAnswers(payment_gateway())
    for _round in range(MAX_ROUNDS):
        try:
            status = apply_stored_event(event, current, answers)
        except NeedsStripe as need:
            db.session.rollback()
            answers.ask(need.question)
            continue
        db.session.commit()
        return status
    raise RuntimeError(f"event {event['id']} asked Stripe more than {MAX_ROUNDS} questions")


def receive_webhook(raw: bytes, signature: str | None) -> Outcome:
    config = current_app.config
    observation = StripeEventObservation(None, HANDLERS)
    try:
        event = verify_event(raw, signature, config["STRIPE_WEBHOOK_SECRET"],
                             payment_gateway().livemode)
    except WebhookRejected as error:
        observation.finish("rejected", reason=str(error))
        return Outcome(400, {"error": "rejected", "reason": str(error)})
    return ingest_event(event, raw.decode("utf-8"))


def replay_event(stripe_id: str) -> Outcome:
    """Apply a stored event again (staff's replay button for failed events)."""
    stored = db.session.scalar(select(StripeEvent).where(StripeEvent.stripe_id == stripe_id))
    if stored is None:
        return Outcome(404, {"error": "unknown event"})
    return ingest_event(json.loads(stored.payload), stored.payload)
