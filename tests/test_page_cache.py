"""Public pages kept in memory (issue 18): served again without rendering, each visitor
with their own CSRF token, per language and per signed-in reader; a reader's own change
shows on their next page view; flash messages are never kept; the memory is bounded and
what it keeps goes stale within its seconds."""

from __future__ import annotations

import time

import pytest
from markupsafe import escape
from sqlalchemy import delete, event, select, update

from membership.accounts.models import User
from membership.accounts.services import VERIFY_EMAIL, make_token
from membership.extensions import db
from membership.newsletter.models import Subscriber
from membership.page_cache import EXTENSION
from membership.topics.services import seed_topics
from tests.builders import give, make_campaign, make_user
from tests.conftest import Browserless, IsolatedRequestsClient, csrf_token_from
from tests.test_languages import catalogue
from tests.test_observability import request_line


@pytest.fixture
def app_overrides() -> dict:
    return {"PAGE_CACHE_SECONDS": 60, "PAGE_CACHE_SIZE": 8, "LOG_FORMAT": "json"}


@pytest.fixture
def campaign(app):
    seed_topics()
    return make_campaign(featured=True)


RAISED = '<dd data-field="raised">{}</dd>'


def visitor(app) -> IsolatedRequestsClient:
    return app.test_client()


def test_a_page_is_rendered_once_and_each_visitor_gets_their_own_token(app, campaign):
    first, second = visitor(app), visitor(app)
    page_one = first.get("/campaigns/20th-anniversary").get_data(as_text=True)
    assert RAISED.format("$0") in page_one
    give(5000)  # kept: not rendered again within the cache's seconds
    page_two = second.get("/campaigns/20th-anniversary").get_data(as_text=True)
    assert RAISED.format("$0") in page_two
    home_one = first.get("/").get_data(as_text=True)
    home_two = second.get("/").get_data(as_text=True)
    token_one, token_two = csrf_token_from(home_one), csrf_token_from(home_two)
    assert token_one != token_two
    assert home_one.replace(token_one, "") == home_two.replace(token_two, "")
    # Each token works for its own visitor only.
    signup = {"email": "one@example.org", "consent": "y", "csrf_token": token_one}
    assert second.post("/newsletter", data=signup).status_code == 400
    assert first.post("/newsletter", data=signup).status_code < 400
    db.session.rollback()
    assert db.session.scalar(select(Subscriber.email)) == "one@example.org"


def test_languages_are_kept_apart(app, campaign):
    client = visitor(app)
    english = client.get("/topics", headers={"Accept-Language": "en"})
    arabic = client.get("/topics", headers={"Accept-Language": "ar"})
    assert 'lang="en"' in english.get_data(as_text=True)
    assert 'lang="ar" dir="rtl"' in arabic.get_data(as_text=True)
    assert {"Accept-Language", "Cookie"} <= set(arabic.vary)


def test_a_readers_change_shows_on_their_next_page(app, campaign, forms, reader):
    pressed = 'aria-pressed="true"'
    forms.login("reader@example.org", "a sturdy passphrase")
    assert pressed not in forms.client.get("/topics").get_data(as_text=True)
    forms.post("/topics/gaza/follow", {"next": "/topics"}, page="/topics")
    assert pressed in forms.client.get("/topics").get_data(as_text=True)
    # Another visitor never sees the reader's page.
    assert pressed not in visitor(app).get("/topics").get_data(as_text=True)


def test_flash_messages_are_shown_and_never_kept(app, campaign, forms):
    client = forms.client
    client.get("/")  # kept without a message
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Only for this visitor")]
    assert "Only for this visitor" in client.get("/").get_data(as_text=True)
    assert "Only for this visitor" not in client.get("/").get_data(as_text=True)
    assert "Only for this visitor" not in visitor(app).get("/").get_data(as_text=True)


def test_the_memory_is_bounded_and_goes_stale(app, campaign):
    client = visitor(app)
    for amount in range(20):
        assert client.get(f"/donate?amount={amount + 1}").status_code == 200
    cache = app.extensions[EXTENSION]
    assert len(cache.pages) == 8
    app.extensions[EXTENSION] = type(cache)(8, 0.2)
    client.get("/campaigns/20th-anniversary")
    give(5000)
    time.sleep(0.3)
    page = client.get("/campaigns/20th-anniversary").get_data(as_text=True)
    assert RAISED.format("$50") in page


def test_errors_and_posts_are_never_kept(app, campaign):
    client = visitor(app)
    assert client.get("/campaigns/nothing-here").status_code == 404
    assert client.get("/donate?amount=-5").status_code == 200
    assert not any(key[0] == "campaigns.page" for key in app.extensions[EXTENSION].pages)


def signed_in(app, email: str, name: str = "") -> Browserless:
    make_user(email, "a sturdy passphrase", name=name)
    browser = Browserless(app.test_client())
    browser.login(email, "a sturdy passphrase")
    return browser


def test_readers_alike_share_a_page_and_see_only_their_own(app, campaign):
    one, two = signed_in(app, "one@example.org"), signed_in(app, "two@example.org")
    cache = app.extensions[EXTENSION]
    before = len(cache.pages)
    page_one = one.client.get("/campaigns/20th-anniversary").get_data(as_text=True)
    page_two = two.client.get("/campaigns/20th-anniversary").get_data(as_text=True)
    assert len(cache.pages) == before + 1  # the same header: one kept page
    token_one, token_two = csrf_token_from(page_one), csrf_token_from(page_two)
    assert token_one != token_two and "Log out" in page_two
    # A page that shows the reader's own address is theirs alone.
    donate_one = one.client.get("/donate").get_data(as_text=True)
    donate_two = two.client.get("/donate").get_data(as_text=True)
    assert 'value="one@example.org"' in donate_one and "two@example.org" not in donate_one
    assert 'value="two@example.org"' in donate_two and "one@example.org" not in donate_two
    # Following a topic makes the reader's topics page their own at once.
    one.post("/topics/gaza/follow", {"next": "/topics"}, page="/topics")
    assert 'aria-pressed="true"' in one.client.get("/topics").get_data(as_text=True)
    assert 'aria-pressed="true"' not in two.client.get("/topics").get_data(as_text=True)


def test_a_readers_kept_page_asks_the_database_only_whether_their_sign_in_stands(
        app, campaign):
    one = signed_in(app, "one@example.org")
    one.client.get("/")  # rendered and kept
    db.session.remove()
    asked: list[str] = []
    listener = lambda *args: asked.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert "Log out" in one.client.get("/").get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    [question] = [sql for sql in asked if sql.lstrip().upper().startswith("SELECT")]
    # Not the account itself (its password hash and the rest): a kept page needs none of it.
    assert "login_sessions" in question and "password_hash" not in question


def test_a_sign_in_ended_elsewhere_ends_on_kept_pages_at_once(app, campaign):
    one = signed_in(app, "one@example.org")
    copied = app.test_client()  # the same sign-in's cookie, copied to another browser
    name = app.config["SESSION_COOKIE_NAME"]
    copied.set_cookie(name, one.client.get_cookie(name).value)
    for browser in (one.client, copied):
        assert "Log out" in browser.get("/").get_data(as_text=True)
    one.post("/account/logout", {}, page="/account")
    page = copied.get("/").get_data(as_text=True)
    assert "Log out" not in page and "Log in" in page


def test_a_readers_own_language_and_account_show_on_kept_pages(app, campaign, capsys):
    one = signed_in(app, "one@example.org")
    user = db.session.scalar(select(User).where(User.email == "one@example.org"))
    one.client.get("/", headers={"Accept-Language": "en"})  # kept in English
    user.language = "ar"
    db.session.commit()
    capsys.readouterr()
    page = one.client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'lang="ar" dir="rtl"' in page
    assert request_line(capsys, "/")["account_id"] == user.id


def test_readers_share_one_gift_form_each_with_their_own_address_and_name(app, campaign):
    names = ['Rana "R" <b>al-Masri</b> & Co', "رنا المصري \u202eevil", ""]
    readers = [signed_in(app, f"reader-{n}@example.org", name) for n, name in enumerate(names)]
    cache = app.extensions[EXTENSION]
    pages = [browser.client.get("/donate").get_data(as_text=True) for browser in readers]
    assert sum(key[0] == "donations.donate" for key in cache.pages) == 1
    for n, (page, name) in enumerate(zip(pages, names, strict=True)):
        assert f'value="reader-{n}@example.org"' in page
        assert f'name="name" type="text" value="{escape(name)}"' in page
        assert "reader-email-" not in page and "reader-name-" not in page
        others = [f"reader-{other}@example.org" for other in range(len(names)) if other != n]
        assert not any(address in page for address in others)
    # A page not kept (a message to show) is filled in too.
    with readers[0].client.session_transaction() as session:
        session["_flashes"] = [("success", "Only for this reader")]
    page = readers[0].client.get("/donate").get_data(as_text=True)
    assert "Only for this reader" in page and 'value="reader-0@example.org"' in page
    assert "reader-email-" not in page


@pytest.mark.parametrize("change", ["deleted", "made staff"])
def test_a_page_is_kept_only_under_the_account_it_shows(app, campaign, change):
    """The key is made of the sign-in, the page of the account loaded after it: another
    request committing a change in between must not leave a page under the wrong key."""
    one, two = signed_in(app, "one@example.org"), signed_in(app, "two@example.org")
    one_id = db.session.scalar(select(User.id).where(User.email == "one@example.org"))
    db.session.remove()

    changed = []

    def meanwhile(_connection, _cursor, statement, *_args):
        # Right after one's sign-in is read, as another request would, on its own.
        if not changed and "login_sessions" in statement and "password_hash" not in statement:
            changed.append(change)
            with db.engine.begin() as other:
                other.execute(delete(User).where(User.id == one_id) if change == "deleted"
                              else update(User).where(User.id == one_id).values(is_staff=True))

    event.listen(db.engine, "after_cursor_execute", meanwhile)
    try:
        assert one.client.get("/").status_code == 200
    finally:
        event.remove(db.engine, "after_cursor_execute", meanwhile)
    assert changed
    page = two.client.get("/").get_data(as_text=True)  # two: not staff, still signed in
    assert "Log out" in page and 'href="/admin' not in page


def test_a_remembered_readers_own_language_is_used_before_the_account_is_loaded(app, campaign):
    """The browser session ended and the remember-me cookie stayed: a message worked out
    before any template loads the account comes in the account's language."""
    make_user("one@example.org", "a sturdy passphrase", verified=False)
    one = Browserless(app.test_client())
    one.login("one@example.org", "a sturdy passphrase", remember="y")
    user = db.session.scalar(select(User).where(User.email == "one@example.org"))
    user.language = "ar"
    db.session.commit()
    token = make_token(VERIFY_EMAIL, {"user": user.id, "email": user.email})
    with one.client.session_transaction() as session:
        session.clear()
    response = one.client.get(f"/account/verify/{token}", headers={"Accept-Language": "en"})
    assert response.status_code == 302
    with one.client.session_transaction() as session:
        [(_category, message)] = session["_flashes"]
    assert message == catalogue("ar").get("Thank you: your e-mail address is confirmed.").string
