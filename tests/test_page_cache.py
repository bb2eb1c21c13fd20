"""Public pages kept in memory (issue 18): served again without rendering, each visitor
with their own CSRF token, per language and per signed-in reader; a reader's own change
shows on their next page view; flash messages are never kept; the memory is bounded and
what it keeps goes stale within its seconds."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from membership.extensions import db
from membership.newsletter.models import Subscriber
from membership.page_cache import EXTENSION
from membership.topics.services import seed_topics
from tests.builders import give, make_campaign, make_user
from tests.conftest import Browserless, IsolatedRequestsClient, csrf_token_from


@pytest.fixture
def app_overrides() -> dict:
    return {"PAGE_CACHE_SECONDS": 60, "PAGE_CACHE_SIZE": 8}


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


def signed_in(app, email: str) -> Browserless:
    make_user(email, "a sturdy passphrase")
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
