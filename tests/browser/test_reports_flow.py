from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.builders import give, make_campaign, pay, recurring

pytestmark = pytest.mark.browser


@pytest.fixture
def last_year(app, staff):
    year = datetime.now(UTC).year - 1
    make_campaign("spring", starts_at=datetime(year, 3, 1, tzinfo=UTC),
                  ends_at=datetime(year, 4, 1, tzinfo=UTC), goal=100_000)
    for month in range(1, 13):
        give(2_500 * month, f"reader{month}@example.org", campaign=None,
             at=datetime(year, month, 10, 12, tzinfo=UTC))
    give(5_000, "spring@example.org", campaign="spring", at=datetime(year, 3, 15, tzinfo=UTC))
    monthly = recurring(1_800, "monthly", "monthly@example.org",
                        datetime(year, 2, 1, tzinfo=UTC))
    for month in range(2, 13):
        pay(monthly, datetime(year, month, 1, 9, tzinfo=UTC))
    return year


def test_staff_read_last_year_and_download_the_csv(page, last_year):
    page.goto("/account/login?next=/admin/")
    page.get_by_label("E-mail address").fill("editor@example.org")
    page.get_by_label("Password").fill("another sturdy passphrase")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()

    page.get_by_role("link", name="Last year").click()
    period = f"{last_year}-01-01 to {last_year}-12-31"
    expect(page.get_by_role("heading", name=period)).to_be_visible()
    gross = page.locator(".stat", has_text="Gross")
    expect(gross).to_contain_text("$2,198")  # 2,500 x 78 + 5,000 + 11 x 1,800 cents
    charts = page.get_by_role("img")
    expect(charts).to_have_count(4)
    for index in range(4):
        box = charts.nth(index).bounding_box()
        assert box and box["width"] > 200 and box["height"] > 60
    expect(page.locator("#gross-title")).to_contain_text("Gross by week")
    page.get_by_text("The figures as a table").first.click()
    expect(page.locator(".chart-table table").first).to_be_visible()
    screenshot(page, "dashboard-last-year")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download donations (CSV)").click()
    path = download.value.path()
    text = path.read_text(encoding="utf-8-sig")
    assert download.value.suggested_filename == f"donations-{last_year}-01-01-{last_year}-12-31.csv"
    assert text.splitlines()[0].startswith("donation_id,created_at,donor_email")
    assert len(text.splitlines()) == 1 + 12 + 1 + 11


def test_staff_follow_the_nav_to_retention_and_analytics(page, last_year):
    page.goto("/account/login?next=/admin/")
    page.get_by_label("E-mail address").fill("editor@example.org")
    page.get_by_label("Password").fill("another sturdy passphrase")
    page.get_by_role("button", name="Log in").click()
    nav = page.get_by_role("navigation", name="Admin")
    nav.get_by_role("link", name="Retention").click()
    expect(page.get_by_role("heading", name="Retention", exact=True)).to_be_visible()
    screenshot(page, "retention")

    nav.get_by_role("link", name="Analytics").click()
    expect(nav.get_by_role("link", name="Analytics")).to_have_attribute("aria-current", "page")
    page.get_by_label("Year (UTC)").fill(str(last_year))
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("Counted at")).to_be_visible()
    cohorts = page.get_by_role("table", name="Monthly gifts still giving, by cohort")
    expect(cohorts).to_be_visible()
    expect(cohorts.get_by_role("row", name=f"{last_year}-02")).to_contain_text("100.0 %")
    ranges = page.get_by_role("table", name="Gift ranges in USD")
    expect(ranges).to_be_visible()
    for chart in page.get_by_role("img").all():
        box = chart.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 40
    screenshot(page, "analytics")
