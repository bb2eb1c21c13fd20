"""Found in review of the one-transaction intake and the read-again work: each failed on
that code (a replay holding the write lock while Stripe is asked, a give-up counted from
the first delivery, a failure overwriting an applied event, a refused copy kept, a new
event counting two attempts, a transaction begun without the write lock)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, text

from membership.extensions import db
from membership.payments.models import StripeEvent
from membership.payments.webhook import read_stripe_again
from membership.sql import writing_connection
from membership.types import utcnow
from tests import stripe_payloads as sp
from tests.builders import failing_inserts, refusing_statements
from tests.test_stripe_stream import (
    _gift_updated_while_stripe_is_down,
    gift,
    started_gift,
    stored_event,
)


@pytest.fixture
def app_overrides(stripe_settings):
    return stripe_settings


# 1. Staff's replay asks Stripe inside the request's open transaction ---------------------

def test_staff_replay_asks_stripe_with_no_lock_held(send, fake_stripe, client, forms, staff,
                                                    database_url):
    _sub_id, evt = _gift_updated_while_stripe_is_down(send, fake_stripe)
    forms.login("editor@example.org", "another sturdy passphrase")
    other = create_engine(database_url, connect_args=(
        {"timeout": 0.2} if database_url.startswith("sqlite") else {}))
    outcomes = []

    def write_while_asked(path: str) -> None:
        if not path.startswith("/v1/subscriptions/"):
            return
        try:
            with other.connect() as connection:
                transaction = connection.begin()
                if other.dialect.name == "postgresql":
                    connection.execute(text("SET LOCAL lock_timeout = '200ms'"))
                connection.execute(text(
                    "UPDATE stripe_events SET attempts = attempts WHERE stripe_id = :id"),
                    {"id": evt["id"]})
                transaction.rollback()
            outcomes.append("written")
        except Exception as error:
            outcomes.append(f"blocked: {error.__class__.__name__}")

    fake_stripe.while_answering = write_while_asked
    try:
        forms.post(f"/admin/events/{evt['id']}/replay", {}, page=f"/admin/events/{evt['id']}")
    finally:
        fake_stripe.while_answering = None
        other.dispose()
    assert outcomes == ["written"]


# 2. The three days are counted from the first receipt, not from the copy's application ----

def test_an_old_event_applied_from_its_copy_is_read_again_before_given_up(
        send, fake_stripe, flask_command):
    sub_id, customer = _started(send, fake_stripe)
    evt = sp.event("customer.subscription.updated",
                   sp.subscription(sub_id, customer=customer, status="past_due"))
    with refusing_statements(lambda sql: sql.startswith("UPDATE RECURRING_GIFTS")):
        assert send(evt).status_code == 500  # first delivery fails
    stored = stored_event(evt["id"])
    stored.received_at = utcnow() - timedelta(days=3, hours=1)  # Stripe retried for days
    db.session.commit()
    fake_stripe.fail_next = 3  # Stripe's last retry: Stripe is down for a moment
    assert send(evt).status_code == 200
    assert stored_event(evt["id"]).read_again_at is not None
    result = flask_command("stripe", "refresh", STRIPE_API_BASE=fake_stripe.url)
    # Stripe is readable now: the gift should follow Stripe (active).
    assert "read again: 1" in result.stdout, result.stdout
    assert gift(sub_id).status == "active"


def _started(send, fake_stripe):
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    fake_stripe.objects[sub_id] = sp.subscription(sub_id, customer=customer, status="active")
    return sub_id, customer


# 3. refresh: a failure that is not Stripe's is reported as "Stripe could not be read", ----
#    and the applied row is marked failed

def test_refresh_reports_a_failed_reapply_truthfully(app, send, fake_stripe):
    sub_id, evt = _gift_updated_while_stripe_is_down(send, fake_stripe)
    db.session.rollback()
    with refusing_statements(lambda sql: sql.startswith("UPDATE RECURRING_GIFTS")):
        result = read_stripe_again()
    row = stored_event(evt["id"])
    # The copy's effects are committed (gift past_due): the row is not a failed event...
    assert gift(sub_id).status == "past_due"
    assert row.status == "processed", (row.status, row.last_error)
    # ...and Stripe *was* read: nothing "waits for Stripe".
    assert result.waiting == 0, result


# 4. A readable copy of a refused event is lost when applying it fails ---------------------

def test_a_readable_copy_replaces_the_refused_one_even_when_applying_fails(send):
    old = sp.event("checkout.session.completed", sp.checkout_session(amount=3600))
    old["api_version"] = "2024-06-20"
    assert send(old).status_code == 400
    current = {**old, "api_version": "2026-10-28.endive"}
    with failing_inserts("donations"):
        assert send(current).status_code == 500
    row = stored_event(old["id"])
    assert json.loads(row.payload)["api_version"] == "2026-10-28.endive"


# 5. A new event the handler ignores counts two attempts ---------------------------------

def test_a_new_ignored_event_counts_one_attempt(send):
    evt = sp.event("checkout.session.completed", sp.checkout_session(metadata={}))
    assert send(evt).get_json()["status"] == "ignored"
    assert stored_event(evt["id"]).attempts == 1


# 6. writing_connection: a session that has only autobegun takes no write lock up front ---

def test_writing_connection_begins_immediate_when_no_connection_is_held(app, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    db.session.rollback()
    begins = []
    listen = lambda conn, cursor, statement, *a: begins.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        db.session.add(StripeEvent(stripe_id="evt_probe", type="x", created=utcnow(),
                                   livemode=False, payload="{}", received_at=utcnow(),
                                   status="received", attempts=0))
        writing_connection()
        db.session.flush()
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
        db.session.rollback()
    assert begins[0] == "BEGIN IMMEDIATE", begins
