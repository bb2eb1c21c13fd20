"""A live server on a free local port and Debian's Chromium driven by Playwright.

Without /usr/bin/chromium these tests skip, unless BROWSER_TESTS_REQUIRED=1 (CI), which
turns the skip into a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import serving

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
REQUIRED = os.environ.get("BROWSER_TESTS_REQUIRED", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def live_server(app, database_url):
    """The app served over real HTTP by a second app instance on the same database."""
    # The sandbox answers after a second, as Stripe's webhooks come after the redirect.
    with serving(database_url, RATELIMIT_ENABLED=False, SANDBOX_DELIVERY_DELAY=1.0) as base_url:
        yield base_url


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def log_in(page, email: str, password: str, start: str = "/account/login") -> None:
    """Log in through the form, from `start` (a log-in page, perhaps with a `next`), in
    whatever language the page is in."""
    page.goto(start)
    form = page.locator("main form:has(input[type=password])")
    form.locator("input[type=email]").fill(email)
    form.locator("input[type=password]").fill(password)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
