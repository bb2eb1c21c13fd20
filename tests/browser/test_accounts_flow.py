from __future__ import annotations

import pytest
from playwright.sync_api import expect

from membership.accounts.models import User
from membership.extensions import db
from tests.browser.conftest import log_in, screenshot
from tests.builders import last_link

pytestmark = pytest.mark.browser


def fresh_session():
    db.session.rollback()


def test_reader_signs_up_verifies_logs_out_logs_in_and_resets_the_password(page):
    page.goto("/account/signup")
    assert screenshot(page, "signup").stat().st_size > 0
    page.get_by_label("E-mail address").fill("layla@example.org")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#password-error")).to_contain_text("at least 10 characters")

    page.get_by_label("Password").fill("olive trees in the spring")
    page.get_by_label("Name (optional)").fill("Layla")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Personalize your news")).to_be_visible()
    page.get_by_role("link", name="My account").click()
    expect(page.get_by_text("not confirmed yet")).to_be_visible()

    fresh_session()
    page.goto(last_link("layla@example.org"))
    expect(page.get_by_text("your e-mail address is confirmed")).to_be_visible()
    expect(page.locator(".badge-ok")).to_have_text("confirmed")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are logged out.")).to_be_visible()

    page.get_by_role("link", name="Log in").first.click()
    page.get_by_label("E-mail address").fill("LAYLA@example.org")
    page.get_by_label("Password").fill("olive trees in the spring")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My account", exact=True)).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    page.goto("/account/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("E-mail address").fill("layla@example.org")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    fresh_session()
    page.goto(last_link("layla@example.org"))
    page.get_by_label("New password").fill("figs and almonds at dawn")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_text("Your password has been changed.")).to_be_visible()

    fresh_session()
    user = db.session.query(User).filter_by(email="layla@example.org").one()
    assert user.is_verified and user.name == "Layla"


def test_account_page_works_on_a_phone(browser, live_server, reader):
    context = browser.new_context(base_url=live_server, viewport={"width": 375, "height": 740},
                                  is_mobile=True)
    page = context.new_page()
    log_in(page, "reader@example.org", "a sturdy passphrase")
    expect(page.get_by_role("heading", name="My account", exact=True)).to_be_visible()
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "account-phone")
    context.close()
