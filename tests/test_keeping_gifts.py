"""What keeps a recurring gift going (issue 17): the card it is paid with, shown to the
donor and a reminder before it expires; the mails that follow Stripe's retries of a failed
renewal, withdrawn once it is paid. Against the Stripe double at the HTTP boundary."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from membership.donations.giving import manage_link
from membership.donations.models import Donation, RecurringGift
from membership.extensions import db
from membership.mail.models import MailStatus, OutboxMessage
from membership.reports.summary import summary
from membership.reports.windows import Window
from tests import stripe_payloads as sp
from tests.builders import outbox
from tests.conftest import SITE_URL
from tests.test_stripe_stream import EMAIL, gift, started_gift

DUNNING = ("donations/payment_failed", "donations/last_attempt", "donations/gift_ended",
           "donations/confirm_payment")


@pytest.fixture
def app_overrides(stripe_settings):
    return stripe_settings


def gift_page(client, sub_id: str) -> str:
    path = urlsplit(manage_link(gift(sub_id))).path
    return " ".join(client.get(path).get_data(as_text=True).split())


def with_card(sub: dict, method: dict | str) -> dict:
    return {**sub, "default_payment_method": method}


def dunning_mails() -> list[OutboxMessage]:
    db.session.rollback()
    return [m for m in outbox(EMAIL) if m.template in DUNNING]


# The card ------------------------------------------------------------------------------------

def test_the_gift_shows_the_card_stripe_charges(send, fake_stripe, client):
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    method = sp.payment_method(brand="mastercard", last4="4444", exp_month=3, exp_year=2031)
    # Stripe's event names the card by id; read from Stripe, it comes expanded.
    fake_stripe.objects[sub_id] = with_card(sp.subscription(sub_id, customer=customer), method)
    send(sp.event("customer.subscription.updated",
                  with_card(sp.subscription(sub_id, customer=customer), method["id"])))
    assert fake_stripe.calls("GET", f"/v1/subscriptions/{sub_id}")[-1].params == {
        "expand[0]": "default_payment_method"}
    kept = gift(sub_id)
    assert (kept.stripe_payment_method_id, kept.card_brand, kept.card_last4,
            kept.card_exp_month, kept.card_exp_year) == (method["id"], "mastercard", "4444", 3,
                                                        2031)
    page = gift_page(client, sub_id)
    assert ("Paid with <bdi>Mastercard</bdi> ending in <bdi>4444</bdi>, expires "
            "<bdi>03/2031</bdi>") in page
    assert f"Next gift: $18 on {kept.current_period_end:%Y-%m-%d}" in page


def test_a_card_the_bank_renews_shows_its_new_expiry_in_any_order(send, fake_stripe, client):
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    method = sp.payment_method(exp_month=1, exp_year=2027, customer=customer)
    renewed = {**method, "card": {**method["card"], "exp_month": 1, "exp_year": 2031}}
    # The card updater's event, then (a second older) the subscription naming the card:
    # Stripe could not be read, so the event's own copy (an id only) is all there is.
    now = int(time.time())
    assert send(sp.event("payment_method.automatically_updated", renewed, now)
                ).status_code == 200  # no gift has the card yet: stored and ignored
    send(sp.event("customer.subscription.updated",
                  with_card(sp.subscription(sub_id, customer=customer), method["id"]), now - 1))
    assert gift(sub_id).stripe_payment_method_id == method["id"]
    send(sp.event("payment_method.automatically_updated", renewed, now))
    assert (gift(sub_id).card_exp_month, gift(sub_id).card_exp_year) == (1, 2031)
    # An older copy of the card arriving late changes nothing.
    send(sp.event("payment_method.updated", method, now - 5))
    assert gift(sub_id).card_exp_year == 2031


@pytest.mark.parametrize("card", [{"last4": "42x2"}, {"exp_month": 13}, {"exp_year": 10**12},
                                  {"exp_month": "12"}, {"last4": "\x004242"}])
def test_a_malformed_card_is_refused_with_a_reason(send, fake_stripe, card):
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    method = sp.payment_method()
    method["card"].update(card)
    response = send(sp.event("customer.subscription.updated",
                             with_card(sp.subscription(sub_id, customer=customer), method)))
    assert response.status_code == 400
    assert gift(sub_id).card_last4 is None


# The reminder before a card expires ----------------------------------------------------------

def month_after(months: int) -> tuple[int, int]:
    """The year and month `months` after this one."""
    today = datetime.now(UTC)
    year, month = divmod(today.year * 12 + today.month - 1 + months, 12)
    return year, month + 1


def card_expiring(send, fake_stripe, months_from_now: int, **subscription) -> str:
    """A monthly gift whose card expires at the end of the month `months_from_now`."""
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    year, month = month_after(months_from_now)
    method = sp.payment_method(exp_month=month, exp_year=year)
    fake_stripe.objects[sub_id] = with_card(
        sp.subscription(sub_id, customer=customer, **subscription), method)
    send(sp.event("customer.subscription.updated",
                  with_card(sp.subscription(sub_id, customer=customer), method["id"])))
    return sub_id


def test_a_donor_hears_once_before_their_card_expires(app, send, fake_stripe, flask_command):
    sub_id = card_expiring(send, fake_stripe, 1)  # good through next month
    card_expiring(send, fake_stripe, 3)
    # Run as the day 31 days before the card's month is over: too early.
    expires = date(*month_after(2), 1)
    early = flask_command("donations", "card-reminders", "--date",
                          (expires - timedelta(days=31)).isoformat())
    assert early.returncode == 0, early.stderr
    assert "0 card expiry reminders queued." in early.stdout
    day = (expires - timedelta(days=30)).isoformat()
    assert "1 card expiry reminders queued." in flask_command(
        "donations", "card-reminders", "--date", day).stdout
    again = flask_command("donations", "card-reminders", "--date", day)
    assert "0 card expiry reminders queued." in again.stdout
    [mail] = [m for m in outbox(EMAIL) if m.template == "donations/card_expiring"]
    assert mail.context["last4"] == "4242" and mail.context["brand"] == "Visa"
    assert mail.context["link"].startswith(f"{SITE_URL}/giving/manage/")
    assert gift(sub_id).card_reminded_for.startswith(gift(sub_id).stripe_payment_method_id)


def test_no_reminder_for_a_gift_that_ends_before_its_card(send, fake_stripe, flask_command):
    card_expiring(send, fake_stripe, 1, cancel_at_period_end=True,
                  period_end=int(time.time()) + 86400)
    day = (date(*month_after(2), 1) - timedelta(days=5)).isoformat()
    assert "0 card expiry reminders" in flask_command("donations", "card-reminders", "--date",
                                                      day).stdout


def test_a_card_expiring_before_the_next_gift_is_flagged_on_its_page(send, fake_stripe,
                                                                        client):
    sub_id = card_expiring(send, fake_stripe, -1)  # expired last month
    assert "This card expires before your next gift" in gift_page(client, sub_id)


# Failed payments: the mails follow Stripe's retries ------------------------------------------

def failed_try(send, sub_id: str, customer: str, invoice_id: str, attempt: int, at: int,
               next_try: int | None):
    renewal = sp.invoice(subscription_id=sub_id, customer=customer, paid=False,
                         attempt_count=attempt, invoice_id=invoice_id)
    renewal["next_payment_attempt"] = next_try
    return send(sp.event("invoice.payment_failed", renewal, at))


def test_the_failure_mails_follow_the_retries_and_stop_when_paid(app, send):
    app.config["PAYMENT_RETRY_ATTEMPTS"] = 4
    start = int(time.time()) - 86400
    sub_id, customer = started_gift(send, start)
    invoice_id = sp.fresh_id("in")
    day = 86400
    failed_try(send, sub_id, customer, invoice_id, 1, start + 60, start + 3 * day)
    [first] = dunning_mails()
    assert first.template == "donations/payment_failed"
    assert first.context["next_attempt"] == datetime.fromtimestamp(
        start + 3 * day, UTC).date().isoformat()
    failed_try(send, sub_id, customer, invoice_id, 2, start + 120, start + 5 * day)
    assert len(dunning_mails()) == 1  # a middle try: no mail
    failed_try(send, sub_id, customer, invoice_id, 3, start + 180, start + 7 * day)
    assert [m.template for m in dunning_mails()] == ["donations/payment_failed",
                                                    "donations/last_attempt"]
    # The same try again (Stripe's retry of the webhook, or its twin event) mails nothing.
    failed_try(send, sub_id, customer, invoice_id, 3, start + 180, start + 7 * day)
    assert len(dunning_mails()) == 2
    # The last try succeeds before the mails went out: they are withdrawn, none is sent.
    paid = {**sp.invoice(subscription_id=sub_id, customer=customer, invoice_id=invoice_id),
            "attempt_count": 4}
    send(sp.event("invoice.paid", paid, start + 240))
    assert {m.status for m in dunning_mails()} == {MailStatus.WITHDRAWN}
    assert gift(sub_id).status == "active"


def test_a_late_earlier_try_mails_nothing_after_a_later_one(app, send):
    app.config["PAYMENT_RETRY_ATTEMPTS"] = 4
    start = int(time.time()) - 86400
    sub_id, customer = started_gift(send, start)
    invoice_id = sp.fresh_id("in")
    failed_try(send, sub_id, customer, invoice_id, 3, start + 180, start + 7 * 86400)
    failed_try(send, sub_id, customer, invoice_id, 1, start + 60, start + 3 * 86400)
    assert [m.template for m in dunning_mails()] == ["donations/last_attempt"]


def test_a_gift_stripe_ends_for_failed_payments_is_told_once(send, fake_stripe):
    start = int(time.time()) - 86400
    sub_id, customer = started_gift(send, start)
    invoice_id = sp.fresh_id("in")
    failed_try(send, sub_id, customer, invoice_id, 1, start + 60, start + 3 * 86400)
    ended = sp.subscription(sub_id, customer=customer, status="canceled")
    ended["cancellation_details"] = {"comment": None, "feedback": None,
                                     "reason": "payment_failed"}
    fake_stripe.objects[sub_id] = ended
    deleted = sp.event("customer.subscription.deleted", ended, start + 600)
    send(deleted)
    send(deleted)  # delivered twice
    send(sp.event("customer.subscription.updated", ended, start + 601))
    mails = dunning_mails()
    assert [m.template for m in mails] == ["donations/payment_failed", "donations/gift_ended"]
    # The first failure's mail had not gone out: it is no longer true that a new card helps.
    assert mails[0].status == MailStatus.WITHDRAWN and mails[1].status == MailStatus.PENDING
    assert "/donate?" in mails[1].context["link"] and "frequency=monthly" in mails[1].context[
        "link"]


def test_a_gift_the_donor_cancels_gets_no_ended_mail(send, fake_stripe):
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    ended = sp.subscription(sub_id, customer=customer, status="canceled")
    ended["cancellation_details"] = {"comment": None, "feedback": None,
                                     "reason": "cancellation_requested"}
    fake_stripe.objects[sub_id] = ended
    send(sp.event("customer.subscription.deleted", ended))
    assert dunning_mails() == []
    assert db.session.scalar(select(RecurringGift.status)) == "canceled"


def test_the_gift_page_shows_when_stripe_tries_again(send, client):
    start = int(time.time()) - 3600
    sub_id, customer = started_gift(send, start)
    next_try = int((datetime.now(UTC) + timedelta(days=3)).timestamp())
    failed_try(send, sub_id, customer, sp.fresh_id("in"), 1, start + 60, next_try)
    page = gift_page(client, sub_id)
    assert "failed (try 1)</span> · next try on " + datetime.fromtimestamp(
        next_try, UTC).strftime("%Y-%m-%d") in page


# Pause, skip and switch in the reports, exactly -------------------------------------------

def report(days_back: int, days_to: int = 0) -> dict:
    """The summary of the UTC days from `days_back` days ago to `days_to` days ago."""
    db.session.rollback()
    today = datetime.now(UTC).date()
    return summary(Window(today - timedelta(days=days_back), today - timedelta(days=days_to)))


def paid_on(sub_id: str, customer: str, moment: int, amount: int, **fields) -> dict:
    invoice = sp.invoice(subscription_id=sub_id, customer=customer, amount=amount, **fields)
    invoice["status_transitions"] = {**invoice["status_transitions"], "paid_at": moment}
    return sp.event("invoice.paid", invoice, moment)


def stripe_now(send, fake_stripe, sub_id: str, **changes) -> None:
    """Stripe's subscription changes (its current object and the event saying so)."""
    current = {**fake_stripe.objects[sub_id], **changes}
    fake_stripe.objects[sub_id] = current
    send(sp.event("customer.subscription.updated", current))


def test_a_pause_and_a_skip_stop_collecting_until_resumed(send, fake_stripe):
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    fake_stripe.objects[sub_id] = sp.subscription(sub_id, customer=customer)
    figures = report(1)
    assert (figures["active_recurring_gifts"], figures["mrr_cents"]) == (1, 1800)
    resumes = int(time.time()) + 30 * 86400
    for pause in ({"behavior": "void", "resumes_at": resumes},  # paused for a month
                  {"behavior": "void", "resumes_at": None},  # until resumed
                  {"behavior": "void", "resumes_at": fake_stripe.objects[sub_id]["items"][
                      "data"][0]["current_period_end"] + 86400}):  # the next gift skipped
        stripe_now(send, fake_stripe, sub_id, pause_collection=pause)
        figures = report(1)
        # Not collecting, per the contract; what it paid still counts, once.
        assert (figures["active_recurring_gifts"], figures["mrr_cents"]) == (0, 0)
        assert (figures["gross_cents"], figures["recurring"]) == (
            1800, {"count": 1, "gross_cents": 1800})
        stripe_now(send, fake_stripe, sub_id, pause_collection=None)
        figures = report(1)
        assert (figures["active_recurring_gifts"], figures["mrr_cents"]) == (1, 1800)


def test_a_switch_counts_each_schedule_on_its_side_of_the_switch_date(send, fake_stripe):
    now = int(time.time())
    day = 86400
    sub_id, customer = sp.fresh_id("sub"), sp.fresh_id("cus")
    switch_date = now - 10 * day  # the end of the month paid for before switching
    monthly = sp.subscription(sub_id, customer=customer, period_end=switch_date)
    fake_stripe.objects[sub_id] = monthly
    send(sp.event("customer.subscription.created", monthly, now - 40 * day))
    send(paid_on(sub_id, customer, now - 40 * day, 1800, billing_reason="subscription_create"))
    # Switched to $200 a year: a trial until the paid month ends, then the yearly charge.
    yearly = sp.subscription(sub_id, customer=customer, status="trialing", amount=20000,
                             interval="year", period_end=switch_date)
    stripe_now(send, fake_stripe, sub_id, **yearly)
    assert (gift(sub_id).frequency, gift(sub_id).monthly_cents) == ("yearly", 1667)
    figures = report(1)
    assert (figures["active_recurring_gifts"], figures["mrr_cents"]) == (1, 1667)  # trialing
    send(paid_on(sub_id, customer, switch_date, 20000, metadata=sp.YEARLY))
    stripe_now(send, fake_stripe, sub_id, status="active")
    before, after, both = report(45, 15), report(12), report(45)
    assert (before["gross_cents"], before["recurring"]["count"]) == (1800, 1)
    assert (after["gross_cents"], after["recurring"]["count"]) == (20000, 1)
    assert (both["gross_cents"], both["donations"], both["donors"]) == (21800, 2, 1)
    assert (after["active_recurring_gifts"], after["mrr_cents"]) == (1, 1667)
    db.session.rollback()
    frequencies = db.session.scalars(select(Donation.frequency).order_by(Donation.created_at))
    assert list(frequencies) == ["monthly", "yearly"]


# What the review found ----------------------------------------------------------------------

def test_only_the_try_before_the_last_mails_one_last_try(app, send):
    app.config["PAYMENT_RETRY_ATTEMPTS"] = 4
    start = int(time.time()) - 86400
    sub_id, customer = started_gift(send, start)
    invoice_id = sp.fresh_id("in")
    # Stripe tries more often than the setting says: still one "last try" mail.
    for attempt in range(1, 7):
        failed_try(send, sub_id, customer, invoice_id, attempt, start + 60 * attempt,
                   start + 86400 * (attempt + 1))
    assert [m.template for m in dunning_mails()] == ["donations/payment_failed",
                                                    "donations/last_attempt"]


def test_paying_one_invoice_leaves_the_mail_about_another(send):
    start = int(time.time()) - 86400
    sub_id, customer = started_gift(send, start)
    older, failing = sp.fresh_id("in"), sp.fresh_id("in")
    failed_try(send, sub_id, customer, failing, 1, start + 600, start + 3 * 86400)
    # The older invoice's payment, delivered late (or replayed by staff).
    send(paid_on(sub_id, customer, start + 300, 1800, invoice_id=older))
    [mail] = dunning_mails()
    assert mail.status == MailStatus.PENDING and mail.about == f"invoice:{failing}"


def test_a_card_of_next_month_is_reminded_on_january_30(send, fake_stripe, flask_command):
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    method = sp.payment_method(exp_month=2, exp_year=2027)  # good through February 2027
    fake_stripe.objects[sub_id] = with_card(
        sp.subscription(sub_id, customer=customer, period_end=int(time.time()) + 86400 * 500),
        method)
    send(sp.event("customer.subscription.updated",
                  with_card(sp.subscription(sub_id, customer=customer), method["id"])))
    result = flask_command("donations", "card-reminders", "--date", "2027-01-30")
    assert "1 card expiry reminders queued." in result.stdout, result.stdout


def test_a_card_stripe_no_longer_names_is_no_longer_shown(send, fake_stripe, client):
    sub_id = card_expiring(send, fake_stripe, 1)
    assert gift(sub_id).card_last4 == "4242"
    stripe_now(send, fake_stripe, sub_id, default_payment_method=None)
    kept = gift(sub_id)
    assert (kept.stripe_payment_method_id, kept.card_last4) == (None, None)
    assert "Paid with" not in gift_page(client, sub_id)


def test_a_cancellation_taken_back_takes_its_reason_with_it(send, fake_stripe):
    sub_id, customer = started_gift(send, int(time.time()) - 3600)
    fake_stripe.objects[sub_id] = sp.subscription(sub_id, customer=customer)
    details = {"comment": None, "feedback": "too_expensive", "reason": None}
    stripe_now(send, fake_stripe, sub_id, cancel_at_period_end=True,
               cancellation_details=details)
    assert gift(sub_id).cancel_feedback == "too_expensive"
    stripe_now(send, fake_stripe, sub_id, cancel_at_period_end=False,
               cancellation_details={**details, "feedback": None})
    assert gift(sub_id).cancel_feedback is None
