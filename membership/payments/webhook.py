"""Taking in Stripe events: verify, store, then apply each exactly once.

`receive_webhook` is the endpoint's whole logic, shared with the sandbox gateway;
`ingest_event` (store + apply) is shared with `flask stripe reconcile`. They own their
transactions: an event is stored and applied in one, so it is applied whole or not at
all; when applying fails, it is rolled back and the event stored on its own with the
reason, so no event is ever lost (and if the process dies first, Stripe got no answer
and sends it again)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import stripe
from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError

from membership.donations.gateway import GatewayError, payment_gateway
from membership.extensions import db
from membership.observability import StripeEventObservation
from membership.payments import payload
from membership.payments.handlers import CURRENT_STATE, HANDLERS, CurrentState, apply_event
from membership.payments.lookups import MAX_ROUNDS, NeedsStripe, PrefetchedAnswers
from membership.payments.models import EventStatus, StripeEvent
from membership.sql import insert_or_ignore, writing_connection
from membership.types import utcnow

TOLERANCE_SECONDS = 300
ALREADY = "already_processed"
UNREADABLE = "stripe_unreadable"
# Called with the outcome of an event, in the transaction that records it.
Note = Callable[[str], None]


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


def store_event(event: dict, raw: str, *, applied: bool = False,
                read_again_at: datetime | None = None) -> bool:
    """Keep the event (once), in the transaction that will apply it. True when it is new:
    then this transaction holds the new row, and a second delivery at the same moment
    waits for it to commit (PostgreSQL), or for the database (SQLite: BEGIN IMMEDIATE).

    `applied`: the row is written as processed already, since it is applied in this same
    transaction (one statement fewer for every new event); it says otherwise only if the
    transaction commits with another outcome (see `apply_stored_event`)."""
    writing_connection()
    now = utcnow()
    return insert_or_ignore(StripeEvent, {
        "stripe_id": event["id"],
        "type": event["type"],
        # A malformed `created` is refused after storing; the row needs a time all the same.
        "created": _created(event),
        "api_version": _api_version(event),
        "livemode": bool(event.get("livemode")),
        "payload": raw,
        "received_at": now,
        "status": EventStatus.PROCESSED if applied else EventStatus.RECEIVED,
        "attempts": 1 if applied else 0,
        "processed_at": now if applied else None,
        "read_again_at": read_again_at if applied else None,
    }, ["stripe_id"]) is not None


def _api_version(event: dict) -> str | None:
    version = event.get("api_version")
    return str(version)[:40] if version else None


def _created(event: dict):
    try:
        return payload.moment(event, "created") or utcnow()
    except payload.MalformedEvent:
        return utcnow()


class StripeUnreadable(Exception):
    """Stripe could not be asked for the event's object just now."""


def current_state(event: dict) -> CurrentState | None:
    """Stripe's object as it stands now, for the events that are applied so (None for
    the others, or when there is nothing to read). Raises StripeUnreadable when Stripe
    cannot be asked now. Called with no transaction open and no lock held: the request
    to Stripe may take a while."""
    kind = CURRENT_STATE.get(event["type"])
    object_id = event["data"]["object"].get("id")
    if kind is None or not isinstance(object_id, str):
        return None
    # Whole seconds, as Stripe stamps its events: a state read now and an event's own copy
    # (when Stripe could not be asked) are then ordered on one clock, ties by stage.
    read_at = utcnow().replace(microsecond=0)
    try:
        obj = payment_gateway().current_object(kind, object_id)
    except GatewayError as error:
        raise StripeUnreadable(str(error)) from error
    if not isinstance(obj, dict) or obj.get("id") != object_id:
        return None
    return CurrentState(obj, read_at)


def apply_stored_event(event: dict, current: CurrentState | None = None,
                       answers: PrefetchedAnswers | None = None, *, is_new: bool = False,
                       again: bool = False, read_again_at: datetime | None = None) -> str:
    """Apply a stored event unless it already was (or `again`: with a fresh read of
    Stripe's object). Flushes; the caller commits.

    The event row is locked first (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite;
    a row this transaction just stored, `is_new`, is locked already and says processed),
    so two deliveries of one event at the same moment apply it one after the other, and
    the second finds it done."""
    connection = writing_connection()
    if not is_new:
        status = connection.execute(_LOCK_EVENT, {"event_id": event["id"]}).scalar_one()
        if status in (EventStatus.PROCESSED, EventStatus.IGNORED) and not again:
            return ALREADY
    status = apply_event(event, answers or PrefetchedAnswers(payment_gateway()), current)
    db.session.flush()
    if not (is_new and status == EventStatus.PROCESSED):  # a new row was stored as processed
        connection.execute(_MARK_APPLIED, {
            "event_id": event["id"], "outcome": status, "applied_at": utcnow(),
            "attempt": 0 if is_new else 1,  # a new row counts its attempt already
            "read_again_at": read_again_at if status == EventStatus.PROCESSED else None})
    return status


_events = StripeEvent.__table__
# A refused copy gives way to a delivery that can be read.
_REPLACE_REFUSED = (update(_events).where(_events.c.stripe_id == bindparam("event_id"),
                                          _events.c.status == EventStatus.MALFORMED)
                    .values(payload=bindparam("payload"), api_version=bindparam("api_version")))
_LOCK_EVENT = (select(_events.c.status)
               .where(_events.c.stripe_id == bindparam("event_id")).with_for_update())
_MARK_APPLIED = (update(_events).where(_events.c.stripe_id == bindparam("event_id"))
                 .values(status=bindparam("outcome"),
                         attempts=_events.c.attempts + bindparam("attempt"),
                         processed_at=bindparam("applied_at"), last_error=None,
                         read_again_at=bindparam("read_again_at")))


def _store_failure(event: dict, raw: str, error: Exception,
                   status: str = EventStatus.FAILED, note: Note | None = None) -> None:
    """Keep the event (if it is not kept yet) with why it could not be applied, in a
    transaction of its own. An event applied meanwhile (by a delivery of the same event
    at the same moment, or earlier, for a new reading that failed) stays applied, and
    keeps waiting for its new reading; it only notes the error. A readable copy replaces
    a refused one even so. Raises SQLAlchemyError when even that fails."""
    try:
        store_event(event, raw)
        stored = db.session.scalar(select(StripeEvent)
                                   .where(StripeEvent.stripe_id == event["id"])
                                   .with_for_update())
        stored.last_error = f"{type(error).__name__}: {error}"[:4000]
        if stored.status == EventStatus.MALFORMED and status != EventStatus.MALFORMED:
            stored.payload, stored.api_version = raw, _api_version(event)
        if stored.status not in (EventStatus.PROCESSED, EventStatus.IGNORED):
            stored.status = status
            stored.attempts += 1
            stored.read_again_at = None
        if note is not None:
            note(status)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        raise


def _refuse(event: dict, raw: str, reason: str, observation, note: Note | None) -> Outcome:
    """A signed event we cannot read: kept (status malformed, with the reason) for staff to
    see, answered 400, never applied in part. A later delivery of the same event in a
    form we can read (the endpoint's API version, say) replaces it and is applied."""
    current_app.logger.warning("refused Stripe event %s: %s", event["id"], reason)
    try:
        _store_failure(event, raw, payload.MalformedEvent(reason), EventStatus.MALFORMED, note)
    except SQLAlchemyError:
        current_app.logger.exception("could not store Stripe event %s", event["id"])
    observation.finish(EventStatus.MALFORMED, reason=reason)
    return Outcome(400, {"error": "rejected", "reason": reason, "event": event["id"]})


def ingest_event(event: dict, raw: str, *, again: bool = False,
                 note: Note | None = None) -> Outcome:
    """Store and apply in one transaction; on failure, store the event with the reason.
    `again`: apply an applied event once more, with Stripe's object read now (for events
    that were applied from their own copy). `note(status)` is called in the transaction
    that records the outcome, before it commits (staff's replay writes its audit entry
    so). Never raises."""
    observation = StripeEventObservation(event, HANDLERS)
    problem = payload.envelope_problem(event)
    if problem is not None:
        return _refuse(event, raw, problem, observation, note)
    read_again_at = reason = None
    try:
        current = current_state(event)
    except StripeUnreadable as error:
        if again:
            if note is not None:
                try:  # nothing else is written: the note stands on its own
                    note(UNREADABLE)
                    db.session.commit()
                except SQLAlchemyError:
                    db.session.rollback()
                    current_app.logger.exception("could not note event %s", event["id"])
            observation.finish(UNREADABLE, reason=str(error))
            return Outcome(503, {"error": "Stripe could not be read", "status": UNREADABLE,
                                 "reason": str(error), "event": event["id"]})
        # The event's own copy is applied now; `flask stripe refresh` reads Stripe later.
        current, read_again_at = None, utcnow()
        reason = f"applied from the event's copy; Stripe could not be read: {error}"
    try:
        status, is_new = _store_and_apply(event, raw, current, read_again_at, again, note)
    except payload.MalformedEvent as error:
        db.session.rollback()
        return _refuse(event, raw, str(error), observation, note)
    except Exception as error:  # any failure: roll back, keep the reason, let Stripe retry
        db.session.rollback()
        try:
            _store_failure(event, raw, error, note=note)
        except SQLAlchemyError:
            current_app.logger.exception("could not store Stripe event %s", event["id"])
            observation.finish("store_failed")
            return Outcome(503, {"error": "could not store the event; please retry"})
        current_app.logger.error("could not apply Stripe event %s", event["id"],
                                 exc_info=error)
        observation.finish("failed")
        return Outcome(500, {"error": "the event could not be applied; it will be retried",
                             "event": event["id"]})
    observation.finish(status, reason=reason if status == EventStatus.PROCESSED else None)
    return Outcome(200, {"received": True, "event": event["id"], "status": status,
                         "new": is_new})


def _store_and_apply(event: dict, raw: str, current: CurrentState | None,
                     read_again_at: datetime | None, again: bool,
                     note: Note | None) -> tuple[str, bool]:
    """Store, apply and commit; each question for Stripe rolls back, is asked with
    nothing locked, and the event is stored and applied again with its answer (see
    payments.lookups)."""
    answers = PrefetchedAnswers(payment_gateway())
    for _round in range(MAX_ROUNDS):
        try:
            is_new = store_event(event, raw, applied=True, read_again_at=read_again_at)
            if not is_new:
                db.session.execute(_REPLACE_REFUSED, {
                    "event_id": event["id"], "payload": raw,
                    "api_version": _api_version(event)})
            status = apply_stored_event(event, current, answers, is_new=is_new,
                                        again=again, read_again_at=read_again_at)
        except NeedsStripe as need:
            db.session.rollback()
            answers.ask(need.question)
            continue
        if note is not None:
            note(status)
        db.session.commit()
        return status, is_new
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


def replay_event(stripe_id: str, note: Note | None = None) -> Outcome:
    """Apply a stored event again (staff's replay button for failed events, and for events
    applied from their own copy that wait for Stripe to be read); `note` as for
    `ingest_event`."""
    stored = db.session.scalar(select(StripeEvent).where(StripeEvent.stripe_id == stripe_id))
    if stored is None:
        return Outcome(404, {"error": "unknown event"})
    raw, again = stored.payload, stored.read_again_at is not None
    db.session.commit()  # Stripe may be asked next: nothing may stay locked meanwhile
    return ingest_event(json.loads(raw), raw, again=again, note=note)


# As long as Stripe itself goes on retrying a delivery that failed.
READ_AGAIN_FOR = timedelta(days=3)


@dataclass(frozen=True)
class Refreshed:
    read: int        # events applied again with Stripe's object as it is now
    waiting: int     # events still waiting: Stripe could not be read
    given_up: int    # events that waited longer than READ_AGAIN_FOR: their copy stands
    failed: int      # events whose new reading could not be applied (see their error)


def read_stripe_again() -> Refreshed:
    """Read Stripe's object again for every event that was applied from its own copy
    because Stripe could not be read, oldest first, and apply it as it is now. Stops at
    the first object Stripe still cannot give: the others wait for the next run. Owns
    its transactions."""
    now = utcnow()
    given_up = db.session.execute(
        update(_events).where(_events.c.read_again_at < now - READ_AGAIN_FOR)
        .values(read_again_at=None, last_error=_GAVE_UP)).rowcount
    due = db.session.execute(
        select(_events.c.payload).where(_events.c.read_again_at <= now)
        .order_by(_events.c.created, _events.c.id)).scalars().all()
    db.session.commit()  # Stripe is asked with nothing held
    read = failed = 0
    for index, raw in enumerate(due):
        outcome = ingest_event(json.loads(raw), raw, again=True)
        if outcome.body.get("status") == UNREADABLE:  # Stripe is still down
            return Refreshed(read, len(due) - index, given_up, failed)
        if outcome.http_status == 200:
            read += 1
        else:  # the reason is on the event; it waits for the next run
            failed += 1
    return Refreshed(read, 0, given_up, failed)


_GAVE_UP = (f"Stripe could not be read for {READ_AGAIN_FOR.days} days; "
            "the event's own copy stands")
