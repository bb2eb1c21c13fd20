from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from membership.accounts import services
from membership.accounts.models import User
from membership.extensions import db
from tests.builders import last_link, make_user, outbox

GOOD_PASSWORD = "tea at the old port"


def count_users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


# Sign-up --------------------------------------------------------------------------------

def test_signup_creates_account_logs_in_and_mails_verification(client, forms):
    response = forms.post("/account/signup", {"email": "  Nadia@Example.ORG ",
                                              "password": GOOD_PASSWORD, "name": "Nadia"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/topics?welcome=1"  # onboarding
    # Issue 15: one welcome, one reminder to confirm, and a way to finish onboarding.
    onboarding = client.get("/topics?welcome=1").get_data(as_text=True)
    assert onboarding.count("Welcome!") == 1
    assert onboarding.count("we sent a link to <bdi>nadia@example.org</bdi>") == 1
    assert 'href="/my-news">Done: show my news</a>' in onboarding
    user = db.session.scalar(select(User))
    assert user.email == "nadia@example.org"
    assert user.name == "Nadia"
    assert not user.is_verified
    assert user.password_hash.startswith("$argon2id$")
    assert [m.template for m in outbox("nadia@example.org")] == ["accounts/verify_email"]
    page = client.get("/account").get_data(as_text=True)
    assert "nadia@example.org" in page
    assert "Please confirm your e-mail address" in page


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("not-an-email", GOOD_PASSWORD, "Invalid email address"),
        ("", GOOD_PASSWORD, "This field is required"),
        ("a@example.org", "short", "at least 10 characters"),
        ("a@example.org", "", "This field is required"),
        ("a@example.org", "password123", "most common"),
        ("a@example.org", "qwertyuiop", "most common"),
        ("rosalind@example.org", "rosalind-2026!", "name or e-mail"),
    ],
)
def test_signup_refuses_bad_input_next_to_the_field(forms, email, password, message):
    response = forms.post("/account/signup", {"email": email, "password": password})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert 'class="error"' in page
    assert count_users() == 0


def test_signup_refuses_an_existing_email_in_any_letter_case(forms, reader):
    response = forms.post("/account/signup", {"email": "READER@example.org",
                                              "password": GOOD_PASSWORD})
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)
    assert count_users() == 1


def test_create_user_rejects_duplicate_even_without_the_form(app, reader):
    with pytest.raises(services.EmailTaken):
        services.create_user(" Reader@Example.org", GOOD_PASSWORD)


def test_post_without_csrf_token_is_refused(client):
    response = client.post("/account/signup", data={"email": "a@example.org",
                                                     "password": GOOD_PASSWORD})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    assert count_users() == 0


# Log-in and log-out ---------------------------------------------------------------------

def test_login_with_remember_sets_an_http_only_same_site_cookie(forms, reader):
    response = forms.login("reader@example.org", "a sturdy passphrase", remember="y")
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    remember = next(c for c in cookies if c.startswith("remember_token="))
    assert "HttpOnly" in remember and "SameSite=Lax" in remember
    assert db.session.get(User, reader.id).last_login_at is not None


def test_login_accepts_email_in_another_case(forms, reader):
    response = forms.login("  READER@example.org", "a sturdy passphrase")
    assert response.status_code == 302


@pytest.mark.parametrize(("email", "password"), [
    ("reader@example.org", "the wrong passphrase"),
    ("nobody@example.org", "a sturdy passphrase"),
])
def test_login_failure_says_the_same_for_wrong_password_and_unknown_email(forms, reader,
                                                                          email, password):
    response = forms.login(email, password)
    assert response.status_code == 422
    assert "e-mail address or password is not correct" in response.get_data(as_text=True)


def test_logout_is_a_post_and_ends_the_session(client, forms, reader):
    forms.login("reader@example.org", "a sturdy passphrase")
    assert client.get("/logout").status_code == 404
    assert client.get("/account/logout").status_code == 405
    response = forms.post("/account/logout", page="/account")
    assert response.status_code == 302
    assert client.get("/account").status_code == 302


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "http:/evil.example",
    "javascript:alert(1)", "evil.example",
])
def test_login_next_refuses_other_sites(forms, reader, target):
    response = forms.post(f"/account/login?next={target}",
                          {"email": "reader@example.org", "password": "a sturdy passphrase"},
                          page="/account/login")
    assert response.headers["Location"] == "/account"


def test_login_next_follows_local_paths(forms, reader):
    response = forms.post("/account/login?next=/account%3Ftab%3Ddata",
                          {"email": "reader@example.org", "password": "a sturdy passphrase"},
                          page="/account/login")
    assert response.headers["Location"] == "/account?tab=data"


def test_anonymous_account_page_redirects_to_login_with_next(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/login?next=%2Faccount"


# E-mail verification --------------------------------------------------------------------

def test_verification_link_confirms_the_address(client, forms):
    forms.post("/account/signup", {"email": "new@example.org", "password": GOOD_PASSWORD})
    response = client.get(last_link("new@example.org"))
    assert response.status_code == 302
    assert db.session.scalar(select(User)).is_verified


def test_expired_verification_link_is_refused(app, client, forms):
    forms.post("/account/signup", {"email": "new@example.org", "password": GOOD_PASSWORD})
    app.config["EMAIL_TOKEN_MAX_AGE"] = -1
    response = client.get(last_link("new@example.org"))
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert not db.session.scalar(select(User)).is_verified


def test_tampered_verification_link_is_refused(client):
    response = client.get("/account/verify/not-a-token")
    assert response.status_code == 400


def test_verification_link_for_a_previous_address_is_refused(app, client, forms):
    forms.post("/account/signup", {"email": "old@example.org", "password": GOOD_PASSWORD})
    link = last_link("old@example.org")
    user = db.session.scalar(select(User))
    user.email = "other@example.org"
    db.session.commit()
    assert client.get(link).status_code == 400


def test_unverified_reader_can_resend_the_link(client, forms):
    forms.post("/account/signup", {"email": "new@example.org", "password": GOOD_PASSWORD})
    forms.post("/account/verify/resend", page="/account")
    assert len(outbox("new@example.org")) == 2


# Password reset ---------------------------------------------------------------------------

def test_reset_answers_the_same_whether_or_not_the_account_exists(forms, reader):
    known = forms.post("/account/forgot-password", {"email": "reader@example.org"})
    unknown = forms.post("/account/forgot-password", {"email": "ghost@example.org"})
    assert known.status_code == unknown.status_code == 200

    def body(response, email):
        return response.get_data(as_text=True).replace(email, "EMAIL")

    assert body(known, "reader@example.org") == body(unknown, "ghost@example.org")
    assert [m.template for m in outbox("reader@example.org")] == ["accounts/reset_password"]
    # No account uses the address: its owner hears so (and the page took the same work).
    [note] = outbox("ghost@example.org")
    assert note.template == "accounts/reset_unknown"
    assert note.context == {"signup_link": "http://membership.test/account/signup"}


def test_reset_does_the_same_database_work_whether_or_not_the_account_exists(app, forms,
                                                                              reader):
    """The timing a stranger can measure: the same statements, whatever the address."""
    def statements_for(email: str) -> list[str]:
        seen: list[str] = []

        def keep(conn, cursor, statement, *args):
            seen.append(statement.split()[0].upper())

        token = forms.token("/account/forgot-password")
        event.listen(db.engine, "before_cursor_execute", keep)
        try:
            forms.client.post("/account/forgot-password",
                              data={"csrf_token": token, "email": email})
        finally:
            event.remove(db.engine, "before_cursor_execute", keep)
        return seen

    assert statements_for("reader@example.org") == statements_for("ghost@example.org")


def test_reset_link_changes_the_password_once(client, forms, reader):
    forms.post("/account/forgot-password", {"email": "reader@example.org"})
    link = last_link("reader@example.org")
    response = forms.post(link, {"password": "a brand new passphrase"})
    assert response.status_code == 302
    assert services.authenticate("reader@example.org", "a brand new passphrase")
    assert not services.authenticate("reader@example.org", "a sturdy passphrase")
    # Used once: the same link no longer works.
    assert client.get(link).status_code == 400


def test_reset_link_expires(app, client, forms, reader):
    forms.post("/account/forgot-password", {"email": "reader@example.org"})
    app.config["RESET_TOKEN_MAX_AGE"] = -1
    assert client.get(last_link("reader@example.org")).status_code == 400


def test_reset_refuses_a_weak_new_password(forms, reader):
    forms.post("/account/forgot-password", {"email": "reader@example.org"})
    response = forms.post(last_link("reader@example.org"), {"password": "12345"})
    assert response.status_code == 422
    assert services.authenticate("reader@example.org", "a sturdy passphrase")


def test_password_reset_signs_out_other_sessions(app, forms, reader):
    other_device = app.test_client()
    Browserless = type(forms)
    Browserless(other_device).login("reader@example.org", "a sturdy passphrase")
    assert other_device.get("/account").status_code == 200
    forms.post("/account/forgot-password", {"email": "reader@example.org"})
    forms.post(last_link("reader@example.org"), {"password": "a brand new passphrase"})
    assert other_device.get("/account").status_code == 302


# The account page -----------------------------------------------------------------------

@pytest.fixture
def logged_in(forms, reader):
    forms.login("reader@example.org", "a sturdy passphrase")
    return reader


def test_change_name(forms, logged_in):
    response = forms.post("/account/profile", {"name": "  Rana K. "}, page="/account")
    assert response.status_code == 302
    assert db.session.get(User, logged_in.id).name == "Rana K."


def test_change_email_waits_for_confirmation_from_the_new_address(client, forms, logged_in):
    response = forms.post("/account/email", {"email": "Rana@New.example",
                                             "password": "a sturdy passphrase"}, page="/account")
    assert response.status_code == 302
    assert db.session.get(User, logged_in.id).email == "reader@example.org"
    client.get(last_link("rana@new.example"))
    user = db.session.get(User, logged_in.id)
    assert user.email == "rana@new.example"
    assert user.is_verified
    assert [m.template for m in outbox("reader@example.org")] == ["accounts/email_changed"]


def test_change_email_to_a_taken_address_is_refused(forms, logged_in):
    make_user("taken@example.org", "yet another passphrase")
    response = forms.post("/account/email", {"email": "TAKEN@example.org",
                                             "password": "a sturdy passphrase"}, page="/account")
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)


def test_change_password_needs_the_current_one(forms, logged_in):
    response = forms.post("/account/password", {"current_password": "wrong guess here",
                                                 "password": "a brand new passphrase"},
                          page="/account")
    assert response.status_code == 422
    assert "current password is not correct" in response.get_data(as_text=True)
    response = forms.post("/account/password", {"current_password": "a sturdy passphrase",
                                                 "password": "a brand new passphrase"},
                          page="/account")
    assert response.status_code == 302
    assert services.authenticate("reader@example.org", "a brand new passphrase")


def test_change_password_keeps_this_session(client, forms, logged_in):
    forms.post("/account/password", {"current_password": "a sturdy passphrase",
                                     "password": "a brand new passphrase"}, page="/account")
    assert client.get("/account").status_code == 200


def test_download_my_data(client, logged_in):
    response = client.get("/account/export.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.get_json()
    assert data["account"]["email"] == "reader@example.org"
    assert data["account"]["name"] == "Rana"


def test_delete_account_needs_the_password_and_confirmation(forms, logged_in):
    response = forms.post("/account/delete", {"password": "a sturdy passphrase"},
                          page="/account")
    assert response.status_code == 422
    response = forms.post("/account/delete", {"password": "wrong passphrase",
                                              "confirm": "y"}, page="/account")
    assert response.status_code == 422
    assert count_users() == 1


def test_delete_account_removes_personal_data_and_calls_hooks(client, forms, logged_in):
    from membership.accounts.signals import account_deleting

    seen = []

    def hook(user):
        seen.append(user.email)

    account_deleting.connect(hook)
    try:
        forms.post("/account/profile", {"name": "Rana"}, page="/account")
        response = forms.post("/account/delete", {"password": "a sturdy passphrase",
                                                  "confirm": "y"}, page="/account")
    finally:
        account_deleting.disconnect(hook)
    assert response.status_code == 302
    assert seen == ["reader@example.org"]
    assert count_users() == 0
    # Only the goodbye message remains addressed to the reader.
    assert [m.template for m in outbox("reader@example.org")] == ["accounts/account_deleted"]
    assert client.get("/account").status_code == 302


def test_authenticate_upgrades_an_outdated_hash(app, reader):
    from argon2 import PasswordHasher

    reader.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash("a sturdy passphrase")
    db.session.commit()
    services.authenticate("reader@example.org", "a sturdy passphrase")
    db.session.commit()
    assert "m=65536" in db.session.get(User, reader.id).password_hash


def test_timestamps_are_timezone_aware_utc(app, reader):
    db.session.expire_all()
    created = db.session.get(User, reader.id).created_at
    assert created.utcoffset() == timedelta(0)


def test_staff_land_on_the_dashboard_readers_on_their_account(forms, reader, staff):
    """Issue 15: a staff log-in without a page to return to opens the dashboard."""
    staff_login = forms.login("editor@example.org", "another sturdy passphrase")
    assert staff_login.headers["Location"] == "/admin/"
    forms.post("/account/logout", page="/account")
    reader_login = forms.login("reader@example.org", "a sturdy passphrase")
    assert reader_login.headers["Location"] == "/account"
