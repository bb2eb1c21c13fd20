"""Property: whatever the order and however often Stripe delivers a scenario's events, the
final state equals the one of delivering each event once, in order."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from membership.donations.models import ChargeState, Donation, Donor, PaymentFailure, RecurringGift
from membership.extensions import db
from membership.mail.models import OutboxMessage
from tests import stripe_payloads as sp
from tests.builders import flaky_database
from tests.conftest import empty_database


@pytest.fixture
def app_overrides(stripe_settings):
    return stripe_settings


class Timeline:
    """Events of a scenario with strictly increasing `created` times."""

    def __init__(self):
        self.start = int(time.time()) - 10_000
        self.events: list[dict] = []

    def add(self, event_type: str, obj: dict, same_second: bool = False) -> None:
        """`same_second`: Stripe stamps it with the previous event's second (its times have
        one-second resolution), so either may be applied first."""
        created = (self.events[-1]["created"] if same_second and self.events
                   else self.start + len(self.events) * 7)
        self.events.append(sp.event(event_type, obj, created))


@st.composite
def one_time_gift(draw, timeline: Timeline, fake, n: int) -> bool:
    """A one-time gift's events; whether it was paid."""
    email = f"once{n}@example.org"
    amount = draw(st.sampled_from([1000, 3600, 25000]))
    # Paid at once by card, or by a bank debit that is paid (or fails) days later.
    payment = draw(st.sampled_from(["card", "debit_paid", "debit_failed"]))
    session = sp.checkout_session(amount=amount, email=email,
                                  payment_status="paid" if payment == "card" else "unpaid")
    timeline.add("checkout.session.completed", session)
    if payment == "debit_failed":
        timeline.add("checkout.session.async_payment_failed", session)
        return False
    if payment == "debit_paid":
        timeline.add("checkout.session.async_payment_succeeded",
                     {**session, "payment_status": "paid"})
    charge_id = sp.fresh_id("ch")
    pi = session["payment_intent"]
    for refunded in sorted(draw(st.lists(st.sampled_from([500, amount // 2, amount]),
                                         max_size=2, unique=True))):
        timeline.add("charge.refunded", sp.charge(payment_intent=pi, amount=amount,
                                                  amount_refunded=refunded,
                                                  charge_id=charge_id),
                     same_second=draw(st.booleans()))
        if draw(st.booleans()):  # that refund fails later: its amount comes back
            refund = {"id": sp.fresh_id("re"), "object": "refund", "charge": charge_id,
                      "payment_intent": pi, "amount": refunded, "currency": "usd",
                      "status": "failed"}
            timeline.add("refund.failed", refund)
            break
    outcome = draw(st.sampled_from([None, "won", "lost", "appealed", "appeal_won"]))
    if outcome:
        def dispute(status):
            return sp.dispute(charge_id=charge_id, payment_intent=pi, amount=amount,
                              status=status)

        timeline.add("charge.dispute.created", dispute("needs_response"))
        steps = {"won": ["won"], "lost": ["lost"],
                 "appealed": ["lost", "appeal_needs_response", "appeal_under_review"],
                 "appeal_won": ["lost", "appeal_under_review", "won"]}[outcome]
        for status in steps:
            timeline.add("charge.dispute.updated" if status.startswith("appeal")
                         else "charge.dispute.closed", dispute(status),
                         same_second=draw(st.booleans()))
    return True


@st.composite
def recurring_gift(draw, timeline: Timeline, fake, n: int) -> None:
    email = f"monthly{n}@example.org"
    customer, sub_id = sp.fresh_id("cus"), sp.fresh_id("sub")
    fake.customers[customer] = email
    yearly = draw(st.booleans())
    # A Payment Link's gift carries only `purpose`: its frequency comes from the billing.
    payment_link = draw(st.booleans())
    metadata = ({"purpose": "donation"} if payment_link
                else sp.YEARLY if yearly else sp.MONTHLY)
    interval = "year" if yearly else "month"
    period = (365 if yearly else 30) * 86400
    amount = draw(st.sampled_from([1000, 1800, 3600]))

    def sub(status="active", **changes):
        return sp.subscription(sub_id, customer=customer, status=status, metadata=metadata,
                               interval=interval, amount=changes.pop("amount", amount),
                               **changes)

    def inv(reason, paid=True, attempt=1, invoice_id=None):
        obj = sp.invoice(subscription_id=sub_id, customer=customer, amount=amount,
                         billing_reason=reason, paid=paid, metadata=metadata, email=email,
                         attempt_count=attempt, invoice_id=invoice_id)
        obj["lines"]["data"][0]["period"] = {"start": timeline.start,
                                             "end": timeline.start + period}
        fake.invoice_payments[obj["id"]] = f"pi_for_{obj['id']}"
        return obj

    # A checkout's events, often in one second as Stripe emits them.
    tied = draw(st.booleans())
    timeline.add("customer.subscription.created", sub("incomplete"))
    timeline.add("checkout.session.completed", sp.checkout_session(
        mode="subscription", subscription=sub_id, customer=customer, amount=amount,
        email=email, metadata=metadata), same_second=tied)
    timeline.add("invoice.paid", inv("subscription_create"), same_second=tied)
    timeline.add("customer.subscription.updated", sub(), same_second=tied)
    for _ in range(draw(st.integers(0, 2))):
        timeline.add("invoice.paid", inv("subscription_cycle"))
    if draw(st.booleans()):
        failed = inv("subscription_cycle", paid=False)
        if draw(st.booleans()):  # the bank wants the donor to confirm the payment
            timeline.add("invoice.payment_action_required",
                         {**failed, "hosted_invoice_url": "https://invoice.stripe.test/i/1"})
        timeline.add("invoice.payment_failed", failed)
        timeline.add("customer.subscription.updated", sub("past_due"))
        if draw(st.booleans()):
            timeline.add("invoice.paid", {**failed, "amount_paid": amount, "status": "paid",
                                          "attempt_count": 2})
            timeline.add("customer.subscription.updated", sub())
    pause = draw(st.sampled_from([None, "paused", "resumed"]))
    if pause:  # the donor paused collection (and perhaps resumed it)
        paused = sub()
        paused["pause_collection"] = {"behavior": "void", "resumes_at": None}
        timeline.add("customer.subscription.updated", paused)
        if pause == "resumed":
            timeline.add("customer.subscription.updated", sub())
    if draw(st.booleans()):
        amount = draw(st.sampled_from([2500, 5000]))
        timeline.add("customer.subscription.updated", sub(amount=amount))
    end = draw(st.sampled_from([None, "period_end", "cancel_at"]))
    if end == "period_end":  # the donor ends it at the period's end
        timeline.add("customer.subscription.updated",
                     sub(cancel_at_period_end=True, period_end=timeline.start + period))
    elif end == "cancel_at":  # an end on a chosen day
        scheduled = sub()
        scheduled["cancel_at"] = timeline.start + 3 * period
        timeline.add("customer.subscription.updated", scheduled)
    if draw(st.booleans()):
        timeline.add("customer.subscription.deleted", sub("canceled", comment="Budget"))


@st.composite
def deliveries(draw, fake):
    timeline = Timeline()
    paid = [draw(one_time_gift(timeline, fake, n)) for n in range(draw(st.integers(0, 2)))]
    for n in range(draw(st.integers(0 if any(paid) else 1, 2))):
        draw(recurring_gift(timeline, fake, n))
    in_order = list(timeline.events)
    shuffled = draw(st.permutations(in_order))
    repeats = draw(st.lists(st.sampled_from(in_order), max_size=6))
    for repeat in repeats:
        shuffled.insert(draw(st.integers(0, len(shuffled))), repeat)
    return in_order, shuffled


def deliver(client, app, events: list[dict]) -> None:
    """Deliver like Stripe: an event answered with an error comes again later."""
    pending = list(events)
    for _ in range(4):
        retry = []
        for evt in pending:
            status = sp.post_event(client, app, evt).status_code
            assert status != 400
            if status != 200:
                retry.append(evt)
        if not retry:
            return
        pending = retry
    raise AssertionError(f"events never applied: {[e['type'] for e in pending]}")


# "Your payment failed" and "confirm your payment" are news only while the renewal is
# unpaid: out of order, a failure whose retry already succeeded mails nobody.
FAILURE_MAILS = ("donations/payment_failed", "donations/confirm_payment")


def snapshot() -> dict:
    db.session.rollback()
    donations = db.session.scalars(select(Donation)).all()
    gifts = db.session.scalars(select(RecurringGift)).all()
    return {
        "donations": sorted(
            (d.stripe_checkout_session_id or "", d.stripe_invoice_id or "",
             d.stripe_payment_intent_id or "", d.amount_cents, d.refunded_cents, d.status,
             d.dispute_status or "", d.frequency, d.donor.email, d.created_at.isoformat(),
             d.recurring_gift.stripe_subscription_id if d.recurring_gift else "")
            for d in donations),
        "gifts": sorted(
            (g.stripe_subscription_id, g.status, g.amount_cents, g.frequency,
             g.cancel_at_period_end, str(g.cancel_at), g.collection_paused,
             str(g.current_period_end), str(g.ended_at),
             g.cancel_reason or "", g.started_at.isoformat(), g.donor.email)
            for g in gifts),
        "failures": sorted((f.stripe_invoice_id, f.attempt_count)
                           for f in db.session.scalars(select(PaymentFailure))),
        "donors": sorted((d.email, d.stripe_customer_id or "")
                         for d in db.session.scalars(select(Donor))),
        "mails": sorted(Counter((m.recipient, m.template) for m in
                                db.session.scalars(select(OutboxMessage))
                                if m.template not in FAILURE_MAILS).items()),
        "failure_mails": db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                           .where(OutboxMessage.template.in_(FAILURE_MAILS))),
        "charges": sorted((c.stripe_charge_id, c.amount_refunded, c.dispute_status or "")
                          for c in db.session.scalars(select(ChargeState))),
    }


def assert_same_state(reached: dict, expected: dict, in_order: list[dict],
                      delivered: list[dict]) -> None:
    """Name what differs, and the events, so that a failing draw can be read."""
    differing = {key: (reached[key], expected[key]) for key in expected
                 if reached[key] != expected[key]}
    if differing:
        def story(events):
            return [(e["type"], e["created"] - in_order[0]["created"],
                     e["data"]["object"].get("status")) for e in events]
        raise AssertionError(f"differs: {differing}\nin order: {story(in_order)}\n"
                             f"delivered: {story(delivered)}")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_order_and_repetition_reach_the_in_order_state(app, client, fake_stripe, data):
    in_order, shuffled = data.draw(deliveries(fake_stripe))
    try:
        deliver(client, app, in_order)
        expected = snapshot()
        empty_database()
        deliver(client, app, shuffled)
        reached = snapshot()
        # "Your payment failed" is news only when it arrives before the renewal is paid:
        # out of order, a failure whose retry already succeeded mails nobody.
        assert reached.pop("failure_mails") <= expected.pop("failure_mails")
        assert_same_state(reached, expected, in_order, shuffled)
        assert expected["donations"], "every scenario records at least one gift"
    finally:
        empty_database()


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), seed=st.integers(0, 10_000))
def test_failed_deliveries_redelivered_as_stripe_would_give_exact_totals(
        app, client, fake_stripe, data, seed):
    in_order, _ = data.draw(deliveries(fake_stripe))
    try:
        deliver(client, app, in_order)
        expected = snapshot()
        empty_database()
        with flaky_database(0.2, seed):
            failed = [evt for evt in in_order
                      if sp.post_event(client, app, evt).status_code != 200]
        # Stripe retries every event that did not get a 2xx, until it does.
        deliver(client, app, failed)
        reached = snapshot()
        assert reached.pop("failure_mails") <= expected.pop("failure_mails")
        assert_same_state(reached, expected, in_order, failed)
    finally:
        empty_database()
