from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from membership.donations.models import Donation, RecurringGift
from membership.extensions import db
from tests.browser.conftest import log_in, screenshot
from tests.builders import last_link, make_campaign, outbox

pytestmark = pytest.mark.browser


def test_monthly_gift_with_fee_paid_in_the_sandbox_then_canceled(page, reader):
    make_campaign("anniversary-banner", featured=True)  # its banner is on every page
    log_in(page, "reader@example.org", "a sturdy passphrase")
    expect(page.get_by_role("heading", name="My account", exact=True)).to_be_visible()
    page.goto("/donate")
    page.get_by_text("Monthly", exact=True).click()
    page.get_by_role("link", name="$18", exact=True).click()
    expect(page.get_by_label("Amount")).to_have_value("18")
    page.get_by_label("Add the card processing fee").check()
    expect(page.locator("#fee-preview")).to_have_text("Adds $0.85 to your gift.")  # issue 15
    expect(page.get_by_label("E-mail address")).to_have_value("reader@example.org")
    screenshot(page, "donate")
    page.get_by_role("button", name="Continue to secure payment").click()

    expect(page.get_by_role("heading", name="Pay $18.85")).to_be_visible()
    page.get_by_role("button", name="Pay", exact=True).click()

    # Stripe's webhook comes after the redirect: "processing" first, then confirmed.
    expect(page.get_by_role("heading", name="We are confirming your gift")).to_be_visible()
    expect(page.get_by_role("heading", name="Thank you for your gift")).to_be_visible(
        timeout=15_000)
    expect(page.get_by_text("Your gift of $18.85 is confirmed.")).to_be_visible()

    page.get_by_role("link", name="See your gifts and receipts").click()
    expect(page.get_by_role("heading", name="$18.85 monthly")).to_be_visible()
    screenshot(page, "giving")
    page.get_by_role("link", name=re.compile(r"^\d{4}-\d{6}$")).click()
    expect(page.get_by_text("No goods or services were provided")).to_be_visible()
    expect(page.get_by_text("including $0.85 to cover processing fees")).to_be_visible()
    # Printed, a receipt is the receipt: no site navigation, banner or footer (issue 15).
    expect(page.locator(".campaign-banner")).to_be_visible()
    page.emulate_media(media="print")
    assert page.locator(".site-header").count() == page.locator(".site-footer").count() == 1
    for chrome in page.locator(".site-header, .site-footer, .campaign-banner").all():
        expect(chrome).to_be_hidden()
    expect(page.get_by_text("No goods or services were provided")).to_be_visible()
    page.emulate_media(media="screen")
    page.go_back()

    page.get_by_text("Cancel this gift").click()
    page.get_by_label("Would you tell us why?").fill("Trying a yearly gift instead")
    page.get_by_label("Now", exact=True).check()  # not at the end of the paid month
    page.get_by_role("button", name="Cancel my recurring gift").click()
    expect(page.get_by_text("Your recurring gift has been canceled.")).to_be_visible()
    expect(page.get_by_text(re.compile("Ended on"))).to_be_visible()

    db.session.rollback()
    gift = db.session.scalar(select(RecurringGift))
    assert (gift.status, gift.amount_cents, gift.fee_cents) == ("canceled", 1885, 85)
    assert gift.cancel_reason == "Trying a yearly gift instead"
    assert db.session.scalar(select(Donation)).amount_cents == 1885


def test_gift_form_errors_show_next_to_the_field_without_javascript(browser, live_server):
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    page.goto("/donate?amount=18&frequency=monthly")
    expect(page.get_by_label("Amount")).to_have_value("18")
    expect(page.locator("#fee-preview")).to_contain_text("$0.85")
    page.get_by_label("Amount").fill("10.555")
    page.get_by_label("E-mail address").fill("someone@example.org")
    page.get_by_role("button", name="Continue to secure payment").click()
    expect(page.locator("#amount-error")).to_have_text("Please use at most 2 decimals.")
    context.close()


def test_a_guest_fixes_a_failed_card_from_the_mail_link(page):
    """No account: the failure mail's link opens the gift's own page, whose card button
    goes to the (sandbox) Customer Portal and back."""
    page.goto("/donate?frequency=monthly&amount=18")
    page.get_by_label("E-mail address").fill("guest@example.org")
    page.get_by_role("button", name="Continue to secure payment").click()
    page.get_by_role("button", name="Pay, then fail the next renewal").click()
    expect(page.get_by_role("heading", name="Thank you for your gift")).to_be_visible(
        timeout=15_000)
    db.session.rollback()
    failure = [m for m in outbox("guest@example.org") if m.template == "donations/payment_failed"]
    assert failure, "no failure mail"
    page.goto(last_link("guest@example.org"))
    expect(page.get_by_role("heading", name="Your recurring gift")).to_be_visible()
    expect(page.get_by_text("payment failed, retrying")).to_be_visible()
    screenshot(page, "manage-gift-failed")
    page.get_by_role("button", name="Update card").click()
    page.get_by_role("button", name="Save the new card").click()
    expect(page.get_by_text("Your card has been updated.")).to_be_visible()
    expect(page.get_by_role("heading", name="Your recurring gift")).to_be_visible()
    expect(page.locator(".badge")).to_have_text("active")
    db.session.rollback()
    assert db.session.scalar(select(RecurringGift.status)) == "active"
