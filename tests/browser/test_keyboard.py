"""What a person does with the keyboard alone, and the site on a phone: each step is a
key press from where the focus is, never a click."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from membership.donations.donors import link_donor_to_account
from membership.donations.models import Donation
from membership.extensions import db
from membership.topics.services import seed_topics
from tests.browser.conftest import log_in, screenshot
from tests.builders import give, make_campaign

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def tab_to(page, target, limit: int = 80) -> None:
    """Press Tab until `target` has the focus, failing if it never does."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


def log_in_by_keyboard(page, email: str, password: str, start: str = "/account/login") -> None:
    page.goto(start)
    tab_to(page, page.get_by_label("E-mail address"))
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_load_state()


def test_a_monthly_gift_by_keyboard_alone(page):
    make_campaign(featured=True)
    page.goto("/donate")
    once = page.get_by_label("Once", exact=True)
    tab_to(page, once)
    page.keyboard.press("ArrowRight")  # a radio group moves with the arrows
    expect(page.get_by_label("Monthly")).to_be_checked()
    eighteen = page.get_by_role("link", name="$18", exact=True)
    tab_to(page, eighteen)
    page.keyboard.press("Enter")
    expect(page.get_by_label("Amount")).to_have_value("18")
    tab_to(page, page.get_by_label("Add the card processing fee"))
    page.keyboard.press("Space")
    expect(page.locator("#fee-preview")).to_have_text("Adds $0.85 to your gift.")
    page.keyboard.press("Tab")
    expect(page.get_by_label("E-mail address")).to_be_focused()
    page.keyboard.type("keys@example.org")
    page.keyboard.press("Enter")  # sends the form from any of its fields

    expect(page.get_by_role("heading", name="Pay $18.85")).to_be_visible()
    tab_to(page, page.get_by_role("button", name="Pay", exact=True))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Thank you for your gift")).to_be_visible(
        timeout=15_000)
    db.session.rollback()
    assert db.session.scalar(select(Donation.amount_cents)) == 1885


def test_a_form_error_takes_the_focus_to_the_field_by_keyboard(page):
    page.goto("/donate")
    tab_to(page, page.get_by_label("Amount"))
    page.keyboard.type("0.5")
    tab_to(page, page.get_by_label("E-mail address"))
    page.keyboard.type("keys@example.org")
    page.keyboard.press("Enter")
    expect(page.locator("#amount-error")).to_be_visible()
    amount = page.get_by_label("Amount")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(amount).to_have_attribute("aria-describedby", "amount-error")
    expect(page.get_by_label("E-mail address")).not_to_have_attribute("aria-invalid", "true")


@pytest.fixture
def catalogue(app):
    seed_topics()
    db.session.commit()


def test_follow_a_topic_by_keyboard_alone(page, reader, catalogue):
    log_in_by_keyboard(page, "reader@example.org", "a sturdy passphrase",
                       start="/account/login?next=/topics")
    toggle = page.locator("#topic-gaza").get_by_role("button")
    tab_to(page, toggle)
    page.keyboard.press("Space")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_be_focused()  # the focus stays where the reader is
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("Enter")
    expect(toggle).to_have_accessible_name("Following Gaza")
    page.reload()
    expect(page.locator("#topic-gaza").get_by_role("button")).to_have_attribute(
        "aria-pressed", "true")


def test_staff_read_the_dashboard_by_keyboard_alone(page, staff):
    make_campaign("spring", title="Spring appeal")
    give(5_000, "spring@example.org", campaign="spring")
    log_in_by_keyboard(page, "editor@example.org", "another sturdy passphrase")
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()

    tab_to(page, page.get_by_label("Campaign", exact=True))
    page.keyboard.press("ArrowDown")  # a closed select changes with the arrows
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Show")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=2).first).to_contain_text("Spring appeal")
    expect(page.locator(".stat", has_text="Gross")).to_contain_text("$50")

    summary = page.get_by_text("The figures as a table").first
    tab_to(page, summary)
    page.keyboard.press("Enter")
    expect(page.locator(".chart-table table").first).to_be_visible()

    year = datetime.now(UTC).year
    tab_to(page, page.get_by_role("navigation", name="Admin").get_by_role("link", name="Retention"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Retention", exact=True)).to_be_visible()
    tab_to(page, page.locator(".table-scroll").first)  # a table that scrolls is reachable
    expect(page.get_by_text(f"Retention of {year} as JSON")).to_be_visible()


def test_the_phone_menu_works_without_javascript(browser, live_server, staff):
    make_campaign(featured=True)  # its banner is on every page too
    context = browser.new_context(base_url=live_server, viewport=PHONE,
                                  java_script_enabled=False)
    page = context.new_page()
    log_in(page, "editor@example.org", "another sturdy passphrase")
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()

    main = page.get_by_role("main").bounding_box()
    assert main and main["y"] < 160, f"content starts {main['y']}px down the screen"
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="My giving")).to_have_count(0)  # folded away
    expect(nav.get_by_role("link", name="Give")).to_be_visible()
    screenshot(page, "phone-menu-closed")
    nav.get_by_text("Menu").click()
    expect(nav.get_by_role("link", name="My giving")).to_have_count(1)  # one list, not two
    expect(nav.get_by_role("link", name="My giving")).to_be_visible()
    screenshot(page, "phone-menu-open")
    nav.get_by_role("link", name="My giving").click()
    expect(page.get_by_role("heading", name="My giving")).to_be_visible()
    context.close()


def test_the_full_menu_on_a_desktop(page):
    page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_text("Menu")).to_be_hidden()
    for name in ("Log in", "Sign up", "Topics", "Campaigns", "Give"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()


def test_a_donors_gifts_reflow_into_cards_on_a_phone(browser, live_server, reader):
    make_campaign(title="Twenty years")
    give(3_600, "reader@example.org", name="Rana")
    link_donor_to_account(reader)
    db.session.commit()
    context = browser.new_context(base_url=live_server, viewport=PHONE)
    page = context.new_page()
    log_in(page, "reader@example.org", "a sturdy passphrase",
           start="/account/login?next=/account/giving")
    receipt = page.get_by_role("link", name=re.compile(r"^\d{4}-\d{6}$"))
    box = receipt.bounding_box()
    assert box and box["x"] + box["width"] <= PHONE["width"], "the receipt is off screen"
    gift = page.get_by_role("row").filter(has=receipt)
    campaign = gift.get_by_role("cell", name="Twenty years")  # its name, not its slug
    # Each value says which column it is, since the column headings are not shown.
    assert campaign.evaluate("cell => getComputedStyle(cell, '::before').content") == '"Campaign"'
    screenshot(page, "giving-phone")
    context.close()
