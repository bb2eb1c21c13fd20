"""Every command of the README and the contract, run as a deployment runs it: a subprocess
from the project folder, production settings, SITE_URL and no server name, on the test
database (SQLite or PostgreSQL). Each test checks what the command did, not only its exit."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from membership.accounts.models import User
from membership.campaigns.models import Campaign, CampaignStatus
from membership.campaigns.services import recounted_totals
from membership.donations.models import Donation
from membership.extensions import db
from membership.mail.models import MailStatus, OutboxMessage
from membership.mail.services import queue_mail, render_message
from membership.newsletter.models import Subscriber, SubscriberStatus
from membership.topics.models import Story, Topic
from membership.types import utcnow
from tests import stripe_payloads as sp
from tests.builders import outbox
from tests.conftest import SECRET_KEY, SITE_URL

CONTRACT_SLUGS = {"afghanistan", "gaza", "israel", "pakistan", "palestinian-territories", "uae"}


@pytest.fixture
def app_overrides() -> dict:
    # The pages the tests click through belong to the same deployment as the commands.
    return {"SITE_URL": SITE_URL, "SECRET_KEY": SECRET_KEY}


def mail_url(smtp_server) -> str:
    settings = smtp_server[1]
    return f"smtp://{settings.host}:{settings.port}?tls=none"


def one_error_line(result) -> str:
    """The one line a person reads; the structured log's JSON line may stand beside it."""
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("{")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    return lines[0]


# db upgrade ---------------------------------------------------------------------------------

@pytest.fixture
def empty_database_url(database_url, tmp_path):
    """A database of the same kind as the test database, with nothing in it."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path}/fresh.sqlite3"
        return
    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"{url.database}_fresh_upgrade"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_db_upgrade_migrates_an_empty_database_to_head(app, flask_command, empty_database_url):
    result = flask_command("db", "upgrade", DATABASE_URL=empty_database_url)
    assert result.returncode == 0, result.stderr
    engine = create_engine(empty_database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert set(db.metadata.tables) <= tables
    with db.engine.connect() as connection:  # the suite's database was migrated to head
        assert version == connection.execute(
            text("SELECT version_num FROM alembic_version")).scalar()
    again = flask_command("db", "upgrade", DATABASE_URL=empty_database_url)
    assert again.returncode == 0, again.stderr


# seed-demo ----------------------------------------------------------------------------------

def catalogue_counts() -> tuple[int, int, int]:
    return (db.session.scalar(select(func.count()).select_from(Topic)),
            db.session.scalar(select(func.count()).select_from(Campaign)),
            db.session.scalar(select(func.count()).select_from(Story)))


def test_seed_demo_adds_the_contract_content_once(app, flask_command):
    result = flask_command("seed-demo")
    assert result.returncode == 0, result.stderr
    assert "Demo content is in place." in result.stdout
    assert "Demo staff login" not in result.stdout  # no demo password in production
    slugs = set(db.session.scalars(select(Topic.slug)))
    assert slugs >= CONTRACT_SLUGS
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == "20th-anniversary"))
    assert campaign is not None and campaign.status(utcnow()) == CampaignStatus.ACTIVE
    first = catalogue_counts()
    assert first[2] > 0
    assert flask_command("seed-demo").returncode == 0
    assert catalogue_counts() == first


def test_seed_demo_with_donations_keeps_that_many_synthetic_gifts(app, flask_command):
    result = flask_command("seed-demo", "--donations", "40", MEMBERSHIP_ENV="development")
    assert result.returncode == 0, result.stderr
    assert "Demo staff login: staff@example.org" in result.stdout
    assert db.session.scalar(select(func.count()).select_from(Donation)) == 40
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == "20th-anniversary"))
    assert (campaign.raised_cents, campaign.donations, campaign.donors) == \
        recounted_totals(campaign)
    assert flask_command("seed-demo", "--donations", "40",
                         MEMBERSHIP_ENV="development").returncode == 0
    assert db.session.scalar(select(func.count()).select_from(Donation)) == 40


# create-staff -------------------------------------------------------------------------------

def test_create_staff_creates_an_account_that_can_log_in(app, flask_command, forms):
    result = flask_command("create-staff", "Editor@Example.org", "--password",
                           "a long staff passphrase")
    assert result.returncode == 0, result.stderr
    assert "Created staff account editor@example.org" in result.stdout
    user = db.session.scalar(select(User).where(User.email == "editor@example.org"))
    assert user.is_staff and user.email_verified_at is not None
    response = forms.login("editor@example.org", "a long staff passphrase")
    assert response.status_code == 302
    assert forms.client.get("/admin/").status_code == 200


def test_create_staff_makes_an_existing_account_staff(app, flask_command, reader):
    result = flask_command("create-staff", reader.email, "--password", "a new staff passphrase")
    assert result.returncode == 0, result.stderr
    assert "Updated staff account" in result.stdout
    assert db.session.get(User, reader.id).is_staff


@pytest.mark.parametrize("address", ["no-at-sign", "staff@localhost", "two@@example.org",
                                     "staff@example", " ", "a" * 330 + "@example.org"])
def test_create_staff_refuses_an_address_the_login_form_refuses(app, flask_command, address):
    result = flask_command("create-staff", address, "--password", "a long staff passphrase")
    assert result.returncode == 2
    assert "not an address that can log in" in one_error_line(result)
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_create_staff_refuses_a_weak_password_in_one_line(app, flask_command):
    result = flask_command("create-staff", "editor@example.org", "--password", "short")
    assert result.returncode == 2
    assert "--password" in one_error_line(result)


# mail deliver -------------------------------------------------------------------------------

def test_mail_deliver_hands_due_mail_to_the_smtp_server(app, flask_command, smtp_server):
    queue_mail("reader@example.org", "accounts/email_changed", "Your e-mail address was changed",
               new_email="reader@example.org")
    result = flask_command("mail", "deliver", MAIL_URL=mail_url(smtp_server),
                           MAIL_FROM="News <news@example.org>")
    assert result.returncode == 0, result.stderr
    assert "sent 1, retrying 0, failed 0" in result.stdout
    [message] = smtp_server[0].messages
    assert message["To"] == "reader@example.org" and message["From"] == "News <news@example.org>"
    assert [m.status for m in outbox()] == [MailStatus.SENT]


def test_mail_deliver_explains_a_missing_or_bad_mail_url(app, flask_command):
    result = flask_command("mail", "deliver")
    assert result.returncode == 2
    assert "MAIL_URL is not set" in one_error_line(result)
    result = flask_command("mail", "deliver", MAIL_URL="http://mail.example")
    assert result.returncode == 2
    assert "MAIL_URL must look like" in one_error_line(result)


# stripe reconcile ---------------------------------------------------------------------------

def test_reconcile_records_gifts_and_mails_receipt_links_under_site_url(
        app, flask_command, fake_stripe):
    session = sp.checkout_session(amount=3600, email="donor@example.org")
    fake_stripe.events = [sp.event("checkout.session.completed", session)]
    since = (utcnow() - timedelta(days=1)).date().isoformat()
    result = flask_command("stripe", "reconcile", "--since", since,
                           STRIPE_API_BASE=fake_stripe.url)
    assert result.returncode == 0, result.stderr
    assert "new: 1" in result.stdout
    [donation] = db.session.scalars(select(Donation))
    assert donation.amount_cents == 3600
    [thanks] = outbox("donor@example.org")
    links = re.findall(r"https?://[^\s\"<]+", render_message(thanks).text_body)
    assert links and all(link.startswith(SITE_URL + "/") for link in links)
    again = flask_command("stripe", "reconcile", "--since", since,
                          STRIPE_API_BASE=fake_stripe.url)
    assert "new: 0" in again.stdout and "already applied: 1" in again.stdout
    assert db.session.scalar(select(func.count()).select_from(Donation)) == 1
    assert len(outbox("donor@example.org")) == 1


@pytest.mark.parametrize("since", ["yesterday", "20260101", "2026-W01-1", "2026-02-30", ""])
def test_reconcile_refuses_a_day_that_is_not_yyyy_mm_dd(app, flask_command, since):
    result = flask_command("stripe", "reconcile", "--since", since)
    assert result.returncode == 2
    assert "YYYY-MM-DD" in one_error_line(result)


def test_reconcile_reports_an_unreachable_stripe_in_one_line(app, flask_command, fake_stripe):
    fake_stripe.fail_next = 100
    result = flask_command("stripe", "reconcile", "--since", "2026-01-01",
                           STRIPE_API_BASE=fake_stripe.url)
    assert result.returncode == 1
    assert "could not read Stripe's events" in one_error_line(result)


# articles import ----------------------------------------------------------------------------

def feed(path, *stories: tuple[str, datetime, str]) -> str:
    items = "".join(
        f"<item><title>{title}</title><link>https://news.example.org/{slug}</link>"
        f"<pubDate>{format_datetime(when)}</pubDate><category>Gaza</category></item>"
        for title, when, slug in stories)
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                    f"<title>Agency</title><link>https://news.example.org/</link>{items}"
                    f"</channel></rss>", encoding="utf-8")
    return str(path)


def test_articles_import_adds_each_story_once(app, flask_command, tmp_path):
    assert flask_command("seed-demo").returncode == 0
    before = db.session.scalar(select(func.count()).select_from(Story))
    source = feed(tmp_path / "feed.xml", ("Rafah crossing reopens", utcnow(), "rafah"))
    result = flask_command("articles", "import", source)
    assert result.returncode == 0, result.stderr
    assert "1 new stories" in result.stdout
    story = db.session.scalar(select(Story).where(Story.url == "https://news.example.org/rafah"))
    assert [topic.slug for topic in story.topics] == ["gaza"]
    again = flask_command("articles", "import", source)
    assert "0 new stories, 1 already known" in again.stdout
    assert db.session.scalar(select(func.count()).select_from(Story)) == before + 1


@pytest.mark.parametrize("source", ["/no/such/feed.xml", "tests/fixtures/feeds/broken.xml"])
def test_articles_import_refuses_an_unreadable_feed_in_one_line(app, flask_command, source):
    result = flask_command("articles", "import", source)
    assert result.returncode != 0
    one_error_line(result)
    assert db.session.scalar(select(func.count()).select_from(Story)) == 0


# newsletter send-digest ---------------------------------------------------------------------

def confirmed_subscriber(email: str) -> None:
    db.session.add(Subscriber(email=email, status=SubscriberStatus.CONFIRMED,
                              consent_version="2026-11-24",
                              consented_at=utcnow(), confirmed_at=utcnow()))


def test_send_digest_queues_each_subscriber_once_with_links_under_site_url(
        app, flask_command, tmp_path):
    confirmed_subscriber("reader@example.org")
    assert flask_command("seed-demo").returncode == 0
    day = date(2026, 3, 4)
    noon = datetime(2026, 3, 4, 12, tzinfo=UTC)
    assert flask_command("articles", "import",
                         feed(tmp_path / "f.xml", ("A story", noon, "a"))).returncode == 0
    result = flask_command("newsletter", "send-digest", "--date", day.isoformat())
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 digests queued")
    [digest] = outbox("reader@example.org")
    assert digest.headers["List-Unsubscribe"].startswith(f"<{SITE_URL}/newsletter/unsubscribe/")
    assert "A story" in render_message(digest).text_body
    again = flask_command("newsletter", "send-digest", "--date", day.isoformat())
    assert "0 digests queued (0 personal), 1 already sent" in again.stdout


@pytest.mark.parametrize("day", ["tomorrow", "2026-13-01", "20261125"])
def test_send_digest_refuses_a_bad_date_in_one_line(app, flask_command, day):
    result = flask_command("newsletter", "send-digest", "--date", day)
    assert result.returncode == 2
    assert "YYYY-MM-DD" in one_error_line(result)


def test_a_command_on_an_unreachable_database_says_so_in_one_line(app, flask_command, tmp_path):
    result = flask_command("newsletter", "send-digest",
                           DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/db.sqlite3")
    assert result.returncode == 1
    assert "the database did not answer" in one_error_line(result)


def test_production_refuses_to_run_a_command_without_site_url(app, flask_command):
    result = flask_command("newsletter", "send-digest", SITE_URL="")
    assert result.returncode == 1
    assert "SITE_URL must be set in production" in one_error_line(result)


# The daily e-mail, end to end ---------------------------------------------------------------

def path_of(url: str) -> str:
    assert url.startswith(SITE_URL + "/"), url
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def text_part(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


def test_daily_email_from_sign_up_to_one_click_unsubscribe(
        app, client, forms, flask_command, smtp_server, tmp_path):
    inbox = smtp_server[0]
    smtp = {"MAIL_URL": mail_url(smtp_server)}
    assert flask_command("seed-demo").returncode == 0

    # Sign up on the page; `mail deliver` hands the confirmation to the SMTP server.
    page = forms.post("/newsletter", {"email": "reader@example.org", "consent": "y"})
    assert page.status_code == 200
    assert flask_command("mail", "deliver", **smtp).returncode == 0
    [confirmation] = inbox.messages
    [link] = re.findall(r"https?://\S+/newsletter/confirm/\S+", text_part(confirmation))
    assert client.get(path_of(link)).status_code == 200
    subscriber = db.session.scalar(select(Subscriber).where(
        Subscriber.email == "reader@example.org"))
    assert subscriber.status == SubscriberStatus.CONFIRMED

    # Today's story and tomorrow's come in through the feed.
    today = utcnow().replace(microsecond=0)
    tomorrow = today + timedelta(days=1)
    source = feed(tmp_path / "today.xml", ("Talks resume in Doha", today, "doha"),
                  ("Aid convoy reaches Khan Younis", tomorrow, "convoy"))
    assert "2 new stories" in flask_command("articles", "import", source).stdout
    assert flask_command("newsletter", "send-digest").stdout.startswith("1 digests queued")
    assert "sent 1," in flask_command("mail", "deliver", **smtp).stdout
    digest = inbox.messages[-1]
    assert "Talks resume in Doha" in text_part(digest)
    unsubscribe = digest["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(f"{SITE_URL}/newsletter/unsubscribe/")
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The mail provider's one-click POST: no cookie, no CSRF token (RFC 8058).
    provider = app.test_client()
    response = provider.post(path_of(unsubscribe), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert db.session.get(Subscriber, subscriber.id).status == SubscriberStatus.UNSUBSCRIBED

    # Tomorrow's digest goes to the other subscribers, not to them.
    confirmed_subscriber("other@example.org")
    result = flask_command("newsletter", "send-digest", "--date", tomorrow.date().isoformat())
    assert result.stdout.startswith("1 digests queued"), result.stdout
    queued = db.session.scalars(select(OutboxMessage.recipient).where(
        OutboxMessage.template == "newsletter/digest")).all()
    assert sorted(queued) == ["other@example.org", "reader@example.org"]
