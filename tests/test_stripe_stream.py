"""What Stripe really sends (issue 13): same-second ties, late failures, appeals, pauses,
failed refunds, invoices with several payments, old API versions and malformed events.
Each test failed on the code before it."""

from __future__ import annotations

import copy
import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select, text

from membership.donations.models import Checkout, Donation, RecurringGift
from membership.extensions import db
from membership.payments.models import StripeEvent
from membership.reports.summary import summary
from membership.reports.windows import Window
from membership.sql import upsert_insert
from membership.types import utcnow
from tests import stripe_payloads as sp
from tests.builders import make_user, outbox

EMAIL = "donor@example.org"


@pytest.fixture
def app_overrides(stripe_settings):
    return stripe_settings


def gift(subscription_id: str) -> RecurringGift:
    db.session.rollback()
    return db.session.scalar(
        select(RecurringGift).where(RecurringGift.stripe_subscription_id == subscription_id))


def only_donation() -> Donation:
    db.session.rollback()
    [donation] = db.session.scalars(select(Donation)).all()
    return donation


def collecting_today() -> tuple[int, int]:
    db.session.rollback()
    today = datetime.now(UTC).date()
    figures = summary(Window(today - timedelta(days=1), today))
    return figures["active_recurring_gifts"], figures["mrr_cents"]


def subscription_start(sub_id: str, customer: str, created: int) -> list[dict]:
    """The events of a monthly gift's checkout, all in one second as Stripe emits them."""
    return [
        sp.event("customer.subscription.created",
                 sp.subscription(sub_id, customer=customer, status="incomplete"), created),
        sp.event("checkout.session.completed",
                 sp.checkout_session(mode="subscription", subscription=sub_id,
                                     customer=customer, amount=1800, metadata=sp.MONTHLY),
                 created),
        sp.event("invoice.paid",
                 sp.invoice(subscription_id=sub_id, customer=customer,
                            billing_reason="subscription_create"), created),
        sp.event("customer.subscription.updated",
                 sp.subscription(sub_id, customer=customer, status="active"), created),
    ]


def started_gift(send, start: int) -> tuple[str, str]:
    """A monthly gift whose checkout's events all came at `start`; its subscription and
    customer ids."""
    sub_id, customer = sp.fresh_id("sub"), sp.fresh_id("cus")
    for evt in subscription_start(sub_id, customer, start):
        send(evt)
    return sub_id, customer


# 1. Same-second ties ------------------------------------------------------------------------

@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_a_checkout_in_one_second_ends_active_in_any_order(send, order):
    sub_id, customer = sp.fresh_id("sub"), sp.fresh_id("cus")
    events = subscription_start(sub_id, customer, int(time.time()) - 60)
    for index in order:
        assert send(events[index]).status_code == 200
    assert gift(sub_id).status == "active"
    assert collecting_today() == (1, 1800)


# 2. Side effects follow state ----------------------------------------------------------------

def test_a_failure_delivered_after_its_recovery_mails_nobody(send):
    start = int(time.time()) - 3600
    sub_id, customer = started_gift(send, start)
    renewal = sp.invoice(subscription_id=sub_id, customer=customer, paid=False)
    paid = {**renewal, "amount_paid": 1800, "status": "paid", "attempt_count": 2}
    send(sp.event("invoice.paid", paid, start + 120))
    send(sp.event("invoice.payment_failed", renewal, start + 60))  # Stripe's retry, late
    assert gift(sub_id).status == "active"
    assert "donations/payment_failed" not in [m.template for m in outbox(EMAIL)]


def test_reconcile_applies_the_oldest_event_first(app, fake_stripe, flask_command):
    sub_id, customer = sp.fresh_id("sub"), sp.fresh_id("cus")
    start = int(time.time()) - 3600
    renewal = sp.invoice(subscription_id=sub_id, customer=customer, paid=False)
    stream = [*subscription_start(sub_id, customer, start),
              sp.event("invoice.payment_failed", renewal, start + 60),
              sp.event("customer.subscription.updated",
                       sp.subscription(sub_id, customer=customer, status="past_due"),
                       start + 60),
              sp.event("invoice.paid", {**renewal, "amount_paid": 1800, "status": "paid"},
                       start + 120),
              sp.event("customer.subscription.updated",
                       sp.subscription(sub_id, customer=customer, status="active"),
                       start + 120)]
    fake_stripe.events = sorted(stream, key=lambda e: -e["created"])  # newest first
    day = datetime.fromtimestamp(start, UTC).date().isoformat()
    result = flask_command("stripe", "reconcile", "--since", day,
                           STRIPE_API_BASE=fake_stripe.url)
    assert result.returncode == 0, result.stderr
    assert gift(sub_id).status == "active"


# 3. Appeals ----------------------------------------------------------------------------------

def test_a_lost_dispute_under_appeal_stays_lost_until_won(send):
    session = sp.checkout_session(amount=5000)
    send(sp.event("checkout.session.completed", session))
    pi, ch, now = session["payment_intent"], sp.fresh_id("ch"), int(time.time())
    for offset, status in enumerate(["needs_response", "lost", "appeal_needs_response",
                                     "appeal_under_review"]):
        send(sp.event("charge.dispute.updated", sp.dispute(
            charge_id=ch, payment_intent=pi, amount=5000, status=status), now + offset))
        if offset:
            donation = only_donation()
            assert (donation.status, donation.net_cents) == ("reversed", 0), status
    send(sp.event("charge.dispute.closed", sp.dispute(
        charge_id=ch, payment_intent=pi, amount=5000, status="won"), now + 10))
    assert (only_donation().status, only_donation().net_cents) == ("succeeded", 5000)


def test_a_dispute_opened_and_lost_in_one_second_is_lost_in_any_order(send):
    session = sp.checkout_session(amount=5000)
    send(sp.event("checkout.session.completed", session))
    pi, ch, now = session["payment_intent"], sp.fresh_id("ch"), int(time.time())
    lost = sp.event("charge.dispute.closed", sp.dispute(
        charge_id=ch, payment_intent=pi, amount=5000, status="lost"), now)
    opened = sp.event("charge.dispute.created", sp.dispute(
        charge_id=ch, payment_intent=pi, amount=5000), now)
    send(lost)
    send(opened)
    assert only_donation().status == "reversed"


# 4. Not collecting ---------------------------------------------------------------------------

def _running_gift(send) -> tuple[str, str]:
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    assert collecting_today() == (1, 1800)
    return sub_id, customer


def test_paused_collection_does_not_count_and_resuming_does(send):
    sub_id, customer = _running_gift(send)
    paused = sp.subscription(sub_id, customer=customer)
    paused["pause_collection"] = {"behavior": "void", "resumes_at": int(time.time()) + 86400}
    send(sp.event("customer.subscription.updated", paused, int(time.time()) - 60))
    assert gift(sub_id).collection_paused and collecting_today() == (0, 0)
    send(sp.event("customer.subscription.updated", sp.subscription(sub_id, customer=customer),
                  int(time.time()) - 30))
    assert not gift(sub_id).collection_paused and collecting_today() == (1, 1800)


@pytest.mark.parametrize(("status", "counts"), [
    ("trialing", True), ("past_due", True), ("unpaid", False), ("paused", False),
    ("incomplete_expired", False),
])
def test_only_collecting_statuses_count(send, status, counts):
    sub_id, customer = _running_gift(send)
    send(sp.event("customer.subscription.updated",
                  sp.subscription(sub_id, customer=customer, status=status),
                  int(time.time()) - 30))
    assert collecting_today() == ((1, 1800) if counts else (0, 0))


def test_a_scheduled_end_shows_instead_of_a_next_gift(send, forms):
    make_user(EMAIL, "a sturdy passphrase")
    sub_id, customer = _running_gift(send)
    ending = sp.subscription(sub_id, customer=customer)
    cancel_at = int(datetime(2099, 3, 15, tzinfo=UTC).timestamp())
    ending["cancel_at"] = cancel_at
    send(sp.event("customer.subscription.updated", ending, int(time.time()) - 30))
    assert gift(sub_id).ends_at == datetime(2099, 3, 15, tzinfo=UTC)
    forms.login(EMAIL, "a sturdy passphrase")
    page = forms.client.get("/account/giving").get_data(as_text=True)
    assert "Ends on 2099-03-15" in page and "Next gift" not in page


# 5. Failed refunds ---------------------------------------------------------------------------

def _refund_events(pi: str, charge_id: str, now: int) -> tuple[dict, dict]:
    refunded = sp.event("charge.refunded", sp.charge(
        payment_intent=pi, amount=5000, amount_refunded=5000, charge_id=charge_id), now)
    refund = {"id": sp.fresh_id("re"), "object": "refund", "amount": 5000,
              "charge": charge_id, "payment_intent": pi, "currency": "usd",
              "status": "failed", "failure_reason": "expired_or_canceled_card"}
    return refunded, sp.event("refund.failed", refund, now + 5)


@pytest.mark.parametrize("failure_first", [False, True])
def test_a_refund_that_fails_gives_the_amount_back(send, failure_first):
    session = sp.checkout_session(amount=5000)
    send(sp.event("checkout.session.completed", session))
    refunded, failed = _refund_events(session["payment_intent"], sp.fresh_id("ch"),
                                      int(time.time()))
    for evt in ([failed, refunded] if failure_first else [refunded, failed]):
        assert send(evt).status_code == 200
    donation = only_donation()
    assert (donation.refunded_cents, donation.status) == (0, "succeeded")


def test_charge_refund_updated_to_failed_gives_the_amount_back(send):
    session = sp.checkout_session(amount=5000)
    send(sp.event("checkout.session.completed", session))
    refunded, failed = _refund_events(session["payment_intent"], sp.fresh_id("ch"),
                                      int(time.time()))
    send(refunded)
    assert only_donation().refunded_cents == 5000
    send(sp.event("charge.refund.updated", failed["data"]["object"], failed["created"]))
    assert only_donation().refunded_cents == 0


# 6. Invoices with several payments -----------------------------------------------------------

def test_the_paid_payment_of_an_invoice_is_the_one_refunds_find(send, fake_stripe):
    sub_id, customer = sp.fresh_id("sub"), sp.fresh_id("cus")
    first = sp.invoice(subscription_id=sub_id, customer=customer,
                       billing_reason="subscription_create")
    fake_stripe.invoice_payments[first["id"]] = [("pi_declined", "canceled"),
                                                 ("pi_paid", "paid")]
    send(sp.event("invoice.paid", first))
    send(sp.event("charge.refunded", sp.charge(payment_intent="pi_paid", amount=1800,
                                               amount_refunded=1800)))
    donation = only_donation()
    assert donation.stripe_payment_intent_id == "pi_paid"
    assert donation.refunded_cents == 1800


# 8. API versions -----------------------------------------------------------------------------

def test_an_event_in_an_old_api_version_is_refused_then_its_current_copy_applies(send):
    session = sp.checkout_session(amount=3600)
    old = sp.event("checkout.session.completed", copy.deepcopy(session))
    old["api_version"] = "2024-06-20"
    response = send(old)
    assert response.status_code == 400
    assert "2025-03-31.basil" in response.get_json()["reason"]
    db.session.rollback()
    stored = db.session.scalar(select(StripeEvent).where(StripeEvent.stripe_id == old["id"]))
    assert stored.status == "malformed" and "2024-06-20" in stored.last_error
    # The webhook's copy of the same event, in the endpoint's version.
    assert send({**old, "api_version": "2026-10-28.endive"}).status_code == 200
    assert only_donation().amount_cents == 3600


# 9. Malformed but signed events --------------------------------------------------------------

def _malformed(change) -> dict:
    evt = sp.event("checkout.session.completed", sp.checkout_session(amount=3600))
    change(evt)
    return evt


@pytest.mark.parametrize(("change", "reason"), [
    (lambda e: e.update(created=0), "'created'"),
    (lambda e: e.update(created=10**12), "'created'"),
    (lambda e: e["data"]["object"].update(metadata=["purpose", "donation"]), "'metadata'"),
    (lambda e: e["data"]["object"].update(metadata={"purpose": "donation", "gift": 7}),
     "'metadata'"),
    (lambda e: e["data"]["object"].update(amount_total="36.00"), "'amount_total'"),
    (lambda e: e["data"]["object"].update(amount_total=True), "'amount_total'"),
    (lambda e: e["data"]["object"].update(currency="dollars"), "'currency'"),
    (lambda e: e["data"]["object"].update(customer="cus_" + "x" * 300), "'customer'"),
    (lambda e: e["data"]["object"].update(
        metadata={"purpose": "donation", "campaign": "c" * 200}), "campaign"),
])
def test_a_malformed_signed_event_is_refused_kept_and_never_half_applied(send, change, reason):
    evt = _malformed(change)
    for _ in range(2):  # a redelivery gets the same answer, never a 5xx
        response = send(evt)
        assert response.status_code == 400
        assert reason in response.get_json()["reason"]
    db.session.rollback()
    assert db.session.scalars(select(Donation)).all() == []
    stored = db.session.scalar(select(StripeEvent).where(StripeEvent.stripe_id == evt["id"]))
    assert stored.status == "malformed"


def test_an_event_id_past_the_column_is_refused_unstored(send):
    evt = sp.event("checkout.session.completed", sp.checkout_session(),
                   event_id="evt_" + "x" * 300)
    assert send(evt).status_code == 400
    db.session.rollback()
    assert db.session.scalars(select(StripeEvent)).all() == []


def test_staff_see_a_malformed_event_and_its_reason(send, client, forms, staff):
    evt = _malformed(lambda e: e["data"]["object"].update(amount_total="36.00"))
    send(evt)
    forms.login("editor@example.org", "another sturdy passphrase")
    listing = client.get("/admin/events?status=malformed").get_data(as_text=True)
    assert evt["id"] in listing
    detail = client.get(f"/admin/events/{evt['id']}").get_data(as_text=True)
    assert "amount_total" in detail


# 7. A Payment Link's yearly gift -------------------------------------------------------------

@pytest.mark.parametrize("checkout_first", [False, True])
def test_a_payment_links_yearly_gift_is_yearly_from_its_first_invoice(send, checkout_first):
    sub_id, customer = sp.fresh_id("sub"), sp.fresh_id("cus")
    link_metadata = {"purpose": "donation"}  # what staff type on a Payment Link
    first = sp.invoice(subscription_id=sub_id, customer=customer, amount=12000,
                       billing_reason="subscription_create", metadata=link_metadata)
    start = int(time.time()) - 60
    first["lines"]["data"][0]["period"] = {"start": start, "end": start + 365 * 86400}
    if checkout_first:  # the checkout says no frequency: the gift must not settle on one
        send(sp.event("checkout.session.completed", sp.checkout_session(
            mode="subscription", subscription=sub_id, customer=customer, amount=12000,
            metadata=link_metadata), start))
    send(sp.event("invoice.paid", first, start))
    assert gift(sub_id).frequency == "yearly"
    assert only_donation().frequency == "yearly"
    send(sp.event("customer.subscription.created", sp.subscription(
        sub_id, customer=customer, amount=12000, interval="year", metadata=link_metadata),
        start))
    assert gift(sub_id).frequency == "yearly"
    assert collecting_today() == (1, 1000)


# An expired checkout -------------------------------------------------------------------------

def test_an_expired_checkout_abandons_the_pending_gift(app, send, forms):
    response = forms.post("/donate", {"amount": "36", "frequency": "once",
                                      "email": EMAIL, "currency": "usd"})
    assert response.status_code == 303
    db.session.rollback()
    checkout = db.session.scalar(select(Checkout))
    session = sp.checkout_session(payment_status="unpaid", amount=3600,
                                  metadata={"purpose": "donation", "gift": checkout.public_id},
                                  session_id=checkout.stripe_session_id)
    session["status"] = "expired"
    assert send(sp.event("checkout.session.expired", session)).status_code == 200
    db.session.rollback()
    assert db.session.get(Checkout, checkout.id).status == "expired"
    page = forms.client.get(f"/donate/thank-you?gift={checkout.public_id}")
    assert "did not go through" in page.get_data(as_text=True)


# A renewal the bank wants confirmed ----------------------------------------------------------

def test_a_renewal_needing_authentication_mails_the_hosted_invoice_link_once(send):
    start = int(time.time()) - 3600
    sub_id, customer = started_gift(send, start)
    renewal = sp.invoice(subscription_id=sub_id, customer=customer, paid=False)
    renewal["hosted_invoice_url"] = "https://invoice.stripe.com/i/acct_test/confirm"
    send(sp.event("invoice.payment_action_required", renewal, start + 60))
    send(sp.event("invoice.payment_failed", renewal, start + 60))  # Stripe sends both
    mails = [m for m in outbox(EMAIL) if m.template.startswith("donations/")
             and m.template != "donations/thank_you"]
    assert [m.template for m in mails] == ["donations/confirm_payment"]
    assert mails[0].context["link"] == "https://invoice.stripe.com/i/acct_test/confirm"
    assert gift(sub_id).status == "past_due"


# Authoritative state -------------------------------------------------------------------------

def test_a_subscription_is_applied_as_stripe_holds_it_now(send, fake_stripe):
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    fake_stripe.objects[sub_id] = sp.subscription(sub_id, customer=customer, status="active")
    # A late copy, newer by its stamp than anything applied, says past_due; Stripe says
    # the gift is active now (its retry succeeded since).
    stale = sp.subscription(sub_id, customer=customer, status="past_due")
    assert send(sp.event("customer.subscription.updated", stale)).status_code == 200
    assert gift(sub_id).status == "active"
    assert fake_stripe.calls("GET", f"/v1/subscriptions/{sub_id}")


def test_the_events_copy_is_applied_when_stripe_cannot_be_asked(send, fake_stripe):
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    fake_stripe.objects[sub_id] = sp.subscription(sub_id, customer=customer, status="active")
    fake_stripe.fail_next = 10
    send(sp.event("customer.subscription.updated",
                  sp.subscription(sub_id, customer=customer, status="past_due")))
    assert gift(sub_id).status == "past_due"


def stored_event(event_id: str) -> StripeEvent:
    db.session.rollback()
    return db.session.scalar(select(StripeEvent).where(StripeEvent.stripe_id == event_id))


def _gift_updated_while_stripe_is_down(send, fake_stripe) -> tuple[str, dict]:
    """A gift Stripe holds active, and a past_due copy that arrives while Stripe answers
    nothing (three tries: the library retries twice)."""
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    fake_stripe.objects[sub_id] = sp.subscription(sub_id, customer=customer, status="active")
    fake_stripe.fail_next = 3
    evt = sp.event("customer.subscription.updated",
                   sp.subscription(sub_id, customer=customer, status="past_due"))
    assert send(evt).status_code == 200
    assert fake_stripe.fail_next == 0
    return sub_id, evt


def test_an_event_applied_from_its_copy_is_read_again_later(send, fake_stripe, flask_command):
    sub_id, evt = _gift_updated_while_stripe_is_down(send, fake_stripe)
    assert gift(sub_id).status == "past_due"
    assert stored_event(evt["id"]).read_again_at is not None
    fake_stripe.fail_next = 3  # still down at the first run: the event waits
    down = flask_command("stripe", "refresh", STRIPE_API_BASE=fake_stripe.url)
    assert down.returncode == 1
    assert "Stripe could not be read; 1 event(s) wait" in down.stderr
    assert gift(sub_id).status == "past_due"
    assert stored_event(evt["id"]).read_again_at is not None
    result = flask_command("stripe", "refresh", STRIPE_API_BASE=fake_stripe.url)
    assert result.returncode == 0, result.stderr
    assert "read again: 1, waiting: 0, given up: 0, failed: 0" in result.stdout
    assert gift(sub_id).status == "active"
    event = stored_event(evt["id"])
    assert event.read_again_at is None and event.status == "processed"
    again = flask_command("stripe", "refresh", STRIPE_API_BASE=fake_stripe.url)
    assert "read again: 0, waiting: 0, given up: 0, failed: 0" in again.stdout


def test_an_event_waits_for_stripe_three_days_at_most(send, fake_stripe, flask_command):
    sub_id, evt = _gift_updated_while_stripe_is_down(send, fake_stripe)
    event = stored_event(evt["id"])
    event.read_again_at = utcnow() - timedelta(days=3, minutes=1)
    db.session.commit()
    result = flask_command("stripe", "refresh", STRIPE_API_BASE=fake_stripe.url)
    assert result.returncode == 0, result.stderr
    assert "read again: 0, waiting: 0, given up: 1, failed: 0" in result.stdout
    event = stored_event(evt["id"])
    assert event.read_again_at is None and "3 days" in event.last_error
    assert gift(sub_id).status == "past_due"  # the copy stands


def test_an_object_stripe_will_not_show_is_not_read_again(send, fake_stripe):
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    fake_stripe.objects.pop(sub_id, None)  # Stripe answers 404: nothing to wait for
    evt = sp.event("customer.subscription.updated",
                   sp.subscription(sub_id, customer=customer, status="past_due"))
    assert send(evt).status_code == 200
    assert stored_event(evt["id"]).read_again_at is None


def test_staff_read_stripe_again_for_an_event_applied_from_its_copy(
        send, fake_stripe, client, forms, staff):
    sub_id, evt = _gift_updated_while_stripe_is_down(send, fake_stripe)
    forms.login("editor@example.org", "another sturdy passphrase")
    assert "Stripe to be read again" in client.get("/admin/events").get_data(as_text=True)
    detail = client.get(f"/admin/events/{evt['id']}").get_data(as_text=True)
    assert "Read Stripe again now" in detail
    fake_stripe.fail_next = 3
    forms.post(f"/admin/events/{evt['id']}/replay", {}, page=f"/admin/events/{evt['id']}")
    assert stored_event(evt["id"]).read_again_at is not None  # still down: still waiting
    assert "Stripe could not be read" in client.get(f"/admin/events/{evt['id']}").get_data(
        as_text=True)
    forms.post(f"/admin/events/{evt['id']}/replay", {}, page=f"/admin/events/{evt['id']}")
    assert gift(sub_id).status == "active"
    assert stored_event(evt["id"]).read_again_at is None


def test_a_charge_is_applied_as_stripe_holds_it_now(send, fake_stripe):
    session = sp.checkout_session(amount=5000)
    send(sp.event("checkout.session.completed", session))
    charge_id = sp.fresh_id("ch")
    # The refund failed since: Stripe's charge says nothing is refunded any more.
    fake_stripe.objects[charge_id] = sp.charge(payment_intent=session["payment_intent"],
                                               amount=5000, charge_id=charge_id)
    send(sp.event("charge.refunded", sp.charge(payment_intent=session["payment_intent"],
                                               amount=5000, amount_refunded=5000,
                                               charge_id=charge_id)))
    assert only_donation().refunded_cents == 0


def _renewal_paid_first(fake_stripe) -> dict:
    """A renewal of a gift we know nothing of yet: its invoice names neither the e-mail
    nor the PaymentIntent, so applying it asks Stripe for both."""
    sub_id, customer = sp.fresh_id("sub"), sp.fresh_id("cus")
    fake_stripe.customers[customer] = EMAIL
    renewal = sp.invoice(subscription_id=sub_id, customer=customer, email=None)
    fake_stripe.invoice_payments[renewal["id"]] = "pi_renewal_first"
    return sp.event("invoice.paid", renewal)


@pytest.mark.parametrize("scenario", ["subscription", "renewal"])
def test_stripe_is_asked_with_no_lock_held_on_the_event(app, send, fake_stripe, database_url,
                                                        scenario):
    """While the app waits for Stripe, another process can still write the event's row:
    no transaction of the intake holds it (on SQLite, that lock is the whole database;
    on PostgreSQL, a row stored and not yet committed would make the insert wait)."""
    if scenario == "subscription":
        sub_id, customer = started_gift(send, int(time.time()) - 3600)
        fake_stripe.objects[sub_id] = sp.subscription(sub_id, customer=customer)
        evt = sp.event("customer.subscription.updated",
                       sp.subscription(sub_id, customer=customer))
    else:
        evt = _renewal_paid_first(fake_stripe)
    other = create_engine(database_url, connect_args=(
        {"timeout": 0.2} if database_url.startswith("sqlite") else {}))
    writes = []
    row = {"stripe_id": evt["id"], "type": evt["type"], "created": utcnow(), "livemode": False,
           "payload": "{}", "received_at": utcnow(), "status": "received", "attempts": 0}

    def write_while_asked(path: str) -> None:
        with other.connect() as connection:
            transaction = connection.begin()
            if other.dialect.name == "postgresql":
                connection.execute(text("SET LOCAL lock_timeout = '200ms'"))
            connection.execute(upsert_insert(other.dialect.name)(StripeEvent.__table__)
                               .values(row).on_conflict_do_nothing())
            writes.append(path)  # not blocked: the statement came back
            transaction.rollback()

    fake_stripe.while_answering = write_while_asked
    try:
        assert send(evt).status_code == 200
    finally:
        fake_stripe.while_answering = None
        other.dispose()
    assert writes
    if scenario == "renewal":
        assert only_donation().stripe_payment_intent_id == "pi_renewal_first"
        assert only_donation().donor.email == EMAIL


# Found in review -----------------------------------------------------------------------------

def test_a_failure_mail_goes_out_when_stripes_current_state_came_first(send, fake_stripe):
    start = int(time.time()) - 3600
    sub_id, customer = started_gift(send, start)
    fake_stripe.objects[sub_id] = sp.subscription(sub_id, customer=customer, status="past_due")
    # Stripe's usual order: the subscription (read now, past_due), then the invoice.
    send(sp.event("customer.subscription.updated",
                  sp.subscription(sub_id, customer=customer, status="past_due")))
    renewal = sp.invoice(subscription_id=sub_id, customer=customer, paid=False)
    send(sp.event("invoice.payment_failed", renewal))
    assert "donations/payment_failed" in [m.template for m in outbox(EMAIL)]


@pytest.mark.parametrize("change", [
    lambda obj: obj.update(payments={"object": "list", "data": [
        {"status": "paid", "payment": "pi_as_text"}]}),
    lambda obj: obj.update(amount_paid=2**40),
])
def test_odd_invoice_shapes_are_refused_not_failed(send, change):
    invoice = sp.invoice(subscription_id=sp.fresh_id("sub"), customer=sp.fresh_id("cus"))
    change(invoice)
    assert send(sp.event("invoice.paid", invoice)).status_code == 400


@pytest.mark.parametrize("change", [
    lambda sub: sub["items"]["data"][0].update(quantity=10**9),
    lambda sub: sub.update(status="s" * 40),
])
def test_odd_subscription_shapes_are_refused_not_failed(send, change):
    sub = sp.subscription(sp.fresh_id("sub"), customer=sp.fresh_id("cus"))
    change(sub)
    assert send(sp.event("customer.subscription.updated", sub)).status_code == 400


def test_a_resumed_copy_wins_over_a_paused_state_read_in_the_same_second(send, fake_stripe):
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    paused = sp.subscription(sub_id, customer=customer)
    paused["pause_collection"] = {"behavior": "void", "resumes_at": None}
    fake_stripe.objects[sub_id] = paused
    send(sp.event("customer.subscription.updated", paused))  # read now: paused
    fake_stripe.fail_next = 10  # then Stripe cannot be asked; the resume's own copy applies
    send(sp.event("customer.subscription.updated", sp.subscription(sub_id, customer=customer)))
    assert not gift(sub_id).collection_paused
