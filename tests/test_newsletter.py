"""The daily e-mail's subscription: consent, double opt-in, one-click unsubscribe."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from sqlalchemy import func, select

from membership.extensions import db
from membership.newsletter.models import Subscriber
from membership.newsletter.services import CONSENT_VERSION, list_headers, unsubscribe_link
from tests.builders import last_link, outbox


def subscriber(email: str = "reader@example.org") -> Subscriber | None:
    db.session.rollback()
    return db.session.scalar(select(Subscriber).where(Subscriber.email == email))


def test_subscribing_records_consent_and_mails_a_confirmation(forms):
    response = forms.post("/newsletter", {"email": " Reader@Example.org ", "consent": "y"},
                          environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    record = subscriber()
    assert (record.status, record.consent_version, record.consent_ip) == (
        "pending", CONSENT_VERSION, "203.0.113.7")
    assert record.consented_at is not None and record.confirmed_at is None
    [mail] = outbox("reader@example.org")
    assert mail.template == "newsletter/confirm"


def test_consent_is_required_and_errors_sit_next_to_the_fields(forms):
    response = forms.post("/newsletter", {"email": "not-an-address"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="email-error"' in html and 'id="consent-error"' in html
    assert "Please tick the box" in html
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_confirming_then_unsubscribing_in_one_click(forms, client):
    forms.post("/newsletter", {"email": "reader@example.org", "consent": "y"})
    page = client.get(last_link("reader@example.org"))
    assert "You are subscribed" in page.get_data(as_text=True)
    assert subscriber().status == "confirmed"
    link = unsubscribe_link(subscriber()).split("membership.test", 1)[1]
    page = client.get(link)  # mail scanners fetch links: a GET only shows the button
    assert page.status_code == 200 and "Stop sending" in page.get_data(as_text=True)
    assert subscriber().status == "confirmed"
    page = forms.post(link, page=link)
    assert page.status_code == 200 and "You are unsubscribed" in page.get_data(as_text=True)
    assert subscriber().status == "unsubscribed"


def test_mail_providers_unsubscribe_with_a_post_and_no_form(client, forms):
    """RFC 8058: the List-Unsubscribe URL takes a bare POST, without our CSRF token."""
    forms.post("/newsletter", {"email": "reader@example.org", "consent": "y"})
    headers = list_headers(subscriber())
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"].strip("<>").split("membership.test", 1)[1]
    response = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert subscriber().status == "unsubscribed"


def test_asking_again_renews_consent_without_a_second_record(forms):
    forms.post("/newsletter", {"email": "reader@example.org", "consent": "y"})
    forms.post("/newsletter", {"email": "READER@example.org", "consent": "y"})
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 1
    assert len(outbox("reader@example.org")) == 2


@pytest.mark.parametrize("tamper", ["tampered", "garbage"])
def test_forged_confirmation_links_are_refused(forms, client, tamper):
    forms.post("/newsletter", {"email": "reader@example.org", "consent": "y"})
    link = last_link("reader@example.org")
    link = link[:-3] + "xyz" if tamper == "tampered" else "/newsletter/confirm/not-a-token"
    response = client.get(link)
    assert response.status_code == 400 and "not valid" in response.get_data(as_text=True)
    assert subscriber().status == "pending"


def test_an_expired_confirmation_link_is_refused(forms, client):
    forms.post("/newsletter", {"email": "reader@example.org", "consent": "y"})
    link = last_link("reader@example.org")
    eight_days_later = time.time() + 8 * 24 * 3600
    with mock.patch("itsdangerous.timed.time.time", return_value=eight_days_later):
        response = client.get(link)
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert subscriber().status == "pending"


def test_a_bad_unsubscribe_link_changes_nothing(client):
    assert client.get("/newsletter/unsubscribe/forged").status_code == 400
    assert client.post("/newsletter/unsubscribe/forged").status_code == 400


def test_the_home_page_offers_the_daily_email(client):
    html = client.get("/").get_data(as_text=True)
    assert 'action="/newsletter"' in html and 'name="consent"' in html


def test_deleting_an_account_ends_its_subscription(forms, reader):
    forms.post("/newsletter", {"email": "reader@example.org", "consent": "y"})
    forms.login("reader@example.org", "a sturdy passphrase")
    forms.post("/account/delete", {"password": "a sturdy passphrase", "confirm": "y"},
               page="/account")
    assert subscriber() is None


def test_the_donor_page_shows_the_daily_email_status(forms, staff, client):
    from membership.donations.models import Donor
    from tests.builders import give

    give(1000, "reader@example.org", campaign=None)
    forms.post("/newsletter", {"email": "reader@example.org", "consent": "y"})
    client.get(last_link("reader@example.org"))
    forms.login("editor@example.org", "another sturdy passphrase")
    donor = db.session.scalar(select(Donor).where(Donor.email == "reader@example.org"))
    assert "subscribed" in client.get(f"/admin/donors/{donor.id}").get_data(as_text=True)


def test_a_verified_reader_gets_the_daily_email_with_one_click_and_stops_it_there(
        client, forms, reader):
    """Issue 15: no retyping of a proven address; the account page shows the subscription
    with a way out. The click is the consent: recorded with its wording, no mail to
    confirm."""
    from membership.newsletter.models import SubscriberStatus
    from membership.newsletter.services import CONSENT_VERSION
    from tests.builders import outbox

    forms.login("reader@example.org", "a sturdy passphrase")
    page = client.get("/account").get_data(as_text=True)
    assert "Send me the daily e-mail" in page and "I can unsubscribe" in page
    forms.post("/newsletter/mine", page="/account")
    subscriber = db.session.scalar(select(Subscriber).where(
        Subscriber.email == "reader@example.org"))
    assert subscriber.status == SubscriberStatus.CONFIRMED
    assert subscriber.consent_version == CONSENT_VERSION and subscriber.confirmed_at
    assert outbox("reader@example.org") == []  # nothing to confirm
    page = client.get("/account").get_data(as_text=True)
    assert "You get the daily news e-mail at <bdi>reader@example.org</bdi>" in page
    forms.post("/newsletter/mine/stop", page="/account")
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
    assert "Send me the daily e-mail" in client.get("/account").get_data(as_text=True)


def test_an_unconfirmed_address_cannot_be_subscribed_from_the_account(client, forms):
    from tests.builders import make_user

    make_user("new@example.org", "a sturdy passphrase", verified=False)
    forms.login("new@example.org", "a sturdy passphrase")
    page = client.get("/account").get_data(as_text=True)
    assert "Send me the daily e-mail" not in page and "Once your address is confirmed" in page
    forms.post("/newsletter/mine", page="/account")
    assert db.session.scalar(select(Subscriber)) is None
