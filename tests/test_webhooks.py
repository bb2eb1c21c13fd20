"""The webhook endpoint, scenario by scenario, through the real `stripe` library."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from membership.donations.models import (
    Checkout,
    Donation,
    Donor,
    PaymentFailure,
    RecurringGift,
)
from membership.extensions import db
from membership.payments.models import StripeEvent
from tests import stripe_payloads as sp
from tests.builders import failing_inserts, make_campaign, outbox


@pytest.fixture
def app_overrides(stripe_settings):
    return stripe_settings


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def donations() -> list[Donation]:
    db.session.rollback()
    return list(db.session.scalars(select(Donation).order_by(Donation.created_at, Donation.id)))


def gift(subscription_id: str) -> RecurringGift:
    db.session.rollback()
    return db.session.scalar(
        select(RecurringGift).where(RecurringGift.stripe_subscription_id == subscription_id))


def stored(event_id: str) -> StripeEvent:
    db.session.rollback()
    return db.session.scalar(select(StripeEvent).where(StripeEvent.stripe_id == event_id))


# Verification -------------------------------------------------------------------------------

def test_missing_signature_is_refused(client):
    response = client.post("/stripe/webhook", data=json.dumps(sp.event("ping", {})),
                           content_type="application/json")
    assert response.status_code == 400
    assert "signature" in response.get_json()["reason"]
    assert count(StripeEvent) == 0


def test_wrong_secret_is_refused(send):
    response = send(sp.event("checkout.session.completed", sp.checkout_session()),
                    secret="whsec_someone_else")
    assert response.status_code == 400
    assert count(StripeEvent) == 0


def test_stale_timestamp_is_refused(send):
    response = send(sp.event("checkout.session.completed", sp.checkout_session()),
                    timestamp=int(time.time()) - 301)
    assert response.status_code == 400
    assert "tolerance" in response.get_json()["reason"]


def test_tampered_body_is_refused(app, client):
    body = json.dumps(sp.event("checkout.session.completed", sp.checkout_session()))
    header = sp.sign(body, app.config["STRIPE_WEBHOOK_SECRET"])
    response = client.post("/stripe/webhook", data=body.replace("3600", "9999"),
                           headers={"Stripe-Signature": header})
    assert response.status_code == 400
    assert count(Donation) == 0


@pytest.mark.parametrize(("body", "reason"), [
    ("this is not json", "not valid JSON"),
    ('{"object": "list", "data": []}', "not a Stripe event"),
    ('["evt_1"]', "not a Stripe event"),
    ('{"id": "evt_1", "object": "event", "type": "x", "created": 1, "data": {}}',
     "not a Stripe event"),
    ('{"id": "evt_1", "object": "event", "type": "x", "created": 1, "data": [1]}',
     "not a Stripe event"),
    # A sane id and type: kept for staff (status malformed), refused all the same.
    ('{"id": "evt_1", "object": "event", "type": "x", "created": "1", "data": {"object": {}}}',
     "'created' must be a time"),
])
def test_signed_body_that_is_not_an_event_is_refused(app, client, body, reason):
    header = sp.sign(body, app.config["STRIPE_WEBHOOK_SECRET"])
    response = client.post("/stripe/webhook", data=body, headers={"Stripe-Signature": header})
    assert response.status_code == 400
    assert reason in response.get_json()["reason"]


def test_signed_body_that_is_not_utf8_is_refused(app, client):
    body = b"\xff\xfe{}"
    header = sp.sign(body.decode("latin-1"), app.config["STRIPE_WEBHOOK_SECRET"])
    response = client.post("/stripe/webhook", data=body, headers={"Stripe-Signature": header})
    assert response.status_code == 400


def test_live_event_for_test_keys_is_refused(send):
    response = send(sp.event("checkout.session.completed", sp.checkout_session(),
                             livemode=True))
    assert response.status_code == 400
    assert "live-mode" in response.get_json()["reason"]


def test_only_stripe_one_click_unsubscribe_and_the_language_switch_skip_the_csrf_check(app):
    """Stripe and mail providers doing RFC 8058 one-click unsubscribe (whose signed link is
    its own proof) hold no form; the language switch sits on every page, where a token
    would give every visitor a session cookie, and changes only how pages are shown."""
    from membership.extensions import csrf

    exempt = {view for view in csrf._exempt_views}
    assert exempt == {"membership.payments.routes.stripe_webhook",
                      "membership.newsletter.routes.unsubscribe",
                      "membership.site.routes.choose_language"}


# One-time gifts ---------------------------------------------------------------------------------

def test_paid_checkout_records_one_donation_and_thanks_the_donor(send):
    session = sp.checkout_session(amount=3650, email="Dana@Example.org")
    evt = sp.event("checkout.session.completed", session)
    response = send(evt)
    assert response.status_code == 200
    assert response.get_json()["status"] == "processed"
    [donation] = donations()
    assert (donation.amount_cents, donation.currency, donation.frequency) == (3650, "usd", "once")
    assert donation.stripe_payment_intent_id == session["payment_intent"]
    assert donation.donor.email == "dana@example.org"
    assert donation.donor.stripe_customer_id == session["customer"]
    assert [m.template for m in outbox("dana@example.org")] == ["donations/thank_you"]
    assert stored(evt["id"]).status == "processed"


def test_duplicate_event_records_one_donation(send):
    evt = sp.event("checkout.session.completed", sp.checkout_session())
    first, second = send(evt), send(evt)
    assert first.status_code == second.status_code == 200
    assert second.get_json()["status"] == "already_processed"
    assert count(Donation) == 1
    assert len(outbox("donor@example.org")) == 1


def test_same_payment_in_two_events_records_one_donation(send):
    session = sp.checkout_session()
    send(sp.event("checkout.session.completed", session))
    send(sp.event("checkout.session.async_payment_succeeded", session))
    assert count(Donation) == 1


def test_unpaid_checkout_records_nothing_until_the_async_payment_succeeds(send):
    session = sp.checkout_session(payment_status="unpaid")
    assert send(sp.event("checkout.session.completed", session)).status_code == 200
    assert count(Donation) == 0
    send(sp.event("checkout.session.async_payment_succeeded",
                  {**session, "payment_status": "paid"}))
    assert count(Donation) == 1


def test_async_payment_failure_records_nothing_and_marks_the_checkout(app, send):
    from membership.donations.checkout import GiftChoice, start_checkout

    checkout = start_checkout(GiftChoice(email="donor@example.org", amount_cents=3600,
                                         currency="usd", frequency="once"))
    db.session.commit()
    metadata = {**sp.DONATION, "gift": checkout.public_id}
    session = sp.checkout_session(payment_status="unpaid", metadata=metadata)
    send(sp.event("checkout.session.completed", session))
    assert db.session.get(Checkout, checkout.id).status == "processing"
    send(sp.event("checkout.session.async_payment_failed", session))
    db.session.rollback()
    assert db.session.get(Checkout, checkout.id).status == "failed"
    assert count(Donation) == 0


def test_checkout_details_follow_the_gift(app, send):
    from membership.donations.checkout import GiftChoice, start_checkout

    checkout = start_checkout(GiftChoice(
        email="donor@example.org", amount_cents=1800, currency="usd", frequency="once",
        cover_fee=True, campaign="20th-anniversary", anonymous=True,
        dedication_kind="memory", dedication_name="Sami"))
    db.session.commit()
    session = sp.checkout_session(amount=checkout.amount_cents,
                                  metadata={**sp.DONATION, "gift": checkout.public_id,
                                            "campaign": "20th-anniversary"})
    send(sp.event("checkout.session.completed", session))
    [donation] = donations()
    assert (donation.amount_cents, donation.fee_cents) == (1885, 85)
    assert donation.campaign == "20th-anniversary"
    assert donation.anonymous and donation.dedication_name == "Sami"
    assert db.session.get(Checkout, checkout.id).status == "paid"


def test_campaign_progress_follows_webhooks_in_the_same_transaction(app, client, send):
    make_campaign("20th-anniversary")
    session = sp.checkout_session(amount=5000, metadata={**sp.DONATION,
                                                         "campaign": "20th-anniversary"})
    send(sp.event("checkout.session.completed", session))
    send(sp.event("checkout.session.completed", session))  # a second delivery
    progress = client.get("/campaigns/20th-anniversary/progress.json").get_json()
    assert (progress["raised_cents"], progress["donations"], progress["donors"]) == (5000, 1, 1)
    send(sp.event("charge.refunded", sp.charge(payment_intent=session["payment_intent"],
                                               amount=5000, amount_refunded=2000)))
    progress = client.get("/campaigns/20th-anniversary/progress.json").get_json()
    assert (progress["raised_cents"], progress["donations"]) == (3000, 1)


def test_event_without_donation_metadata_is_stored_and_ignored(send):
    evt = sp.event("checkout.session.completed", sp.checkout_session(metadata={}))
    response = send(evt)
    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert stored(evt["id"]).status == "ignored"
    assert count(Donation) == 0


def test_unknown_event_type_is_stored_and_ignored(send):
    evt = sp.event("customer.created", {"id": "cus_1", "object": "customer"})
    assert send(evt).status_code == 200
    assert stored(evt["id"]).status == "ignored"


# Recurring gifts --------------------------------------------------------------------------------

def start_subscription(send, amount=1800, interval="month", metadata=None, created=None):
    metadata = metadata or sp.MONTHLY
    customer = sp.fresh_id("cus")
    sub_id = sp.fresh_id("sub")
    created = created or int(time.time()) - 100
    send(sp.event("customer.subscription.created",
                  sp.subscription(sub_id, customer=customer, amount=amount, interval=interval,
                                  metadata=metadata, status="incomplete"), created))
    send(sp.event("checkout.session.completed",
                  sp.checkout_session(mode="subscription", subscription=sub_id,
                                      customer=customer, amount=amount, metadata=metadata),
                  created + 1))
    send(sp.event("invoice.paid",
                  sp.invoice(subscription_id=sub_id, customer=customer, amount=amount,
                             billing_reason="subscription_create", metadata=metadata),
                  created + 2))
    send(sp.event("customer.subscription.updated",
                  sp.subscription(sub_id, customer=customer, amount=amount, interval=interval,
                                  metadata=metadata), created + 3))
    return sub_id, customer


def test_monthly_gift_with_first_payment_and_two_renewals(send):
    sub_id, customer = start_subscription(send)
    for _ in range(2):
        send(sp.event("invoice.paid", sp.invoice(subscription_id=sub_id, customer=customer)))
    recorded = donations()
    assert len(recorded) == 3
    assert [d.billing_reason for d in recorded] == ["subscription_create", "subscription_cycle",
                                                   "subscription_cycle"]
    assert {d.frequency for d in recorded} == {"monthly"}
    assert {d.recurring_gift_id for d in recorded} == {gift(sub_id).id}
    assert gift(sub_id).status == "active"
    assert gift(sub_id).current_period_end is not None
    assert count(Donor) == 1


def test_yearly_gift(send):
    sub_id, _ = start_subscription(send, amount=25000, interval="year", metadata=sp.YEARLY)
    assert gift(sub_id).frequency == "yearly"
    assert gift(sub_id).monthly_cents == 2083
    assert [d.amount_cents for d in donations()] == [25000]


def test_invoice_paid_first_creates_the_gift_and_records_the_payment(send, fake_stripe):
    customer, sub_id = sp.fresh_id("cus"), sp.fresh_id("sub")
    inv = sp.invoice(subscription_id=sub_id, customer=customer,
                     billing_reason="subscription_create")
    fake_stripe.invoice_payments[inv["id"]] = "pi_first_payment"
    send(sp.event("invoice.paid", inv))
    [donation] = donations()
    assert donation.recurring_gift_id == gift(sub_id).id
    # The PaymentIntent comes from the Invoice Payments API when the event lacks it.
    assert donation.stripe_payment_intent_id == "pi_first_payment"


def test_failed_renewal_then_recovery(send):
    sub_id, customer = start_subscription(send)
    failed = sp.invoice(subscription_id=sub_id, customer=customer, paid=False)
    response = send(sp.event("invoice.payment_failed", failed))
    assert response.status_code == 200
    assert gift(sub_id).status == "past_due"
    assert count(PaymentFailure) == 1
    assert [m.template for m in outbox("donor@example.org")].count(
        "donations/payment_failed") == 1
    # The same failure delivered again mails nobody twice.
    send(sp.event("invoice.payment_failed", failed))
    assert count(PaymentFailure) == 1
    send(sp.event("invoice.paid", {**failed, "amount_paid": 1800, "status": "paid",
                                   "attempt_count": 2}))
    assert gift(sub_id).status == "active"
    assert len(donations()) == 2


def test_cancellation_ends_the_gift_with_its_time_and_reason(send):
    sub_id, customer = start_subscription(send)
    send(sp.event("customer.subscription.deleted",
                  sp.subscription(sub_id, customer=customer, status="canceled",
                                  comment="Moving abroad")))
    ended = gift(sub_id)
    assert ended.status == "canceled"
    assert ended.ended_at is not None
    assert ended.cancel_reason == "Moving abroad"


def test_subscription_update_changes_amount_and_cancel_at_period_end(send):
    sub_id, customer = start_subscription(send)
    send(sp.event("customer.subscription.updated",
                  sp.subscription(sub_id, customer=customer, amount=3600,
                                  cancel_at_period_end=True)))
    updated = gift(sub_id)
    assert updated.amount_cents == 3600
    assert updated.cancel_at_period_end


def test_older_subscription_event_does_not_overwrite_newer_state(send):
    sub_id, customer = start_subscription(send)
    now = int(time.time())
    send(sp.event("customer.subscription.deleted",
                  sp.subscription(sub_id, customer=customer, status="canceled"), now))
    send(sp.event("customer.subscription.updated",
                  sp.subscription(sub_id, customer=customer, status="active", amount=9900),
                  now - 50))
    assert gift(sub_id).status == "canceled"
    assert gift(sub_id).amount_cents == 1800


def test_subscription_without_donation_metadata_is_ignored(send):
    evt = sp.event("customer.subscription.created",
                   sp.subscription(sp.fresh_id("sub"), customer="cus_x", metadata={}))
    assert send(evt).get_json()["status"] == "ignored"
    assert count(RecurringGift) == 0


# Refunds and disputes -------------------------------------------------------------------------

def paid_gift(send, amount=5000):
    session = sp.checkout_session(amount=amount)
    send(sp.event("checkout.session.completed", session))
    return session["payment_intent"]


def test_partial_then_full_refund(send):
    pi = paid_gift(send)
    ch = sp.fresh_id("ch")
    send(sp.event("charge.refunded", sp.charge(payment_intent=pi, amount=5000,
                                               amount_refunded=2000, charge_id=ch)))
    [donation] = donations()
    assert (donation.refunded_cents, donation.status) == (2000, "partially_refunded")
    send(sp.event("charge.refunded", sp.charge(payment_intent=pi, amount=5000,
                                               amount_refunded=5000, charge_id=ch)))
    [donation] = donations()
    assert (donation.refunded_cents, donation.status) == (5000, "refunded")


def test_refund_arriving_before_the_payment_is_applied_when_the_payment_arrives(send):
    session = sp.checkout_session(amount=5000)
    send(sp.event("charge.refunded", sp.charge(payment_intent=session["payment_intent"],
                                               amount=5000, amount_refunded=1500)))
    send(sp.event("checkout.session.completed", session))
    [donation] = donations()
    assert donation.refunded_cents == 1500


def test_refund_of_a_renewal_is_matched_through_the_invoice_payments_api(send, fake_stripe):
    sub_id, customer = start_subscription(send)
    renewal = sp.invoice(subscription_id=sub_id, customer=customer)
    send(sp.event("invoice.paid", renewal))
    # Stripe's answer was not known when the renewal was recorded; it is now.
    fake_stripe.invoice_payments[renewal["id"]] = "pi_renewal"
    send(sp.event("charge.refunded", sp.charge(payment_intent="pi_renewal", amount=1800,
                                               amount_refunded=1800)))
    refunded = [d for d in donations() if d.stripe_invoice_id == renewal["id"]]
    assert refunded[0].refunded_cents == 1800


def test_dispute_lost_counts_as_reversed_and_won_restores(send):

    pi = paid_gift(send)
    ch = sp.fresh_id("ch")
    now = int(time.time())
    send(sp.event("charge.dispute.created",
                  sp.dispute(charge_id=ch, payment_intent=pi, amount=5000), now))
    assert donations()[0].status == "disputed"
    send(sp.event("charge.dispute.closed",
                  sp.dispute(charge_id=ch, payment_intent=pi, amount=5000, status="lost"),
                  now + 10))
    [donation] = donations()
    assert donation.status == "reversed" and donation.net_cents == 0
    # A stale "created" delivered late does not reopen it.
    send(sp.event("charge.dispute.created",
                  sp.dispute(charge_id=ch, payment_intent=pi, amount=5000), now - 10))
    assert donations()[0].status == "reversed"


def test_refund_for_a_charge_we_do_not_know_is_ignored(send):
    evt = sp.event("charge.refunded", sp.charge(payment_intent="pi_not_ours", amount=100,
                                                amount_refunded=100))
    assert send(evt).get_json()["status"] == "ignored"


# Failures are kept and retried ------------------------------------------------------------------

def test_processing_error_answers_500_keeps_the_event_and_a_redelivery_applies_it(send):
    evt = sp.event("checkout.session.completed", sp.checkout_session())
    with failing_inserts("donations"):
        response = send(evt)
    assert response.status_code == 500
    failed = stored(evt["id"])
    assert failed.status == "failed" and failed.attempts == 1
    assert "injected failure" in failed.last_error
    assert count(Donation) == 0
    assert count(Donor) == 0  # the whole transaction rolled back: nothing half-written
    response = send(evt)
    assert response.status_code == 200
    assert count(Donation) == 1
    assert stored(evt["id"]).attempts == 2


def test_a_failure_keeping_campaign_totals_records_nothing_until_the_retry(app, client, send):
    make_campaign("20th-anniversary")
    evt = sp.event("checkout.session.completed", sp.checkout_session(
        amount=5000, metadata={**sp.DONATION, "campaign": "20th-anniversary"}))
    with failing_inserts("campaign_supporters"):
        assert send(evt).status_code == 500
    assert count(Donation) == 0
    assert client.get("/campaigns/20th-anniversary/progress.json").get_json()[
        "raised_cents"] == 0
    assert send(evt).status_code == 200
    assert client.get("/campaigns/20th-anniversary/progress.json").get_json()[
        "raised_cents"] == 5000


def test_failed_event_is_replayed_from_the_stored_payload(app, send):
    from membership.payments.webhook import replay_event

    evt = sp.event("checkout.session.completed", sp.checkout_session())
    with failing_inserts("donations"):
        send(evt)
    with app.test_request_context():
        assert replay_event(evt["id"]).http_status == 200
        assert replay_event("evt_unknown").http_status == 404
    assert stored(evt["id"]).status == "processed"
    assert count(Donation) == 1


def test_a_customer_whose_email_changed_at_stripe_stays_the_same_donor(send):
    first = sp.checkout_session(customer="cus_moving", email="old@example.org")
    second = sp.checkout_session(customer="cus_moving", email="new@example.org")
    send(sp.event("checkout.session.completed", first))
    assert send(sp.event("checkout.session.completed", second)).status_code == 200
    assert count(Donor) == 1
    assert {d.donor.email for d in donations()} == {"old@example.org"}


def test_subscription_event_first_with_stripe_unreachable_keeps_the_gift_until_its_donor_is_known(
        send, fake_stripe):
    customer, sub_id = sp.fresh_id("cus"), sp.fresh_id("sub")
    fake_stripe.fail_next = 10  # the customer lookup cannot reach Stripe
    response = send(sp.event("customer.subscription.created",
                             sp.subscription(sub_id, customer=customer)))
    assert response.status_code == 200
    assert gift(sub_id).donor is None and gift(sub_id).status == "active"
    fake_stripe.fail_next = 0
    send(sp.event("invoice.paid", sp.invoice(subscription_id=sub_id, customer=customer,
                                             email="late@example.org",
                                             billing_reason="subscription_create")))
    assert gift(sub_id).donor.email == "late@example.org"
    assert [d.donor.email for d in donations()] == ["late@example.org"]


def test_subscription_checkout_without_a_subscription_is_ignored(send):
    session = sp.checkout_session(mode="subscription", subscription=None,
                                  metadata=sp.MONTHLY)
    response = send(sp.event("checkout.session.completed", session))
    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert count(RecurringGift) == 0
