"""The Stripe gateway through the real `stripe` library against a fake Stripe API on a
local port: the exact requests we send."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from membership.accounts.models import User
from membership.donations.models import Checkout, Donor, RecurringGift
from membership.extensions import db
from tests import stripe_payloads as sp
from tests.builders import make_campaign, make_user, outbox

GIFT = {"email": "donor@example.org", "currency": "usd", "frequency": "once", "amount": "36"}


@pytest.fixture
def app_overrides(stripe_settings):
    return stripe_settings


def test_one_time_gift_opens_a_payment_session_with_our_metadata(forms, fake_stripe):
    make_campaign("20th-anniversary")
    response = forms.post("/donate", {**GIFT, "campaign": "20th-anniversary",
                                      "cover_fees": "y"})
    assert response.status_code == 303
    assert response.headers["Location"] == "https://checkout.stripe.test/pay/cs_test_fake_1"
    [call] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    checkout = db.session.scalar(select(Checkout))
    assert checkout.stripe_session_id == "cs_test_fake_1"
    params = call.params
    assert params["mode"] == "payment"
    assert params["submit_type"] == "donate"
    assert params["line_items[0][quantity]"] == "1"
    assert params["line_items[0][price_data][currency]"] == "usd"
    assert params["line_items[0][price_data][unit_amount]"] == "3739"
    assert "recurring" not in "".join(params)
    for prefix in ("metadata", "payment_intent_data[metadata]"):
        assert params[f"{prefix}[purpose]"] == "donation"
        assert params[f"{prefix}[campaign]"] == "20th-anniversary"
        assert params[f"{prefix}[gift]"] == checkout.public_id
    assert params["customer_email"] == "donor@example.org"
    assert params["customer_creation"] == "always"
    assert params["client_reference_id"] == checkout.public_id
    assert params["success_url"] == (
        f"http://membership.test/donate/thank-you?gift={checkout.public_id}")
    assert params["cancel_url"].startswith("http://membership.test/donate?amount=36")
    assert call.headers["Idempotency-Key"] == f"checkout-{checkout.public_id}"
    assert call.headers["Authorization"] == "Bearer sk_test_fake"
    assert call.headers["Stripe-Version"] == "2026-10-28.endive"


def test_monthly_gift_opens_a_subscription_session(forms, fake_stripe):
    make_campaign("20th-anniversary")
    forms.post("/donate", {**GIFT, "frequency": "monthly", "amount": "18",
                           "campaign": "20th-anniversary"})
    params = fake_stripe.calls("POST", "/v1/checkout/sessions")[0].params
    assert params["mode"] == "subscription"
    assert params["line_items[0][price_data][recurring][interval]"] == "month"
    assert params["line_items[0][price_data][unit_amount]"] == "1800"
    assert params["subscription_data[metadata][purpose]"] == "donation"
    assert params["subscription_data[metadata][campaign]"] == "20th-anniversary"
    assert params["subscription_data[metadata][frequency]"] == "monthly"
    assert "payment_intent_data[metadata][purpose]" not in params
    assert "customer_creation" not in params


def test_yearly_gift_recurs_every_year(forms, fake_stripe):
    forms.post("/donate", {**GIFT, "frequency": "yearly", "amount": "250"})
    params = fake_stripe.calls("POST", "/v1/checkout/sessions")[0].params
    assert params["line_items[0][price_data][recurring][interval]"] == "year"


def test_a_known_donor_reuses_their_stripe_customer(forms, fake_stripe):
    db.session.add(Donor(email="donor@example.org", name="", stripe_customer_id="cus_known"))
    db.session.commit()
    forms.post("/donate", GIFT)
    params = fake_stripe.calls("POST", "/v1/checkout/sessions")[0].params
    assert params["customer"] == "cus_known"
    assert "customer_email" not in params


def test_a_network_failure_is_retried_with_the_same_idempotency_key(forms, fake_stripe):
    fake_stripe.fail_next = 1
    response = forms.post("/donate", GIFT)
    assert response.status_code == 303
    calls = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert len(calls) == 2
    assert calls[0].headers["Idempotency-Key"] == calls[1].headers["Idempotency-Key"]


def test_stripe_down_shows_an_error_and_keeps_the_pending_gift(forms, fake_stripe):
    fake_stripe.fail_next = 10
    response = forms.post("/donate", GIFT)
    assert response.status_code == 422
    assert "We could not open the payment page" in response.get_data(as_text=True)
    db.session.rollback()
    checkout = db.session.scalar(select(Checkout))
    assert checkout.status == "pending" and checkout.stripe_session_id is None


def test_an_invalid_form_sends_nothing_to_stripe(forms, fake_stripe):
    response = forms.post("/donate", {**GIFT, "amount": "1e3"})
    assert response.status_code == 422
    assert fake_stripe.requests == []


@pytest.fixture
def donor_with_gift(app, client, forms, fake_stripe):
    """A signed-in reader with an active monthly gift recorded from Stripe's events."""
    make_user("donor@example.org", "a sturdy passphrase")
    customer, sub_id = "cus_donor", "sub_donor"
    fake_stripe.objects[sub_id] = {**fake_stripe.subscription(sub_id), "customer": customer,
                                   "currency": "usd", "metadata": sp.MONTHLY}
    fake_stripe.objects[sub_id]["items"]["data"][0]["current_period_end"] = int(
        time.time()) + 30 * 86400
    sp.post_event(client, app, sp.event("checkout.session.completed", sp.checkout_session(
        mode="subscription", subscription=sub_id, customer=customer, amount=1800,
        metadata=sp.MONTHLY)))
    sp.post_event(client, app, sp.event("customer.subscription.updated",
                                        sp.subscription(sub_id, customer=customer)))
    forms.login("donor@example.org", "a sturdy passphrase")
    db.session.rollback()
    return db.session.scalar(select(RecurringGift))


def test_update_card_opens_the_customer_portal(forms, fake_stripe, donor_with_gift):
    response = forms.post(f"/account/giving/recurring/{donor_with_gift.id}/card",
                          page="/account/giving")
    assert response.status_code == 303
    assert response.headers["Location"] == "https://billing.stripe.test/session/bps_fake"
    params = fake_stripe.calls("POST", "/v1/billing_portal/sessions")[0].params
    assert params["customer"] == "cus_donor"
    assert params["flow_data[type]"] == "payment_method_update"
    assert params["return_url"] == "http://membership.test/account/giving"
    assert params["locale"] == "en"  # the reader's language, where Stripe has it


def test_change_amount_updates_the_subscription_item_without_proration(forms, fake_stripe,
                                                                       donor_with_gift):
    forms.post(f"/account/giving/recurring/{donor_with_gift.id}/amount", {"amount": "30"},
               page="/account/giving")
    [update] = fake_stripe.calls("POST", "/v1/subscriptions/sub_donor")
    assert update.params["items[0][id]"] == "si_fake"
    assert update.params["items[0][price_data][unit_amount]"] == "3000"
    assert update.params["items[0][price_data][product]"] == "prod_fake"
    assert update.params["items[0][price_data][recurring][interval]"] == "month"
    assert update.params["proration_behavior"] == "none"
    # Recorded when Stripe's webhook says so, not before.
    db.session.rollback()
    assert db.session.get(RecurringGift, donor_with_gift.id).amount_cents == 1800


def test_cancel_calls_stripe_and_stores_the_reason(forms, fake_stripe, donor_with_gift):
    forms.post(f"/account/giving/recurring/{donor_with_gift.id}/cancel",
               {"reason": "Money is tight", "feedback": "too_expensive", "when": "now"},
               page="/account/giving")
    [cancel] = fake_stripe.calls("DELETE", "/v1/subscriptions/sub_donor")
    assert cancel.params["cancellation_details[comment]"] == "Money is tight"
    assert cancel.params["cancellation_details[feedback]"] == "too_expensive"
    db.session.rollback()
    gift = db.session.get(RecurringGift, donor_with_gift.id)
    assert (gift.cancel_reason, gift.cancel_feedback) == ("Money is tight", "too_expensive")


def test_a_reason_not_offered_is_refused(forms, fake_stripe, donor_with_gift):
    page = forms.post(f"/account/giving/recurring/{donor_with_gift.id}/cancel",
                      {"feedback": "bored", "when": "now"}, page="/account/giving")
    assert page.status_code == 302
    assert fake_stripe.calls("DELETE", "/v1/subscriptions/sub_donor") == []


def test_the_reason_picked_in_stripes_dashboard_is_kept(send, fake_stripe, donor_with_gift):
    ended = {**fake_stripe.subscription("sub_donor", "canceled"), "metadata": {
        "purpose": "donation"}, "cancellation_details": {
            "comment": None, "feedback": "switched_service", "reason": "cancellation_requested"}}
    fake_stripe.objects["sub_donor"] = ended
    assert send(sp.event("customer.subscription.deleted", ended)).status_code == 200
    db.session.rollback()
    assert db.session.get(RecurringGift, donor_with_gift.id).cancel_feedback == "switched_service"


def test_a_cancellation_stripe_refuses_keeps_no_reason(forms, fake_stripe, donor_with_gift):
    fake_stripe.fail_next = 10  # more than the library's network retries
    forms.post(f"/account/giving/recurring/{donor_with_gift.id}/cancel",
               {"reason": "Money is tight", "when": "now"}, page="/account/giving")
    assert fake_stripe.calls("DELETE", "/v1/subscriptions/sub_donor")
    db.session.rollback()
    gift = db.session.get(RecurringGift, donor_with_gift.id)
    assert gift.cancel_reason is None and gift.status == "active"


def test_keeping_a_gift_the_stripe_way(forms, fake_stripe, donor_with_gift):
    """A cancellation at the paid period's end, taken back; a pause of two months, a skip
    and a resume: each one subscription update, applied when Stripe's webhook says so."""
    gift = donor_with_gift
    assert gift.current_period_end is not None
    for path, data in (("cancel", {"reason": "Money is tight"}), ("keep", {}),
                       ("pause", {"months": "2"}), ("skip", {}), ("resume", {}),
                       ("pause", {"months": "0"})):
        forms.post(f"/account/giving/recurring/{gift.id}/{path}", data, page="/account/giving")
    updates = [call.params for call in fake_stripe.calls("POST", "/v1/subscriptions/sub_donor")]
    assert fake_stripe.calls("DELETE", "/v1/subscriptions/sub_donor") == []
    assert updates[0]["cancel_at_period_end"] == "true"
    assert updates[0]["cancellation_details[comment]"] == "Money is tight"
    # Taken back with its reason: Stripe keeps no feedback for a gift that goes on.
    assert updates[1] == {"cancel_at_period_end": "false",
                          "cancellation_details[comment]": "",
                          "cancellation_details[feedback]": ""}
    assert updates[2]["pause_collection[behavior]"] == "void"
    two_months = int(updates[2]["pause_collection[resumes_at]"]) - time.time()
    assert 58 * 86400 < two_months < 63 * 86400
    assert int(updates[3]["pause_collection[resumes_at]"]) == int(
        gift.current_period_end.timestamp()) + 86400
    assert updates[4] == {"pause_collection": ""}
    assert updates[5] == {"pause_collection[behavior]": "void"}
    assert len(updates) == 6


def test_switching_to_yearly_bills_from_the_paid_periods_end(forms, fake_stripe,
                                                             donor_with_gift):
    period_end = fake_stripe.objects["sub_donor"]["items"]["data"][0]["current_period_end"]
    forms.post(f"/account/giving/recurring/{donor_with_gift.id}/switch", {"amount": "216"},
               page="/account/giving")
    [update] = fake_stripe.calls("POST", "/v1/subscriptions/sub_donor")
    assert update.params["items[0][price_data][recurring][interval]"] == "year"
    assert update.params["items[0][price_data][unit_amount]"] == "21600"
    assert update.params["proration_behavior"] == "none"
    assert update.params["trial_end"] == str(period_end)  # no charge before then


def test_deleting_the_account_cancels_the_gift_at_stripe_first(client, forms, fake_stripe,
                                                                donor_with_gift):
    response = forms.post("/account/delete", {"password": "a sturdy passphrase",
                                              "confirm": "y"}, page="/account")
    assert response.status_code == 302
    [cancel] = fake_stripe.calls("DELETE", "/v1/subscriptions/sub_donor")
    assert cancel.params["cancellation_details[comment]"] == "The donor deleted their account."
    db.session.rollback()
    assert db.session.scalar(select(User)) is None
    [goodbye] = outbox("donor@example.org")
    assert goodbye.template == "accounts/account_deleted"
    assert goodbye.context["stopped"] == [
        "Your recurring gift of $18 a month is cancelled: nothing more will be charged."]
    home = client.get("/").get_data(as_text=True)
    assert "Your recurring gift of $18 a month is cancelled" in home


def test_an_account_whose_gift_stripe_will_not_cancel_is_kept(forms, fake_stripe,
                                                              donor_with_gift):
    fake_stripe.fail_next = 10
    response = forms.post("/account/delete", {"password": "a sturdy passphrase",
                                              "confirm": "y"}, page="/account")
    assert response.status_code == 422
    assert "account was not deleted" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(User)).email == "donor@example.org"
    assert db.session.get(RecurringGift, donor_with_gift.id).donor.email == "donor@example.org"


# Reconciliation -----------------------------------------------------------------------------------

def test_reconcile_feeds_missed_events_through_the_handler_once(app, fake_stripe):
    from membership.donations.models import Donation

    sessions = [sp.checkout_session(amount=1000 * n) for n in range(1, 4)]
    fake_stripe.events = [sp.event("checkout.session.completed", s) for s in sessions]
    fake_stripe.events.append(sp.event("customer.created", {"id": "cus_1", "object": "customer"}))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["stripe", "reconcile", "--since", "2026-01-01"])
    assert result.exit_code == 0, result.output
    assert "new: 3" in result.output and "ignored: 1" in result.output
    assert db.session.query(Donation).count() == 3
    result = runner.invoke(args=["stripe", "reconcile", "--since", "2026-01-01"])
    assert "new: 0" in result.output and "already applied: 4" in result.output
    assert db.session.query(Donation).count() == 3
    listing = fake_stripe.calls("GET", "/v1/events")
    assert listing[0].params["created[gte]"] == "1767225600"


def test_reconcile_pages_through_the_event_list(app, fake_stripe):
    fake_stripe.events = [sp.event("checkout.session.completed", sp.checkout_session())
                          for _ in range(130)]
    result = app.test_cli_runner().invoke(args=["stripe", "reconcile", "--since",
                                                "2026-01-01"])
    assert "new: 130" in result.output
    assert len(fake_stripe.calls("GET", "/v1/events")) == 2


def test_reconcile_reports_an_unreachable_stripe(app, fake_stripe):
    fake_stripe.fail_next = 10
    result = app.test_cli_runner().invoke(args=["stripe", "reconcile", "--since",
                                                "2026-01-01"])
    assert result.exit_code != 0
    assert "could not read Stripe's events" in result.output


def test_reconcile_needs_a_valid_date(app):
    result = app.test_cli_runner().invoke(args=["stripe", "reconcile", "--since", "yesterday"])
    assert result.exit_code == 2



def test_stripes_pages_open_in_the_readers_language_where_stripe_has_it(client, forms,
                                                                         fake_stripe):
    """Checkout and the Customer Portal have English but neither Arabic nor Hebrew in the
    pinned API version: those readers get "auto" (their browser's language if Stripe has
    it), never a locale Stripe would refuse along with the gift."""
    forms.post("/donate", GIFT)
    client.set_cookie("language", "ar")
    forms.post("/donate", {**GIFT, "email": "reader@example.org"})
    english, arabic = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert (english.params["locale"], arabic.params["locale"]) == ("en", "auto")
