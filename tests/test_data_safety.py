"""Accounts and data safety (issue 12): what an attacker tried, each failing on the code
before it. Hostile input and the route fuzzer are in test_hostile_input.py."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import delete, func, select

from membership.accounts.models import LoginSession, User
from membership.donations.models import Donation, Donor
from membership.extensions import db
from membership.newsletter.models import Subscriber, SubscriberStatus
from membership.newsletter.services import (
    CONSENT_VERSION,
    preferences_link,
    subscribe,
    unsubscribe_link,
)
from membership.types import utcnow
from tests.builders import give, last_link, make_user, outbox, recurring
from tests.conftest import Browserless

GUEST = "guest.donor@example.org"


def path(url: str) -> str:
    return url.split("membership.test", 1)[1]


def guest_with_everything() -> None:
    """A guest donor with a dedicated gift, a queued receipt and a confirmed subscription."""
    give(5000, GUEST, dedication=("honor", "My grandmother"))
    subscribe(GUEST, "203.0.113.7")
    db.session.scalar(select(Subscriber)).status = SubscriberStatus.CONFIRMED
    db.session.commit()


def test_an_unverified_account_cannot_erase_a_guest_donor(app, client, forms):
    guest_with_everything()
    mail_before = len(outbox(GUEST))
    response = forms.post("/account/signup", {"email": GUEST, "password": "a stranger's pass"},
                          page="/account/signup")
    assert response.status_code == 302
    data = client.get("/account/export.json").get_json()
    assert data["gifts"] == [] and data["newsletter"] is None  # proves nothing: sees nothing
    response = forms.post("/account/delete", {"password": "a stranger's pass",
                                              "confirm": "y"}, page="/account")
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    donor = db.session.scalar(select(Donor))
    assert donor.email == GUEST
    assert db.session.scalar(select(Donation.dedication_name)) == "My grandmother"
    assert db.session.scalar(select(Subscriber.status)) == SubscriberStatus.CONFIRMED
    guest_mail = outbox(GUEST)
    # Their receipt stays queued; the stranger's own verification mail too, but no goodbye.
    assert len(guest_mail) == mail_before + 1
    assert not any(m.template == "accounts/account_deleted" for m in guest_mail)


def test_a_verified_account_takes_its_own_records_with_it(app, client, forms):
    guest_with_everything()
    forms.post("/account/signup", {"email": GUEST, "password": "the donor's own pass"},
               page="/account/signup")
    client.get(last_link(GUEST))  # the verification link proves the address
    response = forms.post("/account/delete", {"password": "the donor's own pass",
                                              "confirm": "y"}, page="/account")
    assert response.status_code == 302
    assert db.session.scalar(select(Donor.email)).endswith("@anonymized.invalid")
    assert db.session.scalar(select(Donation.dedication_name)) is None
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0
    assert [m.template for m in outbox(GUEST)] == ["accounts/account_deleted"]
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_the_data_download_holds_subscription_consent_and_recurring_gifts(app, client, forms):
    reader = make_user("rana@example.org", "a sturdy passphrase", name="Rana")
    give(3600, reader.email)
    recurring(1800, "monthly", reader.email, utcnow() - timedelta(days=3), campaign="gaza")
    subscribe(reader.email, "198.51.100.4")
    db.session.commit()
    forms.login(reader.email, "a sturdy passphrase")
    response = client.get("/account/export.json")
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == "rana@example.org"
    assert [gift["amount_cents"] for gift in data["gifts"]] == [3600]
    [monthly] = data["recurring_gifts"]
    assert (monthly["amount_cents"], monthly["frequency"], monthly["status"]) == \
        (1800, "monthly", "active")
    assert data["newsletter"]["status"] == "pending"
    assert data["newsletter"]["consent"]["version"] == CONSENT_VERSION
    assert data["newsletter"]["consent"]["from_address"] == "198.51.100.4"
    assert "daily news e-mail" in data["newsletter"]["consent"]["wording"]


# Sessions -----------------------------------------------------------------------------------

def test_logout_ends_the_session_on_the_server(app, reader, forms):
    forms.login(reader.email, "a sturdy passphrase", remember="y")
    stolen = {cookie.key: cookie.value for cookie in forms.client._cookies.values()}
    assert "remember_token" in stolen and "session" in stolen
    forms.post("/account/logout", page="/account")
    assert db.session.scalar(select(func.count()).select_from(LoginSession)) == 0
    thief = app.test_client()
    for name, value in stolen.items():
        thief.set_cookie(name, value, domain="localhost")
    response = thief.get("/account")
    assert response.status_code == 302 and "/account/login" in response.location


def test_each_browser_signs_in_on_its_own_and_logs_out_alone(app, reader):
    laptop, phone = Browserless(app.test_client()), Browserless(app.test_client())
    laptop.login(reader.email, "a sturdy passphrase")
    phone.login(reader.email, "a sturdy passphrase")
    laptop.post("/account/logout", page="/account")
    assert laptop.client.get("/account").status_code == 302
    assert phone.client.get("/account").status_code == 200


def test_an_expired_sign_in_is_refused_even_with_a_valid_cookie(app, reader, forms):
    forms.login(reader.email, "a sturdy passphrase")
    db.session.scalar(select(LoginSession)).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert forms.client.get("/account").status_code == 302


def test_changing_the_address_asks_for_the_password(app, reader, forms):
    forms.login(reader.email, "a sturdy passphrase")
    response = forms.post("/account/email", {"email": "thief@example.org",
                                             "password": "a guess"}, page="/account")
    assert response.status_code == 422
    assert "Your password is not correct" in response.get_data(as_text=True)
    assert outbox("thief@example.org") == []
    response = forms.post("/account/email", {"email": "thief@example.org"}, page="/account")
    assert response.status_code == 422 and outbox("thief@example.org") == []


# Rate limits --------------------------------------------------------------------------------

def test_bad_reset_tokens_lock_nobody_else_out(app, client, reader, forms):
    app.config["RATELIMIT_AUTH_PER_ACCOUNT"] = "3 per minute"
    page = "/account/forgot-password"
    forms.post(page, {"email": reader.email})
    link = last_link(reader.email)
    for n in range(5):
        client.post(f"/account/reset/bad-token-{n}", data={"password": "x"})
    response = forms.post(link, {"password": "a brand new passphrase"}, page=link)
    assert response.status_code == 302


def limited_statuses(forms, url: str, data: dict, times: int) -> list[int]:
    return [forms.post(url, data, page="/account").status_code for _ in range(times)]


def test_address_change_and_resend_are_limited_against_mail_bombing(app, forms):
    app.config["RATELIMIT_MAIL_PER_ACCOUNT"] = "2 per minute"
    make_user("new@example.org", "a sturdy passphrase", verified=False)
    forms.login("new@example.org", "a sturdy passphrase")
    statuses = limited_statuses(forms, "/account/verify/resend", {}, 3)
    assert statuses == [302, 302, 429]
    statuses = limited_statuses(forms, "/account/email", {
        "email": "victim@example.org", "password": "a sturdy passphrase"}, 3)
    assert statuses[-1] == 429
    assert len(outbox("victim@example.org")) <= 2


def test_password_checks_of_a_signed_in_reader_are_limited(app, reader, forms):
    app.config["RATELIMIT_AUTH_PER_ACCOUNT"] = "3 per minute"
    forms.login(reader.email, "a sturdy passphrase")
    statuses = limited_statuses(forms, "/account/delete", {"password": "guess"}, 4)
    assert statuses == [422, 422, 422, 429]
    statuses = limited_statuses(forms, "/account/password", {
        "current_password": "guess", "password": "a new sturdy one"}, 4)
    assert statuses[-1] == 429
    assert db.session.get(User, reader.id) is not None


# Links that name what is never reused -------------------------------------------------------

def test_an_old_newsletter_link_never_acts_on_the_next_subscriber(app, client, forms):
    first = subscribe("first@example.org", None)
    db.session.commit()
    confirm = last_link("first@example.org")
    old_links = [path(unsubscribe_link(first)), path(preferences_link(first)), confirm]
    first_id = first.id
    db.session.execute(delete(Subscriber))
    db.session.commit()
    second = subscribe("second@example.org", None)
    second.status = SubscriberStatus.CONFIRMED
    db.session.commit()
    if db.engine.dialect.name == "sqlite":
        assert second.id == first_id  # SQLite hands the id out again
    for link in old_links:
        assert client.get(link).status_code == 400, link
    assert client.post(old_links[0], data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert db.session.scalar(select(Subscriber.status)) == SubscriberStatus.CONFIRMED
