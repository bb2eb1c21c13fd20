"""Money in one currency (issue 14): each charge's balance transaction (what a gift came to
in the account's settlement currency, and Stripe's fee), from the webhook or a backfill,
and the summary's gross, fees and net in that currency."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from membership.donations.charges import Settlement, apply_charge_state
from membership.donations.models import Donation
from membership.donations.recording import Payment
from membership.extensions import db
from membership.reports.kept import settled_totals_from_donations
from membership.reports.models import SettledDailyTotal
from membership.reports.summary import settled_totals, summary
from membership.reports.windows import Window
from membership.types import utcnow
from tests import stripe_payloads as sp
from tests.builders import give, refund_or_dispute, settle
from tests.stripe_payloads import fresh_id

EMAIL = "donor@example.org"


@pytest.fixture
def app_overrides(stripe_settings):
    return stripe_settings


def only_donation() -> Donation:
    db.session.rollback()
    [donation] = db.session.scalars(select(Donation)).all()
    return donation


def settled_charge(payment_intent: str, amount: int, settled: int, fee: int,
                   currency: str = "eur") -> dict:
    charge = sp.charge(payment_intent=payment_intent, amount=amount)
    charge.update(currency=currency, status="succeeded",
                  balance_transaction=sp.balance_transaction(amount=settled, fee=fee,
                                                             source=charge["id"]))
    return charge


def one_time_gift(send, payment_intent: str, amount: int = 5000, currency: str = "eur"):
    session = sp.checkout_session(amount=amount, currency=currency, email=EMAIL,
                                  payment_intent=payment_intent)
    assert send(sp.event("checkout.session.completed", session)).status_code == 200


def charge_event(charge: dict, event_type: str = "charge.succeeded") -> dict:
    """The event's copy names the balance transaction only by its id, as Stripe's do."""
    copy = {**charge, "balance_transaction": charge["balance_transaction"]["id"]}
    return sp.event(event_type, copy)


def test_a_charge_read_from_stripe_settles_its_donation(send, fake_stripe):
    one_time_gift(send, "pi_settle_1")
    charge = settled_charge("pi_settle_1", 5000, settled=5412, fee=187)
    fake_stripe.objects[charge["id"]] = charge
    response = send(charge_event(charge))
    assert response.status_code == 200 and response.get_json()["status"] == "processed"
    [read] = fake_stripe.calls("GET", f"/v1/charges/{charge['id']}")
    assert read.params.get("expand[0]") == "balance_transaction"
    donation = only_donation()
    assert (donation.settled_currency, donation.settled_amount_cents,
            donation.settled_fee_cents) == ("usd", 5412, 187)
    assert donation.stripe_charge_id == charge["id"]
    assert (donation.amount_cents, donation.currency) == (5000, "eur")  # as the donor gave


def test_a_charge_settled_before_its_payment_was_recorded_applies_when_it_is(send, fake_stripe):
    charge = settled_charge("pi_settle_2", 5000, settled=5412, fee=187)
    fake_stripe.objects[charge["id"]] = charge
    assert send(charge_event(charge)).get_json()["status"] == "ignored"  # no donation yet
    one_time_gift(send, "pi_settle_2")
    assert only_donation().settled_amount_cents == 5412


def test_a_balance_transaction_is_kept_as_first_reported(send, fake_stripe):
    one_time_gift(send, "pi_settle_3")
    charge = settled_charge("pi_settle_3", 5000, settled=5412, fee=187)
    fake_stripe.objects[charge["id"]] = charge
    send(charge_event(charge))
    later = {**charge, "balance_transaction": sp.balance_transaction(amount=1, fee=0)}
    fake_stripe.objects[charge["id"]] = later
    send(charge_event(later, "charge.updated"))
    assert only_donation().settled_amount_cents == 5412


def test_a_charge_stripe_has_not_settled_yet_changes_nothing(send, fake_stripe):
    one_time_gift(send, "pi_settle_4")
    charge = sp.charge(payment_intent="pi_settle_4", amount=5000)
    charge.update(status="succeeded", balance_transaction=None)
    fake_stripe.objects[charge["id"]] = charge
    assert send(sp.event("charge.succeeded", charge)).get_json()["status"] == "ignored"
    assert only_donation().settled_currency is None


@pytest.mark.parametrize("balance", [
    {"id": "txn_bad", "amount": -5, "fee": 0, "currency": "usd"},
    {"id": "txn_bad", "amount": "5412", "fee": 0, "currency": "usd"},
    {"id": "txn_bad", "amount": 5412, "fee": 0, "currency": "dollars"},
    {"id": "txn_bad", "amount": 10**20, "fee": 0, "currency": "usd"},
    {"amount": 5412, "fee": 0, "currency": "usd"},
])
def test_a_malformed_balance_transaction_is_refused_and_nothing_is_written(send, fake_stripe,
                                                                            balance):
    one_time_gift(send, "pi_settle_5")
    charge = sp.charge(payment_intent="pi_settle_5", amount=5000)
    charge.update(status="succeeded", balance_transaction={"object": "balance_transaction",
                                                           **balance})
    fake_stripe.objects[charge["id"]] = charge
    response = send(sp.event("charge.succeeded", charge))
    assert response.status_code == 400
    donation = only_donation()
    assert donation.settled_currency is None and donation.stripe_charge_id is None


def test_the_settlements_command_asks_stripe_for_older_gifts(app, send, fake_stripe,
                                                            flask_command):
    one_time_gift(send, "pi_settle_6")
    charge = settled_charge("pi_settle_6", 5000, settled=5412, fee=187)
    fake_stripe.objects["pi_settle_6"] = {"id": "pi_settle_6", "object": "payment_intent",
                                          "latest_charge": charge}
    result = flask_command("stripe", "settlements", STRIPE_API_BASE=fake_stripe.url)
    assert result.returncode == 0, result.stderr
    assert "settled: 1, not settled yet: 0, failed: 0" in result.stdout
    [read] = fake_stripe.calls("GET", "/v1/payment_intents/pi_settle_6")
    assert read.params.get("expand[0]") == "latest_charge.balance_transaction"
    donation = only_donation()
    assert (donation.settled_amount_cents, donation.settled_fee_cents) == (5412, 187)
    again = flask_command("stripe", "settlements", STRIPE_API_BASE=fake_stripe.url)
    assert "settled: 0, not settled yet: 0" in again.stdout  # nothing left to ask about
    assert len(fake_stripe.calls("GET", "/v1/payment_intents/pi_settle_6")) == 1


def test_the_settlements_command_stops_in_one_line_when_stripe_is_down(send, fake_stripe,
                                                                       flask_command):
    one_time_gift(send, "pi_settle_7")
    fake_stripe.fail_next = 100
    result = flask_command("stripe", "settlements", STRIPE_API_BASE=fake_stripe.url)
    assert result.returncode == 1
    assert "failed: 1" in result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith("Error: Stripe could not be read")
    assert only_donation().settled_currency is None


def _settled(payment: Payment, amount: int, fee: int, currency: str = "usd") -> Payment:
    """Stripe reports the payment's balance transaction, as the webhook would apply it."""
    apply_charge_state(payment.charge_id, payment.payment_intent_id, utcnow(),
                       settlement=Settlement(fresh_id("txn"), currency, amount, fee))
    return payment


def test_settled_totals_are_exact_on_a_hand_built_history(app):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    window = Window(start.date(), date(2026, 3, 31))
    _settled(give(5000, "a@example.org", currency="eur", at=start), 5412, 187)
    # Refunded in part: 2000 of 8000 back, so three quarters of 8660 kept.
    refunded = _settled(give(8000, "b@example.org", currency="eur",
                             at=start + timedelta(days=3)), 8660, 281)
    settle(refunded, refunded=2000)
    # A lost dispute keeps nothing of the settled amount; the fee stays Stripe's.
    disputed = _settled(give(3000, "c@example.org", at=start + timedelta(days=4)), 3000, 117)
    settle(disputed, dispute="lost")
    # The last microsecond of the window counts; the first of the next does not.
    _settled(give(1000, "d@example.org", at=datetime(2026, 4, 1, tzinfo=UTC)
                  - timedelta(microseconds=1)), 1000, 59)
    _settled(give(1000, "e@example.org", at=datetime(2026, 4, 1, tzinfo=UTC)), 1000, 59)
    give(2500, "f@example.org", at=start + timedelta(days=9))  # not settled yet
    db.session.commit()
    figures = settled_totals(window)
    assert figures == {"by_currency": [{
        "currency": "usd", "donations": 4,
        "gross_cents": 5412 + 8660 + 3000 + 1000,
        "fee_cents": 187 + 281 + 117 + 59,
        "net_cents": (5412 + 8660 * 6000 // 8000 + 0 + 1000) - (187 + 281 + 117 + 59),
    }], "unsettled_donations": 1}
    assert summary(window)["settled"] == figures


SETTLEMENT_STEP = st.one_of(
    st.tuples(st.just("give"), st.sampled_from([500, 3600, 8001]), st.integers(0, 3),
              st.sampled_from([None, "spring"]), st.sampled_from(["usd", "eur"])),
    st.tuples(st.just("settle"), st.integers(0, 20), st.integers(1, 9000),
              st.integers(0, 400), st.sampled_from(["usd", "gbp"])),
    st.tuples(st.just("refund"), st.integers(0, 20), st.sampled_from([0.3, 0.5, 1.0])),
    st.tuples(st.just("dispute"), st.integers(0, 20), st.sampled_from(["lost", "won"])),
)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(SETTLEMENT_STEP, min_size=1, max_size=20))
def test_settled_totals_always_equal_a_full_recount(app, steps):
    """Balance transactions before or after refunds and disputes, repeated, in two
    settlement currencies: the kept totals are the donations' own sums."""
    payments: list[Payment] = []
    for step in steps:
        if step[0] == "give":
            _, amount, day, campaign, currency = step
            payments.append(give(amount, campaign=campaign, currency=currency,
                                 at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
                                 + timedelta(days=day)))
        elif step[0] == "settle":
            if payments:
                _, index, amount, fee, currency = step
                _settled(payments[index % len(payments)], amount, fee, currency)
        else:
            refund_or_dispute(payments, step)
    db.session.commit()
    kept = {(row.day, row.currency, row.campaign):
            (row.donations, row.gross_cents, row.fee_cents, row.kept_cents)
            for row in db.session.scalars(select(SettledDailyTotal)) if row.donations}
    recounted = {tuple(row[:3]): tuple(row[3:])
                 for row in db.session.execute(settled_totals_from_donations())}
    assert kept == recounted


def test_a_renewal_known_by_its_invoice_alone_is_settled_and_learns_its_charge(
        send, fake_stripe, flask_command):
    """invoice → PaymentIntent (Stripe's Invoice Payments) → its latest charge, expanded."""
    from membership.donations.recording import Payment
    from membership.donations.recurring import record_recurring_payment
    from tests.builders import recurring

    gift = recurring(1800, "monthly", EMAIL, datetime(2026, 1, 1, tzinfo=UTC))
    paid = datetime(2026, 2, 1, tzinfo=UTC)
    record_recurring_payment(Payment(amount_cents=1800, currency="usd", paid_at=paid,
                                     email=EMAIL, frequency="monthly",
                                     invoice_id="in_settle_8"), gift, paid)
    db.session.commit()
    charge = settled_charge("pi_settle_8", 1800, settled=1800, fee=82, currency="usd")
    fake_stripe.invoice_payments["in_settle_8"] = "pi_settle_8"
    fake_stripe.objects["pi_settle_8"] = {"id": "pi_settle_8", "object": "payment_intent",
                                          "latest_charge": charge}
    result = flask_command("stripe", "settlements", STRIPE_API_BASE=fake_stripe.url)
    assert "settled: 1, not settled yet: 0, failed: 0" in result.stdout, result.stderr
    donation = only_donation()
    assert (donation.stripe_charge_id, donation.settled_amount_cents) == (charge["id"], 1800)
    again = flask_command("stripe", "settlements", STRIPE_API_BASE=fake_stripe.url)
    assert "settled: 0, not settled yet: 0, failed: 0" in again.stdout


def test_a_charge_stripe_sends_unreadable_is_passed_over_not_a_stop(send, fake_stripe,
                                                                     flask_command):
    one_time_gift(send, "pi_settle_9")
    one_time_gift(send, "pi_settle_10")
    broken = settled_charge("pi_settle_9", 5000, settled=5412, fee=187)
    broken["balance_transaction"]["amount"] = "a lot"
    fake_stripe.objects["pi_settle_9"] = {"id": "pi_settle_9", "latest_charge": broken}
    fake_stripe.objects["pi_settle_10"] = {"id": "pi_settle_10", "latest_charge": settled_charge(
        "pi_settle_10", 5000, settled=5412, fee=187)}
    result = flask_command("stripe", "settlements", STRIPE_API_BASE=fake_stripe.url)
    assert result.returncode == 1
    assert "settled: 1, not settled yet: 0, failed: 1" in result.stdout
    assert "could not be read" in result.stderr.strip().splitlines()[-1]
