"""axe-core on every page a visitor, a reader and staff can reach, at desktop and phone
widths: any WCAG 2.0, 2.1 or 2.2 A or AA violation fails the run, and so does a page that
scrolls sideways on a phone.

Each page is declared with the endpoint it must land on, so the list cannot drift from the
app: `test_every_page_is_declared` compares it with the URL map."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import current_app
from sqlalchemy import select

from membership.accounts.services import request_password_reset
from membership.admin.audit import changes
from membership.admin.models import AuditEntry
from membership.donations.donors import link_donor_to_account
from membership.donations.giving import manage_link, receipt_token
from membership.donations.models import Donation
from membership.extensions import db
from membership.mail.models import OutboxMessage
from membership.newsletter.services import subscribe, subscribe_account, subscriber_token
from membership.payments.models import StripeEvent
from membership.topics.demo import seed_demo_stories
from membership.topics.models import Topic
from membership.topics.services import follow, seed_topics
from membership.types import utcnow
from tests import stripe_payloads as sp
from tests.browser.conftest import REQUIRED, log_in, screenshot
from tests.builders import failing_inserts, give, last_link, make_campaign, pay, recurring

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}

# GET endpoints that answer with something other than a page of their own.
NOT_PAGES = {
    "static", "site.healthz", "site.readyz", "observability.metrics",
    "accounts.export_data", "admin.analytics_json", "admin.summary_json",
    "admin.retention_json", "admin.donations_csv", "admin.lybunt_csv", "admin.sybunt_csv",
    "campaigns.progress_json",
    # PDFs (tests/test_receipts.py reads them back).
    "donations.public_receipt_pdf", "donations.receipt_pdf_download",
    "donations.statement_pdf_download",
    # A good link redirects to the account page with a notice; a bad one is checked.
    "accounts.confirm_email_change",
}


@dataclass(frozen=True)
class Page:
    endpoint: str
    path: str
    # Something a person does on the page before it is checked again (a form sent empty).
    then: Callable | None = None


def send_empty(page) -> None:
    """Submit the page's main form as it is, past the browser's own checks, to see the
    server's errors."""
    page.locator("main form").last.evaluate("form => { form.noValidate = true }")
    page.locator("main form").last.locator("button[type=submit], button:not([type])").first.click()
    page.wait_for_load_state()


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        message = f"{AXE} is missing: run `make browser` (npm ci installs axe-core)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text(encoding="utf-8")


@dataclass
class World:
    """What the pages show: ids and signed links made the way the app makes them."""
    running: str
    ended: str
    campaign_id: int
    topic_id: int
    reader_donation: int
    donor_id: int
    event_id: str
    message_id: int
    guest_receipt: str
    subscriber_link: str
    confirm_link: str
    reset_link: str
    manage_link: str
    year: int


@pytest.fixture
def world(app, client, reader, staff) -> World:
    now = utcnow()
    seed_topics()
    seed_demo_stories(now)
    db.session.commit()
    running = make_campaign("20th-anniversary", featured=True, milestones=[
        {"at": 250_000, "label": "A new reporter in Gaza"}])
    make_campaign("spring-appeal", title="Spring appeal", starts_at=now - timedelta(days=90),
                  ends_at=now - timedelta(days=60))
    for topic in db.session.scalars(select(Topic).where(Topic.slug.in_(["gaza", "pakistan"]))):
        follow(reader, topic)
    subscribe_account(reader, None)
    db.session.commit()

    give(3_600, "reader@example.org", name="Rana")
    monthly = recurring(1_500, "monthly", "reader@example.org", now - timedelta(days=40))
    pay(monthly, now - timedelta(days=40))
    pay(monthly, now - timedelta(days=10))
    give(50_000, "guest@example.org", name="Guest Giver", campaign="spring-appeal",
         at=now - timedelta(days=70))
    give(12_500, "anon@example.org", anonymous=True, dedication=("memory", "Layla"))
    link_donor_to_account(reader)
    db.session.commit()

    guest = db.session.scalar(select(Donation).where(Donation.amount_cents == 50_000))
    mine = db.session.scalar(select(Donation).where(Donation.amount_cents == 3_600))
    guest_subscriber = subscribe("subscriber@example.org", None)
    db.session.commit()

    evt = sp.event("checkout.session.completed", sp.checkout_session(amount=4200))
    with failing_inserts("donations"):
        assert sp.post_event(client, current_app, evt).status_code == 500
    db.session.add(AuditEntry(
        actor_id=staff.id, actor_email=staff.email, action="campaign.edit",
        target=running.slug, details=changes(
            {"goal": 500_000, "featured": False, "milestones": []},
            {"goal": 1_000_000, "featured": True,
             "milestones": [{"at": 250_000, "label": "A new reporter in Gaza"}]})))
    request_password_reset("reader@example.org")
    db.session.commit()

    world = World(
        running=running.slug, ended="spring-appeal", campaign_id=running.id,
        topic_id=db.session.scalar(select(Topic.id).where(Topic.slug == "gaza")),
        reader_donation=mine.id, donor_id=guest.donor_id,
        event_id=db.session.scalar(select(StripeEvent.stripe_id)),
        message_id=db.session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id)),
        guest_receipt=receipt_token(guest),
        subscriber_link=subscriber_token(guest_subscriber.public_id),
        confirm_link=last_link("subscriber@example.org"),
        reset_link=last_link("reader@example.org"),
        manage_link=urlsplit(manage_link(monthly)).path,
        year=datetime.now(UTC).year,
    )
    db.session.rollback()  # the server writes next: hold no read transaction open
    return world


def visitor_pages(world: World) -> list[Page]:
    return [
        Page("site.home", "/"),
        Page("campaigns.index", "/campaigns/"),
        Page("campaigns.page", f"/campaigns/{world.running}"),
        Page("campaigns.page", f"/campaigns/{world.ended}"),
        Page("donations.donate", "/donate", then=send_empty),
        Page("donations.donate", f"/donate?campaign={world.ended}"),
        Page("donations.public_receipt", f"/donate/receipt/{world.guest_receipt}"),
        Page("topics.index", "/topics"),
        Page("newsletter.subscribe", "/newsletter", then=send_empty),
        Page("newsletter.confirm", world.confirm_link),
        Page("newsletter.confirm", "/newsletter/confirm/not-a-link"),
        Page("newsletter.preferences", f"/newsletter/preferences/{world.subscriber_link}"),
        Page("newsletter.unsubscribe", f"/newsletter/unsubscribe/{world.subscriber_link}"),
        Page("accounts.login", "/account/login", then=send_empty),
        Page("accounts.signup", "/account/signup", then=send_empty),
        Page("accounts.forgot_password", "/account/forgot-password", then=send_empty),
        Page("accounts.reset_password", world.reset_link, then=send_empty),
        Page("accounts.verify_email", "/account/verify/not-a-link"),
        Page("accounts.sign_in_link", "/account/login/link", then=send_empty),
        Page("donations.manage_gift", world.manage_link),
        Page("accounts.sign_in_with_link", "/account/login/link/not-a-link"),
    ]


def reader_pages(world: World) -> list[Page]:
    return [
        Page("accounts.account", "/account"),
        Page("donations.giving", "/account/giving"),
        Page("donations.receipt", f"/account/giving/{world.reader_donation}/receipt"),
        Page("donations.statement", f"/account/giving/statement/{world.year}"),
        Page("topics.my_news", "/my-news"),
        Page("topics.index", "/topics"),
    ]


def staff_pages(world: World) -> list[Page]:
    return [
        Page("admin.home", "/admin/"),
        Page("admin.donations", "/admin/donations"),
        Page("admin.donors", "/admin/donors"),
        Page("admin.donor", f"/admin/donors/{world.donor_id}"),
        Page("admin.events", "/admin/events"),
        Page("admin.event_detail", f"/admin/events/{world.event_id}"),
        Page("admin.campaigns", "/admin/campaigns"),
        Page("admin.new_campaign", "/admin/campaigns/new", then=send_empty),
        Page("admin.edit_campaign", f"/admin/campaigns/{world.campaign_id}/edit"),
        Page("admin.confirm_end_campaign", f"/admin/campaigns/{world.campaign_id}/end"),
        Page("admin.topics", "/admin/topics"),
        Page("admin.edit_topic", f"/admin/topics/{world.topic_id}/edit"),
        Page("admin.outbox", "/admin/outbox"),
        Page("admin.outbox_message", f"/admin/outbox/{world.message_id}"),
        Page("admin.audit", "/admin/audit"),
        Page("admin.retention_page", "/admin/retention"),
        Page("admin.analytics", "/admin/analytics"),
    ]


def checked_in_the_browser() -> set[str]:
    """Pages only reached through a click: the sandbox's checkout and card pages, the
    thank-you page (see test_a_gift_in_the_sandbox_passes_axe)."""
    return {"sandbox.checkout", "sandbox.update_card", "donations.thank_you"}


# The first elements whose right edge is past the window's, to say what widens a page.
WIDE = """() => [...document.querySelectorAll("body *")]
  .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 4).map(el => el.tagName.toLowerCase() + (el.className ? "." + el.className : ""))"""


def violations(page, axe_source: str) -> list[str]:
    page.add_script_tag(content=axe_source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_A_AA)
    found = [
        f"{rule['id']} ({rule['impact']}): {rule['help']}: "
        + "; ".join(" ".join(node["target"]) for node in rule["nodes"][:4])
        for rule in result["violations"]
    ]
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if overflow > 0:
        found.append(f"scrolls sideways by {overflow}px: {', '.join(page.evaluate(WIDE))}")
    return found


# What the keyboard has focused, and whether a person can see it: an outline or a ring on
# the element, or on the label drawn in place of a hidden radio button.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const ringed = node => {
    const style = getComputedStyle(node);
    return (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2)
      || style.boxShadow !== "none";
  };
  const shown = ringed(el) || [...(el.labels || [])].some(ringed);
  const name = (el.getAttribute("aria-label") || el.textContent || el.name || "").trim();
  const what = `${el.tagName.toLowerCase()} "${name.slice(0, 40)}"`;
  return {key: el.outerHTML.slice(0, 80), shown, what};
}"""


def invisible_focus(page, limit: int = 120) -> list[str]:
    """Tab through the page from the top: every stop must show where the focus is."""
    page.locator("body").focus()
    page.evaluate("() => document.activeElement.blur()")
    seen, problems = set(), []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None or focused["key"] in seen:
            break
        seen.add(focused["key"])
        if not focused["shown"]:
            problems.append(f"focus not visible on {focused['what']}")
    return problems


def audit(context, pages: list[Page], axe_source: str, name: str) -> None:
    page = context.new_page()
    page.set_default_timeout(10_000)
    adapter = current_app.url_map.bind("localhost")
    problems: list[str] = []
    for declared in pages:
        page.goto(declared.path)
        path = urlsplit(page.url).path
        landed, _ = adapter.match(path)
        assert landed == declared.endpoint, f"{declared.path} landed on {landed}"
        problems += [f"{declared.path}: {found}" for found in violations(page, axe_source)]
        problems += [f"{declared.path}: {found}" for found in invisible_focus(page)]
        if declared.then:
            declared.then(page)
            problems += [f"{declared.path} (after sending): {found}"
                         for found in violations(page, axe_source)]
    screenshot(page, f"a11y-{name}")
    assert not problems, "\n".join(problems)


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def width(request):
    return request.param


@pytest.fixture
def new_context(browser, live_server, width):
    contexts = []

    def new_context(language: str = "en"):
        context = browser.new_context(base_url=live_server, viewport=WIDTHS[width],
                                      bypass_csp=True)  # axe is injected inline
        context.add_cookies([{"name": "language", "value": language, "url": live_server}])
        contexts.append(context)
        return context

    yield new_context
    for context in contexts:
        context.close()


# Right to left too: every page in Arabic or Hebrew, a visitor's in both.
@pytest.mark.parametrize("language", ["en", "ar", "he"])
def test_visitor_pages_pass_axe(new_context, world, axe_source, width, language):
    audit(new_context(language), visitor_pages(world), axe_source,
          f"visitor-{language}-{width}")


@pytest.mark.parametrize("language", ["en", "ar"])
def test_reader_pages_pass_axe(new_context, world, axe_source, width, language):
    context = new_context(language)
    log_in(context.new_page(), "reader@example.org", "a sturdy passphrase")
    audit(context, reader_pages(world), axe_source, f"reader-{language}-{width}")


@pytest.mark.parametrize("language", ["en", "he"])
def test_staff_pages_pass_axe(new_context, world, axe_source, width, language):
    context = new_context(language)
    log_in(context.new_page(), "editor@example.org", "another sturdy passphrase")
    audit(context, staff_pages(world), axe_source, f"staff-{language}-{width}")


def test_a_gift_in_the_sandbox_passes_axe(new_context, world, axe_source):
    context = new_context()
    log_in(context.new_page(), "reader@example.org", "a sturdy passphrase")
    page = context.new_page()
    page.goto("/donate")
    page.get_by_label("Amount").fill("25")
    page.get_by_role("button", name="Continue to secure payment").click()
    page.wait_for_url("**/sandbox/checkout/**")
    problems = [f"checkout: {found}" for found in violations(page, axe_source)]
    page.get_by_role("button", name="Pay", exact=True).click()
    page.wait_for_url("**/donate/thank-you**")
    problems += [f"thank-you: {found}" for found in violations(page, axe_source)]
    page.get_by_role("heading", name="Thank you for your gift").wait_for(timeout=15_000)
    problems += [f"thank-you, confirmed: {found}" for found in violations(page, axe_source)]

    page.goto("/account/giving")
    page.get_by_role("button", name="Update card").first.click()
    page.wait_for_url("**/sandbox/update-card/**")
    problems += [f"update card: {found}" for found in violations(page, axe_source)]
    assert not problems, "\n".join(problems)


def test_every_page_is_declared(app):
    """Every GET endpoint that answers with a page is in one of the lists above."""
    world = World(*(["x"] * 14))
    declared = {page.endpoint for pages in (visitor_pages, reader_pages, staff_pages)
                for page in pages(world)} | checked_in_the_browser()
    pages = {rule.endpoint for rule in app.url_map.iter_rules()
             if "GET" in rule.methods} - NOT_PAGES
    assert pages - declared == set(), "pages nobody checks"
    assert declared - pages == set(), "declared pages that do not exist"
