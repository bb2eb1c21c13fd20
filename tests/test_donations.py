"""The gift form, the sandbox checkout and the donor's giving page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from membership.donations.models import Checkout, Donation, Donor, RecurringGift
from membership.extensions import db
from membership.mail.services import render_message
from membership.payments.sandbox import settled_charge
from membership.types import utcnow
from tests.builders import last_link, make_campaign, outbox
from tests.conftest import Browserless

GUEST = {"email": "guest@example.org", "currency": "usd", "frequency": "once", "amount": "36"}


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def give(forms: Browserless, **fields):
    return forms.post("/donate", {**GUEST, **fields})


def pay(forms: Browserless, response, action: str = "pay"):
    """Follow the sandbox checkout page and press one of its buttons."""
    checkout_url = response.headers["Location"]
    return forms.post(checkout_url, {"action": action})


# The form --------------------------------------------------------------------------------------

def test_donate_page_preselects_from_the_query_string(client):
    make_campaign("20th-anniversary")
    page = client.get("/donate?amount=100&frequency=monthly&campaign=20th-anniversary")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'value="100"' in html
    assert re.search(r'value="monthly"[^>]*checked|checked[^>]*value="monthly"', html)
    assert 'name="campaign" value="20th-anniversary"' in html
    assert "Adds $3.30 to your gift." in html  # the exact fee, before submitting


def test_donate_page_shows_suggested_amounts_as_links_that_work_without_javascript(client):
    html = client.get("/donate").get_data(as_text=True)
    for amount in ("36", "100", "250"):
        assert f"/donate?amount={amount}&amp;frequency=once" in html
    assert "/donate?amount=18&amp;frequency=monthly" in html


def test_signed_in_reader_has_the_email_prefilled(client, forms, reader):
    forms.login("reader@example.org", "a sturdy passphrase")
    html = client.get("/donate").get_data(as_text=True)
    assert 'value="reader@example.org"' in html


def test_valid_gift_records_a_pending_checkout_and_redirects_303_to_the_gateway(forms):
    response = give(forms, amount=" 1,000.50 ", cover_fees="y", anonymous="y",
                    dedication="Grandma Leila", dedication_kind="memory",
                    dedication_message="She read every dispatch.", name="Omar")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/sandbox/checkout/cs_test_sbx_")
    checkout = db.session.scalar(select(Checkout))
    assert checkout.status == "pending"
    assert checkout.fee_cents == 3020 and checkout.amount_cents == 100050 + 3020
    assert checkout.anonymous and checkout.dedication_kind == "memory"
    assert checkout.dedication_name == "Grandma Leila"
    assert checkout.donor.email == "guest@example.org" and checkout.donor.name == "Omar"


@pytest.mark.parametrize(("fields", "message"), [
    ({"amount": ""}, "Please enter an amount."),
    ({"amount": "0"}, "more than zero"),
    ({"amount": "-10"}, "as a number"),
    ({"amount": "ten"}, "as a number"),
    ({"amount": "1e3"}, "as a number"),
    ({"amount": "10.555"}, "at most 2 decimals"),
    ({"amount": "0.99"}, "The smallest gift we can accept is $1."),
    ({"amount": "25000.01"}, "For gifts above $25,000"),
    ({"email": "not-an-address"}, "Invalid email address"),
    ({"email": ""}, "This field is required"),
    ({"frequency": "weekly"}, "Not a valid choice"),
    ({"currency": "eur"}, "Not a valid choice"),
    ({"campaign": "../../etc"}, "This campaign does not exist."),
    ({"website": "http://spam.example"}, "Please leave this field empty."),
])
def test_bad_gift_input_is_refused_next_to_the_field_and_nothing_is_recorded(
        forms, fields, message):
    response = give(forms, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(Checkout) == 0
    assert count(Donor) == 0


def test_zero_decimal_currency(app_with_currencies):
    forms = Browserless(app_with_currencies.test_client())
    response = forms.post("/donate", {**GUEST, "currency": "jpy", "amount": "5000"})
    assert response.status_code == 303
    checkout = db.session.scalar(select(Checkout))
    assert (checkout.amount_cents, checkout.currency) == (5000, "jpy")
    response = forms.post("/donate", {**GUEST, "currency": "jpy", "amount": "5000.5"})
    assert response.status_code == 422
    assert "JPY amounts have no decimals" in response.get_data(as_text=True)


@pytest.fixture
def app_with_currencies(app):
    app.config["DONATION_CURRENCIES"] = ["usd", "jpy"]
    return app


def test_gift_posts_are_rate_limited_per_address(app, forms):
    app.config["RATELIMIT_DONATE_PER_IP"] = "2 per minute"
    statuses = [give(forms).status_code for _ in range(3)]
    assert statuses == [303, 303, 429]


# The sandbox checkout ---------------------------------------------------------------------------

def test_sandbox_pay_confirms_the_gift(client, forms):
    response = give(forms, amount="36")
    thank_you = client.get(response.headers["Location"].replace("/sandbox/checkout/", "/x/"))
    assert thank_you.status_code == 404  # unknown pages stay unknown
    checkout = db.session.scalar(select(Checkout))
    processing = client.get(f"/donate/thank-you?gift={checkout.public_id}")
    assert "We are confirming your gift" in processing.get_data(as_text=True)
    # It looks again by itself (no meta refresh: axe's meta-refresh rule), or on a click.
    assert 'data-waiting="true"' in processing.get_data(as_text=True)
    assert "js/thank-you.js" in processing.get_data(as_text=True)
    assert ">Check again</a>" in processing.get_data(as_text=True)

    paid = pay(forms, response)
    assert paid.status_code == 302
    confirmed = client.get(paid.headers["Location"]).get_data(as_text=True)
    assert "Your gift of $36 is confirmed." in confirmed
    assert 'data-waiting="false"' in confirmed and "js/thank-you.js" not in confirmed
    [donation] = db.session.scalars(select(Donation)).all()
    assert (donation.amount_cents, donation.frequency, donation.status) == (3600, "once",
                                                                           "succeeded")
    assert [m.template for m in outbox("guest@example.org")] == ["donations/thank_you"]


def test_sandbox_decline_keeps_the_donor_on_the_payment_page(forms):
    declined = pay(forms, give(forms), action="decline")
    assert declined.status_code == 402
    assert "Your card was declined" in declined.get_data(as_text=True)
    assert count(Donation) == 0


def test_unknown_thank_you_page_is_404(client):
    assert client.get("/donate/thank-you?gift=nope").status_code == 404


# The giving page -------------------------------------------------------------------------------

def test_guest_gifts_appear_once_the_reader_verifies_that_address(client, forms):
    pay(forms, give(forms, email="Layla@Example.org"))
    forms.post("/account/signup", {"email": "layla@example.org",
                                   "password": "olive trees in the spring"})
    assert "No gifts yet" in client.get("/account/giving").get_data(as_text=True)
    client.get(last_link("layla@example.org"))
    page = client.get("/account/giving").get_data(as_text=True)
    assert "$36" in page and ">paid<" in page


def test_receipts_are_visible_to_their_donor_only(app, client, forms, reader):
    pay(forms, give(forms, email="reader@example.org", amount="50"))
    donation = db.session.scalar(select(Donation))
    forms.login("reader@example.org", "a sturdy passphrase")
    receipt = client.get(f"/account/giving/{donation.id}/receipt")
    html = receipt.get_data(as_text=True)
    assert receipt.status_code == 200
    assert "No goods or services were provided" in html
    assert app.config["ORGANIZATION_TAX_ID"] in html and donation.stripe_id in html

    other = app.test_client()
    Browserless(other).post("/account/signup", {"email": "other@example.org",
                                                "password": "someone else entirely"})
    assert other.get(f"/account/giving/{donation.id}/receipt").status_code == 404
    assert other.get(f"/account/giving/{donation.id + 1}/receipt").status_code == 404


def test_receipt_link_in_the_thank_you_mail_works_without_logging_in(app, forms):
    pay(forms, give(forms))
    anonymous = app.test_client()
    assert anonymous.get(last_link("guest@example.org")).status_code == 200
    assert anonymous.get("/donate/receipt/forged-token").status_code == 404


def test_yearly_statement_totals_net_of_refunds(client, forms, reader):
    from membership.donations.charges import apply_charge_state
    from membership.types import utcnow

    for amount in ("50", "25"):
        pay(forms, give(forms, email="reader@example.org", amount=amount))
    first = db.session.scalars(select(Donation).order_by(Donation.id)).first()
    apply_charge_state("ch_refund", first.stripe_payment_intent_id, utcnow(),
                       amount_refunded=1000)
    db.session.commit()
    forms.login("reader@example.org", "a sturdy passphrase")
    year = first.created_at.year
    html = client.get(f"/account/giving/statement/{year}").get_data(as_text=True)
    assert "$65" in html  # 50 + 25 - 10 refunded
    assert client.get(f"/account/giving/statement/{year - 5}").status_code == 404


# Recurring gifts in the sandbox -----------------------------------------------------------------

@pytest.fixture
def monthly_reader(forms, reader):
    pay(forms, give(forms, email="reader@example.org", amount="18", frequency="monthly",
                    cover_fees="y"), action="pay_then_fail")
    forms.login("reader@example.org", "a sturdy passphrase")
    db.session.rollback()
    return db.session.scalar(select(RecurringGift))


def test_pay_then_fail_renewal_leaves_the_gift_past_due(client, monthly_reader):
    assert monthly_reader.status == "past_due"
    assert monthly_reader.amount_cents == 1885 and monthly_reader.fee_cents == 85
    page = client.get("/account/giving").get_data(as_text=True)
    assert "payment failed, retrying" in page and "update your card" in page
    # Issue 15: the retried charge is told of, and no "next gift" a period away.
    assert "will be tried again over the next few days" in page
    assert "Next gift:" not in page
    assert [m.template for m in outbox("reader@example.org")] == [
        "donations/thank_you", "donations/payment_failed"]


def test_updating_the_card_recovers_a_past_due_gift(client, forms, monthly_reader):
    response = forms.post(f"/account/giving/recurring/{monthly_reader.id}/card",
                          page="/account/giving")
    assert response.status_code == 303
    forms.post(response.headers["Location"], {"action": "update_card"})
    db.session.rollback()
    assert db.session.get(RecurringGift, monthly_reader.id).status == "active"
    assert count(Donation) == 2


def test_changing_the_amount_is_recorded_from_the_webhook(forms, monthly_reader):
    forms.post(f"/account/giving/recurring/{monthly_reader.id}/amount", {"amount": "25"},
               page="/account/giving")
    db.session.rollback()
    assert db.session.get(RecurringGift, monthly_reader.id).amount_cents == 2500


def test_canceling_stores_the_reason_and_ends_the_gift(client, forms, monthly_reader):
    forms.post(f"/account/giving/recurring/{monthly_reader.id}/cancel",
               {"reason": "Supporting another newsroom", "when": "now"}, page="/account/giving")
    db.session.rollback()
    gift = db.session.get(RecurringGift, monthly_reader.id)
    assert gift.status == "canceled" and gift.ended_at is not None
    assert gift.cancel_reason == "Supporting another newsroom"
    assert "Ended on" in client.get("/account/giving").get_data(as_text=True)


def test_a_cancellation_waits_for_the_end_of_the_paid_period_and_can_be_taken_back(
        client, forms, monthly_reader):
    gift = db.session.get(RecurringGift, monthly_reader.id)
    period_end = gift.current_period_end
    assert period_end is not None
    response = forms.post(f"/account/giving/recurring/{gift.id}/cancel",
                          {"reason": "Money is tight"}, page="/account/giving")
    assert response.status_code == 302
    db.session.rollback()
    gift = db.session.get(RecurringGift, monthly_reader.id)
    assert gift.status != "canceled" and gift.cancel_at_period_end
    assert gift.ends_at == period_end and gift.cancel_reason == "Money is tight"
    page = client.get("/account/giving").get_data(as_text=True)
    assert f"Ends on {period_end:%Y-%m-%d}" in page and "Keep my gift going" in page
    forms.post(f"/account/giving/recurring/{gift.id}/keep", page="/account/giving")
    db.session.rollback()
    gift = db.session.get(RecurringGift, monthly_reader.id)
    assert not gift.cancel_at_period_end and gift.ends_at is None


def test_a_pause_stops_collecting_until_it_ends_or_is_resumed(client, forms, monthly_reader):
    gift_id = monthly_reader.id
    forms.post(f"/account/giving/recurring/{gift_id}/pause", {"months": "2"},
               page="/account/giving")
    db.session.rollback()
    gift = db.session.get(RecurringGift, gift_id)
    assert gift.collection_paused and not gift.is_collecting
    # Two monthly payments are skipped: the pause ends a day after the second was due.
    assert timedelta(days=28) < gift.collection_resumes_at - gift.current_period_end <= (
        timedelta(days=32))
    page = client.get("/account/giving").get_data(as_text=True)
    assert f"no gift is taken until {gift.collection_resumes_at:%Y-%m-%d}" in page
    assert "Resume my gift now" in page
    forms.post(f"/account/giving/recurring/{gift_id}/resume", page="/account/giving")
    db.session.rollback()
    gift = db.session.get(RecurringGift, gift_id)
    assert not gift.collection_paused and gift.collection_resumes_at is None

    forms.post(f"/account/giving/recurring/{gift_id}/pause", {"months": "0"},
               page="/account/giving")
    db.session.rollback()
    gift = db.session.get(RecurringGift, gift_id)
    assert gift.collection_paused and gift.collection_resumes_at is None
    assert "until it resumes" in client.get("/account/giving").get_data(as_text=True)


def test_skipping_voids_only_the_next_payment(client, forms, monthly_reader):
    gift = db.session.get(RecurringGift, monthly_reader.id)
    due = gift.current_period_end
    forms.post(f"/account/giving/recurring/{gift.id}/skip", page="/account/giving")
    db.session.rollback()
    gift = db.session.get(RecurringGift, monthly_reader.id)
    assert gift.collection_paused and gift.collection_resumes_at == due + timedelta(days=1)


def test_a_pause_refuses_what_is_not_offered(client, forms, monthly_reader):
    forms.post(f"/account/giving/recurring/{monthly_reader.id}/pause", {"months": "99"},
               page="/account/giving")
    db.session.rollback()
    assert not db.session.get(RecurringGift, monthly_reader.id).collection_paused


def test_readers_cannot_manage_someone_elses_gift(app, monthly_reader):
    other = app.test_client()
    forms = Browserless(other)
    forms.post("/account/signup", {"email": "other@example.org",
                                   "password": "someone else entirely"})
    response = forms.post(f"/account/giving/recurring/{monthly_reader.id}/cancel",
                          {"reason": "x"}, page="/account")
    assert response.status_code == 404
    db.session.rollback()
    assert db.session.get(RecurringGift, monthly_reader.id).status == "past_due"


# Account deletion and data export ---------------------------------------------------------------

def test_deleting_the_account_keeps_anonymized_gifts(client, forms, reader):
    pay(forms, give(forms, email="reader@example.org", dedication="Aunt Mina"))
    forms.login("reader@example.org", "a sturdy passphrase")
    export = client.get("/account/export.json").get_json()
    assert export["gifts"][0]["amount_cents"] == 3600
    forms.post("/account/delete", {"password": "a sturdy passphrase", "confirm": "y"},
               page="/account")
    db.session.rollback()
    donation = db.session.scalar(select(Donation))
    assert donation.amount_cents == 3600
    assert donation.donor.email.endswith("@anonymized.invalid")
    assert donation.donor.user_id is None and donation.dedication_name is None


def test_deleting_the_account_cancels_a_sandbox_gift_and_says_so(client, forms, reader):
    pay(forms, give(forms, email="reader@example.org", amount="18", frequency="monthly"))
    forms.login("reader@example.org", "a sturdy passphrase")
    response = forms.post("/account/delete", {"password": "a sturdy passphrase",
                                              "confirm": "y"}, page="/account")
    assert response.status_code == 302
    db.session.rollback()
    gift = db.session.scalar(select(RecurringGift))
    assert gift.status == "canceled" and gift.cancel_reason == "The donor deleted their account."
    assert gift.donor.email.endswith("@anonymized.invalid")  # kept for the reports
    [goodbye] = [m for m in outbox("reader@example.org")
                 if m.template == "accounts/account_deleted"]
    assert "cancelled: nothing more will be charged" in render_message(goodbye).text_body


def test_the_anonymous_gift_form_is_served_from_cache_with_each_visitors_own_token(app):
    first, second = app.test_client(), app.test_client()
    pages = [client.get("/donate?amount=36").get_data(as_text=True) for client in (first, second)]
    tokens = [re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
              for page in pages]
    assert tokens[0] != tokens[1]
    assert pages[0].replace(tokens[0], "") == pages[1].replace(tokens[1], "")
    for client, token in zip((first, second), tokens, strict=True):
        response = client.post("/donate", data={**GUEST, "csrf_token": token})
        assert response.status_code == 303


def test_a_signed_in_reader_never_gets_the_cached_form(client, forms, reader):
    client.get("/donate")  # an anonymous render fills the cache
    forms.login("reader@example.org", "a sturdy passphrase")
    assert 'value="reader@example.org"' in client.get("/donate").get_data(as_text=True)


def test_a_reader_remembered_by_cookie_never_gets_the_cached_form(app, forms, reader):
    app.test_client().get("/donate")  # an anonymous render fills the cache
    forms.login("reader@example.org", "a sturdy passphrase", remember="y")
    with forms.client.session_transaction() as session:
        session.clear()  # the browser session ended; the remember-me cookie stays
    html = forms.client.get("/donate").get_data(as_text=True)
    assert 'value="reader@example.org"' in html


# The sandbox plays Stripe's stream -------------------------------------------------------------

@pytest.mark.parametrize(("action", "recorded", "status"), [
    ("debit_paid", 1, "paid"), ("debit_failed", 0, "failed"), ("expire", 0, "expired"),
])
def test_the_sandbox_checkout_plays_bank_debits_and_expiry(forms, action, recorded, status):
    response = pay(forms, give(forms), action=action)
    assert response.status_code == 302
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Donation)) == recorded
    assert db.session.scalar(select(Checkout)).status == status


@pytest.mark.parametrize(("action", "status", "refunded"), [
    ("refund", "refunded", 3600), ("refund_fails", "succeeded", 0),
    ("dispute_lost", "reversed", 0), ("dispute_won", "succeeded", 0),
])
def test_the_sandbox_plays_refunds_and_disputes_of_a_gift(forms, reader, action, status,
                                                           refunded):
    pay(forms, give(forms, email="reader@example.org"))
    forms.login("reader@example.org", "a sturdy passphrase")
    db.session.rollback()
    donation = db.session.scalar(select(Donation))
    page = forms.client.get("/account/giving").get_data(as_text=True)
    assert f"/sandbox/donations/{donation.id}/{action}" in page
    forms.post(f"/sandbox/donations/{donation.id}/{action}", page="/account/giving")
    db.session.rollback()
    donation = db.session.scalar(select(Donation))
    assert (donation.status, donation.refunded_cents) == (status, refunded)


@pytest.mark.parametrize(("action", "status", "mail"), [
    ("renewal_paid", "active", None), ("renewal_fails", "past_due", "donations/payment_failed"),
    ("renewal_needs_authentication", "past_due", "donations/confirm_payment"),
])
def test_the_sandbox_plays_a_renewal(forms, reader, action, status, mail):
    pay(forms, give(forms, email="reader@example.org", amount="18", frequency="monthly"))
    forms.login("reader@example.org", "a sturdy passphrase")
    db.session.rollback()
    gift = db.session.scalar(select(RecurringGift))
    forms.post(f"/sandbox/gifts/{gift.id}/{action}", page="/account/giving")
    db.session.rollback()
    assert db.session.get(RecurringGift, gift.id).status == status
    templates = [m.template for m in outbox("reader@example.org")]
    assert templates.count("donations/thank_you") == (2 if action == "renewal_paid" else 1)
    if mail:
        assert mail in templates


def test_the_sandbox_plays_nothing_on_someone_elses_gift(forms, reader):
    pay(forms, give(forms, email="someone@example.org"))
    forms.login("reader@example.org", "a sturdy passphrase")
    db.session.rollback()
    donation = db.session.scalar(select(Donation))
    response = forms.post(f"/sandbox/donations/{donation.id}/refund", page="/account/giving")
    assert response.status_code == 404


def test_sandbox_payments_settle_in_the_account_currency_with_stripes_fee(app, forms):
    """The sandbox sends each payment's charge with its balance transaction, as Stripe's
    would read: settled in the account's currency, less 2.9% + 30¢; a euro gift at the
    sandbox's rate."""
    pay(forms, give(forms, amount="50"))
    pay(forms, give(forms, amount="18", frequency="monthly"))
    db.session.rollback()
    settled = sorted((donation.settled_currency, donation.settled_amount_cents,
                      donation.settled_fee_cents) for donation in db.session.scalars(
                          select(Donation)))
    assert settled == [("usd", 1800, 82), ("usd", 5000, 175)]
    euros = settled_charge("pi_sbx", 5000, "eur", 0)["balance_transaction"]
    assert (euros["currency"], euros["amount"], euros["fee"]) == ("usd", 5400, 187)


def test_the_sandbox_checkout_leads_back_and_names_the_campaign(client, forms):
    """Issue 15: like Stripe Checkout, a way back to the gift form as filled in, and the
    campaign by its title, not its slug; a back link to another site is not offered."""
    make_campaign("20th-anniversary", title="Twenty years")
    response = give(forms, amount="36", campaign="20th-anniversary")
    checkout_url = response.headers["Location"]
    page = client.get(checkout_url).get_data(as_text=True)
    assert "Twenty years" in page and "· 20th-anniversary" not in page
    back = re.search(r'<a href="([^"]+)">← Back to the gift form', page).group(1)
    assert back.startswith("/donate?") and "amount=36" in back
    assert client.get(back.replace("&amp;", "&")).status_code == 200
    elsewhere = client.get(checkout_url.split("?")[0] + "?back=https://evil.example/")
    assert "Back to the gift form" not in elsewhere.get_data(as_text=True)


def test_the_gift_form_shows_money_one_way(client):
    """Issue 15: amount buttons with their currency, no grey "36" that looks typed, and the
    fee hint in the same format as every other amount."""
    page = client.get("/donate").get_data(as_text=True)
    assert ">$36</a>" in page and ">$100</a>" in page
    assert 'placeholder="36"' not in page
    assert "Adds 2.9% + $0.30, what the card network and Stripe charge us." in page
    assert 'data-template="Adds {fee} to your gift."' in page
    assert " USD" not in page


def test_the_gift_form_says_a_campaign_has_ended_before_anything_is_typed(client, forms):
    """Issue 15: not "counts toward" and then a refusal on submit: the form says the
    campaign ended, the gift goes to the reporting, and submitting it works."""
    now = utcnow()
    make_campaign("over", title="Last spring", starts_at=now - timedelta(days=60),
                  ends_at=now - timedelta(days=30))
    page = client.get("/donate?campaign=over&amount=36").get_data(as_text=True)
    assert "The campaign “<bdi>Last spring</bdi>” has ended" in page
    assert "counts toward" not in page and 'name="campaign" value="over"' not in page
    assert 'href="/campaigns/"' in page
    response = forms.post("/donate?campaign=over&amount=36", {**GUEST, "amount": "36"},
                          page="/donate?campaign=over&amount=36")
    assert response.status_code == 303
    assert db.session.scalar(select(Checkout)).campaign is None
    make_campaign("soon", title="Next spring", starts_at=now + timedelta(days=3),
                  ends_at=now + timedelta(days=30))
    assert "The campaign “<bdi>Next spring</bdi>” opens on" in client.get(
        "/donate?campaign=soon").get_data(as_text=True)


def test_after_a_one_time_gift_the_thank_you_page_makes_it_monthly_in_one_click(client, forms):
    paid = pay(forms, give(forms, amount="50"))
    thank_you = client.get(paid.headers["Location"]).get_data(as_text=True)
    assert "Make it monthly?" in thank_you and ">$18 a month</button>" in thank_you
    one_time = db.session.scalar(select(Checkout))
    response = forms.post("/donate/thank-you/monthly", {"gift": one_time.public_id,
                                                         "amount": "18"},
                          page=paid.headers["Location"])
    assert response.status_code == 303 and "/sandbox/checkout/" in response.headers["Location"]
    monthly = db.session.scalar(select(Checkout).where(Checkout.id != one_time.id))
    assert (monthly.frequency, monthly.amount_cents, monthly.donor_id) == (
        "monthly", 1800, one_time.donor_id)
    # Not for a gift that is not a paid one-time gift, nor for a made-up one.
    for gift in (monthly.public_id, "nonsense", ""):
        assert forms.post("/donate/thank-you/monthly", {"gift": gift, "amount": "18"},
                          page=paid.headers["Location"]).status_code == 404
    bad = forms.post("/donate/thank-you/monthly", {"gift": one_time.public_id,
                                                    "amount": "0"}, page=paid.headers["Location"])
    assert bad.status_code == 302
    assert db.session.query(Checkout).count() == 2


def test_a_pause_of_months_skips_as_many_monthly_payments():
    from types import SimpleNamespace

    from membership.donations.giving import pause_ends

    now = datetime(2027, 1, 10, 9, tzinfo=UTC)
    monthly = SimpleNamespace(frequency="monthly",
                              current_period_end=datetime(2027, 1, 31, 10, tzinfo=UTC))
    assert [pause_ends(n, monthly, now) for n in (1, 2, 3)] == [
        datetime(2027, 2, 1, 10, tzinfo=UTC),   # the January 31st payment is skipped
        datetime(2027, 3, 1, 10, tzinfo=UTC),   # and February's (28th, its last day)
        datetime(2027, 4, 1, 10, tzinfo=UTC)]   # and March's 31st
    assert pause_ends(0, monthly, now) is None  # until resumed
    yearly = SimpleNamespace(frequency="yearly", current_period_end=None)
    assert pause_ends(1, yearly, datetime(2027, 1, 31, tzinfo=UTC)) == datetime(
        2027, 2, 28, tzinfo=UTC)


def test_switching_to_yearly_starts_when_the_paid_month_ends(client, forms, monthly_reader):
    gift = db.session.get(RecurringGift, monthly_reader.id)
    forms.post(f"/account/giving/recurring/{gift.id}/resume", page="/account/giving")
    page = client.get("/account/giving").get_data(as_text=True)
    assert "Give yearly instead" in page and 'value="226.20"' in page  # 12 x $18.85
    forms.post(f"/account/giving/recurring/{gift.id}/switch", {"amount": "200"},
               page="/account/giving")
    db.session.rollback()
    switched = db.session.get(RecurringGift, gift.id)
    assert (switched.frequency, switched.amount_cents) == ("yearly", 20000)
    assert switched.monthly_cents == 1667  # the reports' MRR: a twelfth, rounded
    assert switched.is_collecting
    refused = forms.post(f"/account/giving/recurring/{gift.id}/switch", {"amount": "0"},
                         page="/account/giving")
    assert refused.status_code == 302
    db.session.rollback()
    assert db.session.get(RecurringGift, gift.id).amount_cents == 20000
