"""Arabic and Hebrew in Chromium at desktop and phone widths: the pages people give and
report from lay out mirrored, nothing is wider than the window, the progress bar fills
from the right, and the charts run from the right. Screenshots land in test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import png
import pytest
from playwright.sync_api import expect

from membership.donations.donors import link_donor_to_account
from membership.extensions import db
from tests.browser.conftest import log_in, screenshot
from tests.builders import give, make_campaign, pay, recurring

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
ACCENT = (0x7A, 0x2E, 0x1D)  # --accent in site.css: the bar's filled part


@pytest.fixture
def giving(app, reader, staff):
    now = datetime.now(UTC)
    make_campaign(featured=True, goal=100_000, title="Twenty years")
    give(30_000, "reader@example.org", name="Rana")
    monthly = recurring(1_500, "monthly", "reader@example.org", now - timedelta(days=40))
    pay(monthly, now - timedelta(days=10))
    link_donor_to_account(reader)
    db.session.commit()


def filled_side(page, selector: str) -> str:
    """Which half of the element the accent colour sits in, read off a screenshot."""
    width, height, rows, _info = png.Reader(
        bytes=page.locator(selector).first.screenshot()).asRGBA8()
    row = list(rows)[height // 2]
    filled = [x for x in range(width)
              if all(abs(row[4 * x + i] - ACCENT[i]) < 40 for i in range(3))]
    assert filled, "no filled part drawn"
    return "right" if sum(filled) / len(filled) > width / 2 else "left"


def overflow(page) -> int:
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.mark.parametrize("language", ["ar", "he"])
@pytest.mark.parametrize("width", list(WIDTHS))
def test_pages_lay_out_right_to_left(browser, live_server, giving, language, width):
    context = browser.new_context(base_url=live_server, viewport=WIDTHS[width])
    context.add_cookies([{"name": "language", "value": language, "url": live_server}])
    page = context.new_page()
    problems = []
    for name, path in (("home", "/"), ("donate", "/donate"),
                       ("campaign", "/campaigns/20th-anniversary")):
        page.goto(path)
        assert page.evaluate("document.documentElement.dir") == "rtl"
        if overflow(page) > 0:
            problems.append(f"{path} scrolls sideways by {overflow(page)}px")
        screenshot(page, f"{language}-{name}-{width}")
    # The bar is a third full: its filled third is on the right.
    assert filled_side(page, "progress.progress-track") == "right"
    brand = page.locator(".brand").bounding_box()
    assert brand["x"] > WIDTHS[width]["width"] / 2 - brand["width"], "the name is not on the right"

    log_in(page, "reader@example.org", "a sturdy passphrase",
           start="/account/login?next=/account/giving")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    if overflow(page) > 0:
        problems.append(f"/account/giving scrolls sideways by {overflow(page)}px")
    screenshot(page, f"{language}-giving-{width}")
    context.clear_cookies()  # signed out
    context.add_cookies([{"name": "language", "value": language, "url": live_server}])

    log_in(page, "editor@example.org", "another sturdy passphrase",
           start="/account/login?next=/admin/")
    expect(page.locator(".chart-svg").first).to_be_visible()
    if overflow(page) > 0:
        problems.append(f"/admin/ scrolls sideways by {overflow(page)}px")
    # Time runs from the right: the first period's label is right of the last one's.
    labels = page.locator(".chart-svg").first.locator("text[text-anchor=middle]")
    first, last = labels.first.bounding_box(), labels.last.bounding_box()
    assert first["x"] > last["x"]
    screenshot(page, f"{language}-dashboard-{width}")
    context.close()
    assert not problems, "\n".join(problems)


def test_english_bar_still_fills_from_the_left(page, giving):
    page.goto("/campaigns/20th-anniversary")
    assert filled_side(page, "progress.progress-track") == "left"


def test_the_language_switch_works_without_javascript(browser, live_server):
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    page.goto("/donate?amount=18")
    page.locator("footer").get_by_role("button", name="العربية").click()
    assert page.url.endswith("/donate?amount=18")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("footer").get_by_role("button", name="العربية")).to_have_attribute(
        "aria-current", "true")
    page.locator("footer").get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    context.close()
