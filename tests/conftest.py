"""Fixtures: a real database (SQLite by default, PostgreSQL with TEST_DATABASE_URL),
migrated once per run and emptied after every test."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from contextvars import Token

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from flask.globals import _cv_app
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, delete, text
from werkzeug.serving import make_server

from membership import create_app
from membership.extensions import db, limiter
from membership.mail.services import SMTPSettings
from tests.builders import make_user
from tests.fake_stripe import FakeStripeServer
from tests.stripe_payloads import post_event

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"'
                        r'|name="csrf_token" value="([^"]+)"')


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if TEST_DATABASE_URL.startswith("postgresql"):
        _reset_postgres(TEST_DATABASE_URL)
        url = TEST_DATABASE_URL
    else:
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        url = TEST_DATABASE_URL or f"sqlite:///{path}"
    app = create_app({"MEMBERSHIP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


def app_config(database_url: str, **overrides) -> dict:
    return {
        "MEMBERSHIP_ENV": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SITE_URL": "http://membership.test",
        "MAIL_URL": "",
        "RATELIMIT_ENABLED": True,
        "PAYMENTS_GATEWAY": "sandbox",
        **overrides,
    }


def empty_database() -> None:
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(delete(table))
    db.session.commit()


class IsolatedRequestsClient(FlaskClient):
    """Runs each request in an app context of its own, as in production.

    Tests hold an app context open to use the database; without this, requests would
    reuse it and share `g` (the logged-in user) and the database session with the test
    and with each other. After each request the test's own session starts afresh, so
    it sees what the request committed."""

    def open(self, *args, **kwargs):
        # A streamed body is read inside the request's own context, as a server would.
        kwargs.setdefault("buffered", True)
        outer = _cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(outer)
            if outer.old_value is not Token.MISSING and outer.old_value is not None:
                db.session.rollback()


@pytest.fixture
def app_overrides() -> dict:
    """Settings a test module changes for its app (override this fixture)."""
    return {}


@pytest.fixture
def app(database_url, app_overrides):
    app = create_app(app_config(database_url, **app_overrides))
    app.test_client_class = IsolatedRequestsClient
    with app.app_context():
        yield app
        db.session.rollback()
        empty_database()
        db.session.remove()
        db.engine.dispose()
    limiter.reset()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no csrf_token in the page"
    return match.group(1) or match.group(2)


class Browserless:
    """Posts forms the way a browser would: fetch the page, send its CSRF token back."""

    def __init__(self, client):
        self.client = client

    def token(self, page: str = "/account/login") -> str:
        return csrf_token_from(self.client.get(page).get_data(as_text=True))

    def post(self, url: str, data: dict | None = None, page: str | None = None, **kwargs):
        form = {"csrf_token": self.token(page or url), **(data or {})}
        return self.client.post(url, data=form, **kwargs)

    def login(self, email: str, password: str, **extra):
        return self.post("/account/login", {"email": email, "password": password, **extra})


@pytest.fixture
def forms(client) -> Browserless:
    return Browserless(client)


@pytest.fixture
def reader(app):
    return make_user("reader@example.org", "a sturdy passphrase", name="Rana")


@pytest.fixture
def staff(app):
    return make_user("editor@example.org", "another sturdy passphrase", staff=True)


@pytest.fixture
def staff_client(client, forms, staff):
    forms.login("editor@example.org", "another sturdy passphrase")
    return client


@pytest.fixture
def reader_client(app, forms, reader):
    forms.login("reader@example.org", "a sturdy passphrase")
    return forms.client


@pytest.fixture
def send(app, client):
    """Posts a Stripe event to the webhook, signed with the app's secret."""
    def send(evt, **kwargs):
        return post_event(client, app, evt, **kwargs)
    return send


@pytest.fixture
def fake_stripe():
    with FakeStripeServer() as fake:
        yield fake


@pytest.fixture
def stripe_settings(fake_stripe) -> dict:
    """The real Stripe gateway, talking to the local fake Stripe API."""
    return {"PAYMENTS_GATEWAY": "stripe", "STRIPE_SECRET_KEY": "sk_test_fake",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_fake", "STRIPE_WEBHOOK_SECRET": "whsec_test_fake",
            "STRIPE_API_BASE": fake_stripe.url}


@contextmanager
def serving(database_url: str, **overrides):
    """A second app instance on the same database, served over real HTTP by a threaded
    server on a free local port. Yields the base URL."""
    server = make_server("127.0.0.1", 0, None, threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    served = create_app(app_config(database_url, SITE_URL=base_url, **overrides))
    server.app = served
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with served.app_context():
            db.engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox(Message):
    """A real SMTP server's handler that keeps what it receives and can refuse recipients."""

    def __init__(self):
        super().__init__()
        self.messages = []
        self.refuse = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def handle_message(self, message):
        self.messages.append(message)


@pytest.fixture
def smtp_server():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, SMTPSettings.from_url(f"smtp://127.0.0.1:{controller.port}?tls=none")
    controller.stop()


# Commands, run as a deployment runs them ----------------------------------------------------

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLASK = os.path.join(os.path.dirname(sys.executable), "flask")
SITE_URL = "https://members.example.test"
SECRET_KEY = "a production secret"


def deployment_environment(database_url: str, **settings: str) -> dict[str, str]:
    """Production settings and nothing else: no server name, no test configuration."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
            "MEMBERSHIP_ENV": "production", "SECRET_KEY": SECRET_KEY,
            "STRIPE_SECRET_KEY": "sk_test_deployed", "STRIPE_PUBLISHABLE_KEY": "pk_test_deployed",
            "STRIPE_WEBHOOK_SECRET": "whsec_deployed", "SITE_URL": SITE_URL,
            "DATABASE_URL": database_url, **settings}


@pytest.fixture
def flask_command(app, database_url):
    """Runs `flask --app wsgi ARGS…` in a subprocess from the project folder, on the test
    database, with production settings (plus `settings`); the test's own session is
    finished first and starts afresh after, so it sees what the command committed."""

    def run(*args: str, **settings: str) -> subprocess.CompletedProcess:
        db.session.commit()  # ends the test's transaction; objects load afresh after
        result = subprocess.run(
            [FLASK, "--app", "wsgi", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
            env=deployment_environment(database_url, **settings), timeout=180, check=False)
        assert "Traceback" not in result.stderr, result.stderr
        return result

    return run
