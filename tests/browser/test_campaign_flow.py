from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.builders import give, make_campaign

pytestmark = pytest.mark.browser


@pytest.fixture
def anniversary(app):
    campaign = make_campaign(
        featured=True, title="Twenty years of reporting", goal=1_000_000,
        appeal="Mark our anniversary with a gift.", suggested_amounts=[2000, 5000],
        story="Twenty years ago we filed our first story.\n\n- Kabul\n- Gaza\n- Lahore",
        sponsor_name="Founding Readers", match_sponsor_part=1, match_gift_part=1,
        match_cap_cents=100_000,
        milestones=[{"at": 20_000, "label": "A first stringer"}])
    give(10_000, "amina@example.org", name="Amina Rahimi")
    give(5000, "anon@example.org", anonymous=True)
    return campaign


def test_a_reader_follows_the_banner_gives_and_sees_the_bar_move(page, anniversary):
    page.goto("/")
    page.get_by_role("link", name="Twenty years of reporting: see how far we are").click()
    bar = page.get_by_role("progressbar", name="Progress toward the goal")
    expect(bar).to_have_attribute("aria-valuetext", "$300 of $10,000 (3%)")
    expect(page.get_by_text("Every gift is matched by Founding Readers")).to_be_visible()
    expect(page.get_by_text("A first stringer")).to_be_visible()
    expect(page.locator(".supporters")).to_contain_text("Amina")
    expect(page.locator(".supporters")).to_contain_text("Anonymous")
    screenshot(page, "campaign-desktop")

    page.get_by_role("link", name="Give to this campaign").click()
    expect(page.get_by_text("Your gift counts toward the campaign “Twenty years of "
                            "reporting”.")).to_be_visible()
    page.get_by_role("link", name="$50", exact=True).click()
    page.get_by_label("E-mail address").fill("omar@example.org")
    page.get_by_role("button", name="Continue to secure payment").click()
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("heading", name="Thank you for your gift")).to_be_visible(
        timeout=15_000)

    page.goto("/campaigns/20th-anniversary")
    expect(page.get_by_role("progressbar")).to_have_attribute(
        "aria-valuetext", "$400 of $10,000 (4%)")
    expect(page.locator('[data-field="donors"]')).to_have_text("3")


def test_the_campaign_page_fits_a_phone(browser, live_server, anniversary):
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844},
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto("/campaigns/20th-anniversary")
    expect(page.get_by_role("progressbar")).to_be_visible()
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "campaign-phone")
    context.close()
