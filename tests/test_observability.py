"""Operating the service: structured logs, Prometheus metrics, the readiness probe."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate.cli import db as migrate_commands
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from membership import create_app
from membership.accounts.models import User
from membership.config import ConfigError, load_config
from membership.extensions import db
from membership.mail.models import MailStatus, OutboxMessage
from membership.mail.services import deliver_pending
from membership.newsletter.digest import send_digest
from membership.observability.metrics import counts_digest_runs
from membership.payments import webhook
from membership.payments.models import EventStatus, StripeEvent
from membership.types import utcnow
from tests import stripe_payloads as sp
from tests.builders import failing_inserts
from tests.conftest import app_config

PROJECT = Path(__file__).resolve().parent.parent
TOKEN = "scrape-me-0123456789"
SETTINGS = {"LOG_FORMAT": "json", "METRICS_TOKEN": TOKEN}
HEX_ID = r"[0-9a-f]{32}"


@pytest.fixture
def app_overrides() -> dict:
    return dict(SETTINGS)


def log_lines(stderr: str, logger: str | None = None) -> list[dict]:
    """The JSON log lines in `stderr` (of `logger` only, if given)."""
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if logger is None or line.get("logger") == logger]


def request_line(capsys, path: str) -> dict:
    [line] = [line for line in log_lines(capsys.readouterr().err, "membership.request")
              if line["path"] == path]
    return line


def sample(name: str, **labels) -> float:
    """A metric's current value in this process (0 when it was never recorded)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get("/metrics", headers=headers)


def scraped(body: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a /metrics body."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def subprocess_env(database_url: str, **extra: str) -> dict[str, str]:
    """Only what a deployment has: no server name, nothing from the test process."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": database_url,
            "SITE_URL": "https://members.example.test", **extra}


# Logs: requests --------------------------------------------------------------------------

def test_each_request_is_one_json_log_line(client, capsys):
    response = client.get("/healthz")
    line = request_line(capsys, "/healthz")
    assert line["level"] == "INFO"
    assert line["method"] == "GET" and line["status"] == 200
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["account_id"] is None
    assert line["remote_addr"] == "127.0.0.1"
    assert line["time"].endswith("+00:00")


def test_request_id_is_generated_when_no_proxy_is_trusted(client, capsys):
    response = client.get("/healthz", headers={"X-Request-ID": "from-the-outside"})
    request_id = response.headers["X-Request-ID"]
    assert request_id != "from-the-outside"
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    assert request_line(capsys, "/healthz")["request_id"] == request_id
    assert client.get("/healthz").headers["X-Request-ID"] != request_id


@pytest.mark.parametrize("app_overrides", [{**SETTINGS, "TRUSTED_PROXIES": 1}])
def test_request_id_from_a_trusted_proxy_is_kept(client, capsys):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a:0001/retry=2"})
    assert response.headers["X-Request-ID"] == "lb-7f3a:0001/retry=2"
    assert request_line(capsys, "/healthz")["request_id"] == "lb-7f3a:0001/retry=2"


@pytest.mark.parametrize("app_overrides", [{**SETTINGS, "TRUSTED_PROXIES": 1}])
@pytest.mark.parametrize("offered", ["", "two words", "x" * 129, "caf\xe9", "tab\there",
                                     '{"level": "ERROR"}'])
def test_a_request_id_that_is_not_sane_is_replaced(client, capsys, offered):
    response = client.get("/healthz", headers={"X-Request-ID": offered})
    request_id = response.headers["X-Request-ID"]
    assert request_id != offered and len(request_id) == 32
    assert request_line(capsys, "/healthz")["request_id"] == request_id


def test_signed_in_reader_is_logged_by_account_id(forms, reader, client, capsys):
    forms.login("reader@example.org", "a sturdy passphrase")
    capsys.readouterr()
    client.get("/account")
    assert request_line(capsys, "/account")["account_id"] == reader.id
    # A request that never looks at the reader is not made to load them for the log.
    client.get("/healthz")
    assert request_line(capsys, "/healthz")["account_id"] is None


def test_logging_never_breaks_a_request_that_signs_the_reader_in_again(forms, reader, capsys):
    # Changing the password calls login_user(current_user), which stores the proxy itself.
    forms.login("reader@example.org", "a sturdy passphrase")
    response = forms.post("/account/password", {"current_password": "a sturdy passphrase",
                                                 "password": "a brand new passphrase"},
                          page="/account")
    assert response.status_code == 302
    assert request_line(capsys, "/account/password")["status"] == 302


def test_unmatched_paths_are_logged_one_line_each_without_breaking_lines(client, capsys):
    client.get("/no/such%0Apage")
    [line] = log_lines(capsys.readouterr().err, "membership.request")
    assert line["path"] == "/no/such\npage" and line["status"] == 404


def test_logged_exceptions_stay_json_with_their_traceback(app, client, capsys):
    def boom():
        raise RuntimeError("the printer is on fire")

    app.add_url_rule("/boom", view_func=boom)
    response = client.get("/boom")
    assert response.status_code == 500
    lines = log_lines(capsys.readouterr().err)
    [error] = [line for line in lines if line["logger"] == "membership"]
    assert error["level"] == "ERROR"
    assert error["message"] == "unhandled error on GET /boom"
    assert "RuntimeError: the printer is on fire" in error["exc_info"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    [done] = [line for line in lines if line["logger"] == "membership.request"]
    assert done["status"] == 500


@pytest.mark.parametrize("app_overrides", [{"LOG_FORMAT": "text"}])
def test_text_logs_are_plain_lines(client, capsys):
    client.get("/healthz")
    err = capsys.readouterr().err
    assert "INFO membership.request: GET /healthz 200" in err
    assert log_lines(err) == []


def test_log_format_follows_the_environment(tmp_path):
    production = {"MEMBERSHIP_ENV": "production", "SECRET_KEY": "x", "STRIPE_SECRET_KEY": "sk",
                  "STRIPE_PUBLISHABLE_KEY": "pk", "STRIPE_WEBHOOK_SECRET": "wh",
                  "SITE_URL": "https://members.example.test"}
    assert load_config(str(tmp_path), production)["LOG_FORMAT"] == "json"
    for name in ("development", "testing"):
        assert load_config(str(tmp_path), {"MEMBERSHIP_ENV": name})["LOG_FORMAT"] == "text"
    assert load_config(str(tmp_path), {"MEMBERSHIP_ENV": "development",
                                       "LOG_FORMAT": " JSON "})["LOG_FORMAT"] == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        create_app({"MEMBERSHIP_ENV": "testing", "LOG_FORMAT": "xml",
                    "SQLALCHEMY_DATABASE_URI": "sqlite://"})


# Logs and metrics: Stripe events ---------------------------------------------------------

def test_each_webhook_event_is_logged_and_counted(app, client, capsys):
    labels = [("checkout.session.completed", "ignored"), ("other", "ignored"),
              ("unverified", "rejected")]
    before = [sample("stripe_webhook_events_total", type=kind, outcome=outcome)
              for kind, outcome in labels]
    handled = sp.event("checkout.session.completed", sp.checkout_session(metadata={}))
    unknown = sp.event("customer.created", {"id": "cus_1", "object": "customer"})
    for event in (handled, unknown):
        assert sp.post_event(client, app, event).get_json()["status"] == "ignored"
    assert sp.post_event(client, app, handled, secret="whsec_not_ours").status_code == 400

    lines = log_lines(capsys.readouterr().err, "membership.webhook")
    assert [(line["event_id"], line["event_type"], line["outcome"]) for line in lines] == [
        (handled["id"], "checkout.session.completed", "ignored"),
        (unknown["id"], "customer.created", "ignored"),
        (None, None, "rejected"),
    ]
    assert all(line["duration_ms"] >= 0 and len(line["request_id"]) == 32 for line in lines)
    assert "signature" in lines[2]["reason"] and lines[2]["level"] == "WARNING"
    # Types the app does not handle are counted together, so the label stays bounded.
    assert [sample("stripe_webhook_events_total", type=kind, outcome=outcome)
            for kind, outcome in labels] == [count + 1 for count in before]
    assert sample("stripe_webhook_events_total", type="customer.created",
                  outcome="ignored") == 0


def test_webhook_events_that_fail_are_logged_as_errors_and_wait_for_replay(
        app, client, capsys, monkeypatch):
    kind = "checkout.session.completed"
    before = [sample("stripe_webhook_events_total", type=kind, outcome=outcome)
              for outcome in ("store_failed", "failed", "processed")]
    event = sp.event(kind, sp.checkout_session())

    def database_away(event, raw):
        raise OperationalError("INSERT INTO stripe_events", {}, Exception("server closed"))

    with monkeypatch.context() as patched:
        patched.setattr(webhook, "store_event", database_away)
        assert sp.post_event(client, app, event).status_code == 503
    with failing_inserts("donations"):
        assert sp.post_event(client, app, event).status_code == 500
    lines = log_lines(capsys.readouterr().err)
    outcomes = [line for line in lines if line["logger"] == "membership.webhook"]
    assert [(line["event_id"], line["outcome"], line["level"]) for line in outcomes] == [
        (event["id"], "store_failed", "ERROR"), (event["id"], "failed", "ERROR")]
    # The app's own error lines, with their tracebacks, still come through, as JSON.
    errors = [line for line in lines if line["logger"] == "membership"]
    assert [line["message"] for line in errors] == [
        f"could not store Stripe event {event['id']}",
        f"could not apply Stripe event {event['id']}"]
    assert "server closed" in errors[0]["exc_info"]
    assert "injected failure" in errors[1]["exc_info"]
    assert value(scraped(scrape(client).get_data(as_text=True)), "stripe_events_failed") == 1

    assert sp.post_event(client, app, event).get_json()["status"] == "processed"
    assert value(scraped(scrape(client).get_data(as_text=True)), "stripe_events_failed") == 0
    assert [sample("stripe_webhook_events_total", type=kind, outcome=outcome)
            for outcome in ("store_failed", "failed", "processed")] == [
        count + 1 for count in before]


# Logs: commands --------------------------------------------------------------------------

def test_each_command_run_is_one_log_line(app, database_url):
    # Commands belong to blueprints shared by every app: another app must not log twice.
    other = create_app(app_config(database_url, **SETTINGS))
    with other.app_context():
        db.engine.dispose()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-staff", "ops@example.org",
                                 "--password", "a sturdy passphrase"])
    assert result.exit_code == 0, result.output
    [line] = log_lines(result.stderr, "membership.command")
    assert (line["command"], line["outcome"], line["exit_code"]) == ("create-staff", "ok", 0)
    assert line["duration_ms"] > 0 and line["level"] == "INFO"

    result = runner.invoke(args=["articles", "import", "/no/such/feed.xml"])
    assert result.exit_code != 0
    [line] = log_lines(result.stderr, "membership.command")
    assert (line["command"], line["outcome"]) == ("articles import", "error")
    assert line["exit_code"] == result.exit_code and line["level"] == "ERROR"

    result = runner.invoke(migrate_commands, ["current"])
    assert result.exit_code == 0, result.output
    [line] = log_lines(result.stderr, "membership.command")
    assert (line["command"], line["outcome"]) == ("db current", "ok")


def test_command_run_as_deployed_logs_json_on_stderr(app, database_url):
    env = subprocess_env(database_url, MEMBERSHIP_ENV="production", LOG_FORMAT="json",
                         SECRET_KEY="a-production-secret", STRIPE_SECRET_KEY="sk_test_x",
                         STRIPE_PUBLISHABLE_KEY="pk_test_x", STRIPE_WEBHOOK_SECRET="whsec_x")
    flask = Path(sys.executable).with_name("flask")
    result = subprocess.run([str(flask), "--app", "wsgi", "create-staff", "ops@example.org",
                             "--password", "a sturdy passphrase"], cwd=PROJECT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "{" not in result.stdout  # logs never mix with a command's output
    [line] = log_lines(result.stderr, "membership.command")
    assert (line["command"], line["outcome"], line["exit_code"]) == ("create-staff", "ok", 0)
    db.session.rollback()
    assert db.session.scalar(select(User.is_staff).where(User.email == "ops@example.org"))


# Metrics ---------------------------------------------------------------------------------

@pytest.mark.parametrize("app_overrides", [{"METRICS_TOKEN": ""}])
def test_metrics_are_off_without_a_token(client):
    assert scrape(client, token=None).status_code == 404
    assert scrape(client, token="anything").status_code == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"},
                                     {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": f"Bearer {TOKEN}x"}])
def test_metrics_need_the_bearer_token(client, headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "http_requests_total" not in response.get_data(as_text=True)


def test_metrics_count_requests_by_endpoint_never_by_path(client):
    before = scraped(scrape(client).get_data(as_text=True))
    for _ in range(3):
        client.get("/healthz")
    client.get("/no/such/page/12345")
    client.get("/no/such/page/67890")
    response = scrape(client)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    body = response.get_data(as_text=True)
    after = scraped(body)
    healthz = {"endpoint": "site.healthz", "method": "GET", "status": "200"}
    assert value(after, "http_requests_total", **healthz) == value(
        before, "http_requests_total", **healthz) + 3
    unmatched = {"endpoint": "unmatched", "method": "GET", "status": "404"}
    assert value(after, "http_requests_total", **unmatched) == value(
        before, "http_requests_total", **unmatched) + 2
    assert value(after, "http_request_duration_seconds_count", endpoint="site.healthz") == value(
        before, "http_request_duration_seconds_count", endpoint="site.healthz") + 3
    assert "/no/such/page" not in body


def test_metrics_read_failed_events_and_the_outbox_from_the_database(client):
    now = utcnow()
    statuses = (EventStatus.FAILED, EventStatus.FAILED, EventStatus.PROCESSED)
    for number, status in enumerate(statuses):
        db.session.add(StripeEvent(stripe_id=f"evt_obs_{number}", type="invoice.paid",
                                   created=now, payload="{}", status=status))
    for due_in, status in ((-120, MailStatus.PENDING), (-5, MailStatus.PENDING),
                           (3600, MailStatus.PENDING), (-900, MailStatus.SENT),
                           (-900, MailStatus.FAILED)):
        db.session.add(OutboxMessage(recipient="reader@example.org", subject="Hello",
                                     template="accounts/email_changed", status=status,
                                     created_at=now - timedelta(hours=1),
                                     next_attempt_at=now + timedelta(seconds=due_in)))
    db.session.commit()
    samples = scraped(scrape(client).get_data(as_text=True))
    assert value(samples, "stripe_events_failed") == 2
    assert value(samples, "mail_outbox_pending") == 3
    assert value(samples, "mail_outbox_failed") == 1
    assert 120 <= value(samples, "mail_outbox_oldest_due_age_seconds") < 180
    # A request before the scrape and the scrape's own figures come together.
    assert any(name == "http_requests_total" for name, _ in samples)


def test_outbox_age_is_zero_when_nothing_is_due(client):
    samples = scraped(scrape(client).get_data(as_text=True))
    assert value(samples, "mail_outbox_pending") == 0
    assert ("mail_outbox_oldest_due_age_seconds", ()) in samples
    assert value(samples, "mail_outbox_oldest_due_age_seconds") == 0


class RefusingTransport:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def send(self, message):
        raise smtplib.SMTPRecipientsRefused({message["To"]: (550, b"no such mailbox")})


def test_mail_send_failures_are_counted(app):
    db.session.add(OutboxMessage(recipient="bounce@example.org", subject="Hello",
                                 template="accounts/email_changed", text_body="Hello",
                                 html_body="<p>Hello</p>"))
    db.session.commit()
    before = sample("mail_send_failures_total")
    report = deliver_pending(RefusingTransport(), "news@example.org", max_attempts=3)
    assert report.retrying == 1
    assert sample("mail_send_failures_total") == before + 1


def test_digest_runs_and_queued_digests_are_counted(app):
    ok_before = sample("newsletter_digest_runs_total", outcome="ok")
    queued_before = sample("newsletter_digests_queued_total")
    assert send_digest(date(2001, 1, 1)).queued == 0  # no stories that day: a run all the same
    assert sample("newsletter_digest_runs_total", outcome="ok") == ok_before + 1
    assert sample("newsletter_digests_queued_total") == queued_before

    @counts_digest_runs
    def crashing(day):
        raise RuntimeError("the database went away")

    error_before = sample("newsletter_digest_runs_total", outcome="error")
    with pytest.raises(RuntimeError):
        crashing(date(2001, 1, 1))
    assert sample("newsletter_digest_runs_total", outcome="error") == error_before + 1


WORKER = """
import os, sys
from membership import create_app
client = create_app().test_client()
for _ in range(int(sys.argv[1])):
    assert client.get("/healthz").status_code == 200
if sys.argv[2:] == ["scrape"]:
    response = client.get("/metrics",
                          headers={"Authorization": "Bearer " + os.environ["METRICS_TOKEN"]})
    assert response.status_code == 200, response.status_code
    sys.stdout.write(response.get_data(as_text=True))
"""


def test_multiprocess_metrics_add_up_every_process(app, database_url, tmp_path):
    """Under gunicorn each worker is a process of its own: a scrape answered by any of them
    must count the requests all of them answered. (prometheus-client picks multi-process
    mode when it is first imported, so each worker here is a real process.)"""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = subprocess_env(database_url, MEMBERSHIP_ENV="testing", PAYMENTS_GATEWAY="sandbox",
                         METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(shared))

    def worker(*args: str) -> str:
        result = subprocess.run([sys.executable, "-c", WORKER, *args], cwd=PROJECT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    worker("3")
    worker("2")
    samples = scraped(worker("0", "scrape"))  # a third process, that answered nothing itself
    assert len(list(shared.glob("counter_*.db"))) >= 2
    assert value(samples, "http_requests_total", endpoint="site.healthz", method="GET",
                 status="200") == 5
    assert value(samples, "http_request_duration_seconds_count", endpoint="site.healthz") == 5
    assert value(samples, "mail_outbox_pending") == 0  # the database's figures too
    # Only the shared files are read: this process's own registry would count itself alone.
    assert not any(name.startswith("python_gc") for name, _ in samples)


# Readiness -------------------------------------------------------------------------------

def test_ready_when_the_schema_is_at_the_migrations_head(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready"}
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_not_ready_when_the_schema_is_behind_the_migrations(app, client):
    head = ScriptDirectory(current_app.extensions["migrate"].directory).get_current_head()
    applied = db.session.scalar(text("SELECT version_num FROM alembic_version"))
    db.session.execute(text("UPDATE alembic_version SET version_num = 'feedfacecafe'"))
    db.session.commit()
    try:
        response = client.get("/readyz")
    finally:
        db.session.execute(text("UPDATE alembic_version SET version_num = :applied"),
                           {"applied": applied})
        db.session.commit()
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "error", "reason": f"schema not at head: have feedfacecafe, want {head}"}
    assert client.get("/healthz").status_code == 200  # alive all the same
    assert client.get("/readyz").status_code == 200


def test_not_ready_when_the_database_does_not_answer(tmp_path):
    app = create_app({"MEMBERSHIP_ENV": "testing",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "reason": "database unavailable"}
