from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from membership.extensions import db
from membership.newsletter.models import Subscriber
from membership.newsletter.services import unsubscribe_link
from tests.browser.conftest import screenshot
from tests.builders import last_link

pytestmark = pytest.mark.browser


def test_subscribe_confirm_and_unsubscribe_in_one_click(page, live_server):
    page.goto("/")
    form = page.locator(".home-newsletter")
    form.get_by_label("E-mail address").fill("morning@example.org")
    form.get_by_role("button", name="Subscribe").click()
    expect(page.locator("#consent-error")).to_contain_text("Please tick the box")
    page.get_by_label("Send me the daily news e-mail").check()
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    db.session.rollback()
    link = last_link("morning@example.org")  # the link from the outbox
    db.session.rollback()  # end the test's read before the server writes
    page.goto(link)
    expect(page.get_by_role("heading", name="You are subscribed")).to_be_visible()
    screenshot(page, "newsletter-confirmed")

    subscriber = db.session.scalar(select(Subscriber).where(
        Subscriber.email == "morning@example.org"))
    path = unsubscribe_link(subscriber).split("membership.test", 1)[1]
    db.session.rollback()
    page.goto(path)  # what a mail scanner fetches: it changes nothing
    expect(page.get_by_role("heading", name="Unsubscribe from the daily e-mail")).to_be_visible()
    assert db.session.scalar(select(Subscriber.status)) == "confirmed"
    db.session.rollback()
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    assert db.session.scalar(select(Subscriber.status)) == "unsubscribed"
