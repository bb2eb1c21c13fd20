from __future__ import annotations

import pytest
from playwright.sync_api import expect

from membership.extensions import db
from membership.topics.services import seed_topics
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def catalogue(app):
    seed_topics()
    db.session.commit()


def log_in(page):
    page.get_by_label("E-mail address").fill("reader@example.org")
    page.get_by_label("Password").fill("a sturdy passphrase")
    page.get_by_role("button", name="Log in").click()


def test_follow_in_place_with_javascript(page, reader, catalogue):
    page.goto("/account/login?next=/topics")
    log_in(page)
    expect(page.get_by_role("heading", name="Personalize your news")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")
    toggle = page.locator("#topic-gaza").get_by_role("button")
    expect(toggle).to_have_accessible_name("Follow Gaza")  # what it says, and what it is for
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_have_accessible_name("Following Gaza")
    assert page.evaluate("window.stillTheSamePage") is True  # no reload
    screenshot(page, "topics")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    page.reload()
    expect(page.get_by_role("button", name="Follow Gaza")).to_have_attribute(
        "aria-pressed", "false")


def test_follow_without_javascript_and_as_a_visitor(browser, live_server, reader, catalogue):
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    page.goto("/topics")
    page.get_by_role("button", name="Follow Pakistan").click()
    expect(page.get_by_text("Log in or create a free account to follow Pakistan.")).to_be_visible()
    log_in(page)
    expect(page.get_by_text("You now follow Pakistan.")).to_be_visible()
    expect(page.get_by_role("button", name="Following Pakistan")).to_have_attribute(
        "aria-pressed", "true")
    page.get_by_role("button", name="Follow Afghanistan").click()
    assert page.url.endswith("/topics#topic-afghanistan")
    expect(page.get_by_role("button", name="Following Afghanistan")).to_have_attribute(
        "aria-pressed", "true")
    context.close()
