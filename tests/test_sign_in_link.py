"""Sign-in by e-mailed link: once, for minutes, the same answer for every address, and an
unconfirmed address taken over by the inbox's owner."""

from __future__ import annotations

from sqlalchemy import select

from membership.accounts.models import User
from membership.extensions import db
from tests.builders import last_link, make_user, outbox


def ask(forms, email: str, next_path: str = ""):
    page = "/account/login/link" + (f"?next={next_path}" if next_path else "")
    return forms.post(page, {"email": email})


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_a_link_signs_in_once(client, forms, reader):
    answer = ask(forms, "Reader@Example.org ")
    assert answer.status_code == 200 and "Check your inbox" in answer.get_data(as_text=True)
    [mail] = outbox("reader@example.org")
    assert mail.template == "accounts/sign_in_link" and mail.subject == "Your sign-in link"
    link = last_link("reader@example.org")
    assert link.startswith("/account/login/link/")
    assert not signed_in(client)
    response = client.get(link)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert signed_in(client)

    client.post("/account/logout", data={"csrf_token": forms.token("/account")})
    assert not signed_in(client)
    again = client.get(link)
    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)
    assert not signed_in(client)


def test_the_same_answer_whether_or_not_the_address_has_an_account(client, forms, reader):
    known = ask(forms, "reader@example.org").get_data(as_text=True)
    unknown = ask(forms, "nobody@example.org").get_data(as_text=True)
    assert known.replace("reader@example.org", "X") == unknown.replace("nobody@example.org", "X")
    [note] = outbox("nobody@example.org")
    assert note.template == "accounts/sign_in_unknown"
    assert db.session.scalar(select(User).where(User.email == "nobody@example.org")) is None


def test_a_newer_link_replaces_the_older_and_links_expire(app, client, forms, reader):
    ask(forms, "reader@example.org")
    first = last_link("reader@example.org")
    ask(forms, "reader@example.org")
    second = last_link("reader@example.org")
    assert client.get(first).status_code == 400
    app.config["SIGN_IN_TOKEN_MAX_AGE"] = -1  # every link is already too old
    expired = client.get(second)
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    app.config["SIGN_IN_TOKEN_MAX_AGE"] = 900
    assert client.get(second).status_code == 302  # not used up by the failed try


def test_the_link_returns_to_the_page_it_was_asked_from(client, forms, reader, staff):
    ask(forms, "reader@example.org", next_path="/account/giving")
    assert client.get(last_link("reader@example.org")).headers["Location"] == "/account/giving"
    client.post("/account/logout", data={"csrf_token": forms.token("/account")})
    ask(forms, "editor@example.org", next_path="https://evil.example/")
    assert client.get(last_link("editor@example.org")).headers["Location"] == "/admin/"


def test_a_forged_or_altered_link_signs_nobody_in(client, forms, reader):
    ask(forms, "reader@example.org")
    link = last_link("reader@example.org")
    for bad in (link[:-2] + "xx", "/account/login/link/nonsense", link + "\x00"):
        assert client.get(bad).status_code in (400, 404)
    assert not signed_in(client)
    assert client.get(link).status_code == 302  # the real one still works


def test_the_inbox_owner_takes_over_an_unconfirmed_address(client, forms, app):
    """Someone signed up with this address (perhaps not its owner) and chose a password.
    Its owner signs in by link: the address is confirmed and that password stops
    working, and so do the sessions it started."""
    stranger = app.test_client()
    stranger_forms = type(forms)(stranger)
    stranger_forms.post("/account/signup", {"email": "layla@example.org",
                                            "password": "a stranger's pass"})
    assert stranger.get("/account").status_code == 200
    ask(forms, "layla@example.org")
    assert client.get(last_link("layla@example.org")).status_code == 302
    db.session.rollback()
    user = db.session.scalar(select(User).where(User.email == "layla@example.org"))
    assert user.is_verified
    assert stranger.get("/account").status_code == 302  # signed out
    response = stranger_forms.login("layla@example.org", "a stranger's pass")
    assert response.status_code == 422


def test_a_confirmed_account_keeps_its_password(client, forms):
    make_user("rana@example.org", "a sturdy passphrase")
    ask(forms, "rana@example.org")
    client.get(last_link("rana@example.org"))
    db.session.rollback()
    other = type(forms)(client.application.test_client())
    assert other.login("rana@example.org", "a sturdy passphrase").status_code == 302


def test_a_change_of_address_asked_before_the_takeover_does_not_go_through(client, forms, app):
    """Found in review: a stranger signed up with the address and asked to move the account
    to their own address; its owner signs in by link; the stranger's link must be dead."""
    stranger = type(forms)(app.test_client())
    stranger.post("/account/signup", {"email": "layla@example.org",
                                      "password": "a stranger's pass"})
    stranger.post("/account/email", {"email": "stranger@evil.example",
                                     "password": "a stranger's pass"}, page="/account")
    moving = last_link("stranger@evil.example")
    ask(forms, "layla@example.org")
    assert client.get(last_link("layla@example.org")).status_code == 302
    assert stranger.client.get(moving).status_code == 400
    db.session.rollback()
    assert db.session.scalar(select(User.email)) == "layla@example.org"


def test_a_link_mailed_to_an_address_the_account_left_signs_nobody_in(client, forms, reader):
    ask(forms, "reader@example.org")
    link = last_link("reader@example.org")
    db.session.get(User, reader.id).email = "rana@example.org"
    db.session.commit()
    assert client.get(link).status_code == 400
