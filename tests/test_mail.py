from __future__ import annotations

from datetime import timedelta

import pytest

from membership.extensions import db
from membership.mail.models import MailStatus
from membership.mail.services import SMTPSettings, SMTPTransport, deliver_pending, queue_mail
from membership.types import utcnow
from tests.builders import outbox
from tests.conftest import free_port


def queue_welcome(recipient: str):
    return queue_mail(recipient, "accounts/email_changed", "Your e-mail address was changed",
                      new_email=recipient)


def test_queued_mail_is_delivered_over_smtp_with_text_and_html(app, smtp_server):
    inbox, settings = smtp_server
    queue_welcome("reader@example.org")
    db.session.commit()
    report = deliver_pending(SMTPTransport(settings), "News <news@example.org>", max_attempts=3)
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    [message] = inbox.messages
    assert message["To"] == "reader@example.org"
    assert message["Subject"] == "Your e-mail address was changed"
    types = [part.get_content_type() for part in message.walk()]
    assert "text/plain" in types and "text/html" in types
    [stored] = outbox()
    assert stored.status == MailStatus.SENT and stored.sent_at is not None
    # Rendered from the stored template values when sent, and kept as sent.
    assert "was changed to reader@example.org" in stored.text_body
    assert "<html" in stored.html_body


def test_queued_mail_keeps_values_not_bodies_until_it_is_sent(app):
    queue_welcome("reader@example.org")
    db.session.commit()
    [stored] = outbox()
    assert stored.context == {"new_email": "reader@example.org"}
    assert stored.text_body is None


def test_mail_of_a_rolled_back_change_is_never_sent(app, smtp_server):
    inbox, settings = smtp_server
    queue_welcome("reader@example.org")
    db.session.rollback()
    deliver_pending(SMTPTransport(settings), "news@example.org", max_attempts=3)
    assert outbox() == []
    assert inbox.messages == []


def test_refused_mail_is_retried_later_then_given_up(app, smtp_server):
    inbox, settings = smtp_server
    inbox.refuse.add("bounce@example.org")
    queue_welcome("bounce@example.org")
    db.session.commit()
    report = deliver_pending(SMTPTransport(settings), "news@example.org", max_attempts=2)
    assert report.retrying == 1
    [message] = outbox()
    assert message.status == MailStatus.PENDING and message.attempts == 1
    assert "550" in message.last_error
    assert message.next_attempt_at > utcnow()
    # Not due yet: nothing happens.
    assert deliver_pending(SMTPTransport(settings), "news@example.org", 2).retrying == 0
    later = utcnow() + timedelta(hours=1)
    report = deliver_pending(SMTPTransport(settings), "news@example.org", 2, now=later)
    assert report.failed == 1
    assert outbox()[0].status == MailStatus.FAILED


def test_smtp_server_down_keeps_mail_pending(app):
    queue_welcome("reader@example.org")
    db.session.commit()
    settings = SMTPSettings.from_url(f"smtp://127.0.0.1:{free_port()}?tls=none")
    with pytest.raises(OSError):
        deliver_pending(SMTPTransport(settings, timeout=2), "news@example.org", 3)
    [message] = outbox()
    assert message.status == MailStatus.PENDING and message.attempts == 0


def test_mail_deliver_command_sends_the_outbox(app, smtp_server):
    inbox, settings = smtp_server
    queue_welcome("reader@example.org")
    db.session.commit()
    app.config["MAIL_URL"] = f"smtp://{settings.host}:{settings.port}?tls=none"
    result = app.test_cli_runner().invoke(args=["mail", "deliver"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output
    assert len(inbox.messages) == 1


def test_mail_deliver_command_without_mail_url_explains(app):
    result = app.test_cli_runner().invoke(args=["mail", "deliver"])
    assert result.exit_code != 0
    assert "MAIL_URL is not set" in result.output


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://user:p%40ss@mail.example:587", ("mail.example", 587, "user", "p@ss", "starttls")),
    ("smtps://mail.example", ("mail.example", 465, None, None, "ssl")),
    ("smtp://localhost:1025", ("localhost", 1025, None, None, "none")),
    ("smtp://localhost:2525?tls=starttls", ("localhost", 2525, None, None, "starttls")),
])
def test_mail_url_parsing(url, expected):
    s = SMTPSettings.from_url(url)
    assert (s.host, s.port, s.username, s.password, s.security) == expected


def test_mail_url_must_be_smtp():
    with pytest.raises(ValueError, match="MAIL_URL"):
        SMTPSettings.from_url("http://mail.example")


def test_every_mail_template_has_text_and_html(app):
    templates = app.jinja_env.list_templates(filter_func=lambda n: n.startswith("email/"))
    partials = {name for name in templates if name.split("/")[-1].startswith("_")}
    names = {name.rsplit(".", 1)[0] for name in set(templates) - partials}
    for name in names:
        assert f"{name}.txt" in templates and f"{name}.html" in templates, name
