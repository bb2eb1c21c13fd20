"""Queue mail inside the caller's transaction; deliver it later, with retries.

Writing to the outbox instead of talking to SMTP during a request means a mail is never
sent for a change that rolled back, and never lost because the SMTP server was down.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import delete, insert, select, update

from membership.extensions import db
from membership.i18n import DEFAULT_LANGUAGE, current_language, known_language
from membership.mail.models import MailStatus, OutboxMessage
from membership.observability.metrics import MAIL_SEND_FAILURES
from membership.types import utcnow

MAX_BACKOFF = timedelta(hours=6)


def queue_mail(
    recipient: str,
    template: str,
    subject: str,
    headers: dict[str, str] | None = None,
    *,
    language: str | None = None,
    about: str | None = None,
    **context,
) -> int:
    """Add a message to the outbox in the caller's transaction and return its id.

    `context` holds plain JSON values for `templates/email/<template>.txt` and `.html`;
    they are rendered when the message is sent (see `render_message`), in `language`: the
    one stored with the recipient, else the page's. A lazy `subject` is translated into it
    here. `about` names what the message is about, for `withdraw_pending`."""
    language = known_language(language) or current_language()
    if language == current_language():  # the usual case, on the webhook's hot path
        subject = str(subject)
    else:
        with force_locale(language):
            subject = str(subject)
    # A plain INSERT: mail is written on hot paths (every recorded gift) and never read back.
    return db.session.connection().execute(
        _INSERT_MESSAGE,
        {**outbox_row(recipient, template, subject, headers, context, language), "about": about}
    ).scalar_one()


def withdraw_pending(about: list[str], templates: tuple[str, ...]) -> int:
    """Take back the messages of these templates about any of `about` that have not gone
    out yet (the news they bring is no longer true). How many were taken back."""
    if not about:
        return 0
    return db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.about.in_(about), OutboxMessage.template.in_(templates),
               OutboxMessage.status == MailStatus.PENDING)
        .values(status=MailStatus.WITHDRAWN)).rowcount


def queue_mails(rows: list[dict]) -> None:
    """Add many messages (`outbox_row`s) in one statement: mailings."""
    if rows:
        db.session.connection().execute(insert(OutboxMessage), rows)


def outbox_row(recipient: str, template: str, subject: str, headers: dict[str, str] | None,
               context: dict, language: str) -> dict:
    now = utcnow()
    return {"recipient": recipient, "subject": subject, "template": template,
            "context": context, "headers": headers or {}, "language": language,
            "status": MailStatus.PENDING,
            "attempts": 0,
            "created_at": now, "next_attempt_at": now}


_INSERT_MESSAGE = insert(OutboxMessage).returning(OutboxMessage.id)


def render_message(message: OutboxMessage) -> OutboxMessage:
    """Fill in the message's text and HTML bodies from its template, once."""
    if message.text_body is None:
        context = {**message.context, "subject": message.subject}
        with force_locale(message.language or DEFAULT_LANGUAGE):
            message.text_body = render_template(f"email/{message.template}.txt", **context)
            message.html_body = render_template(f"email/{message.template}.html", **context)
    return message


# Links in mail are capabilities (reset a password, confirm an address, unsubscribe, open a
# receipt): whoever holds one acts as the reader. Their template values are named `link` or
# `*_link`, and staff are shown that a link was sent, never the link itself.
HIDDEN_LINK = "[link sent to the recipient, hidden]"


def _is_link(name: str) -> bool:
    return name == "link" or name.endswith("_link")


def render_for_staff(message: OutboxMessage) -> str:
    """The message's text as staff may read it: rendered afresh from its values with every
    link masked (the stored body, once sent, holds the working links)."""
    context = {name: HIDDEN_LINK if _is_link(name) else value
               for name, value in message.context.items()}
    return render_template(f"email/{message.template}.txt", **context, subject=message.subject)


def outbox_newest_first():
    return select(OutboxMessage).order_by(OutboxMessage.id.desc())


def mails_to(recipient: str, limit: int = 100) -> list[OutboxMessage]:
    """The newest mails to one address, for staff looking into a donor's record."""
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.recipient == recipient).order_by(OutboxMessage.id.desc()).limit(limit)))


def forget_recipient(email: str) -> int:
    """Remove every message addressed to `email` (account deletion). Returns how many."""
    result = db.session.execute(delete(OutboxMessage).where(OutboxMessage.recipient == email))
    return result.rowcount or 0


@dataclass(frozen=True)
class SMTPSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    security: str  # "ssl", "starttls" or "none"

    @classmethod
    def from_url(cls, url: str) -> SMTPSettings:
        """Parse `smtp://user:pass@host:587`, `smtps://host` or `smtp://host:25?tls=none`."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("MAIL_URL must look like smtp://user:pass@host:587 or smtps://host")
        query = parse_qs(parts.query)
        if parts.scheme == "smtps":
            security, default_port = "ssl", 465
        else:
            security = query.get("tls", ["starttls" if parts.port in (None, 587) else "none"])[0]
            default_port = 587
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            security=security,
        )


class SMTPTransport:
    """Sends `EmailMessage`s over one SMTP connection per batch."""

    def __init__(self, settings: SMTPSettings, timeout: float = 30):
        self.settings = settings
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SMTPTransport:
        s = self.settings
        if s.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                s.host, s.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
            if s.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if s.username:
            smtp.login(s.username, s.password or "")
        self._smtp = smtp
        return self

    def __exit__(self, *exc) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except smtplib.SMTPException:
                self._smtp.close()
            self._smtp = None

    def send(self, message: EmailMessage) -> None:
        if self._smtp is None:
            raise RuntimeError("use the transport as a context manager")
        self._smtp.send_message(message)


# RFC 5322's own line limit: a long List-Unsubscribe address must stay one plain line (a
# 78-column fold turns it into an encoded word that mail providers do not read as a URL).
_POLICY = SMTP.clone(max_line_length=998)


# Files a message carries, made when it is sent: the context's `attachments` lists
# {"kind": …, …} specs, and the domain that queues such mail registers a maker per kind
# (a receipt's PDF, say) that returns (filename, content type, bytes), or None when what it
# was made from is gone.
Attachment = tuple[str, str, bytes]
ATTACHMENT_MAKERS: dict[str, Callable[[dict], Attachment | None]] = {}


def register_attachment(kind: str, maker: Callable[[dict], Attachment | None]) -> None:
    ATTACHMENT_MAKERS[kind] = maker


def attachments_of(message: OutboxMessage) -> list[Attachment]:
    made = []
    with force_locale(message.language or DEFAULT_LANGUAGE):
        for spec in (message.context or {}).get("attachments") or []:
            maker = ATTACHMENT_MAKERS.get(spec.get("kind")) if isinstance(spec, dict) else None
            attachment = maker(spec) if maker else None
            if attachment is not None:
                made.append(attachment)
    return made


def build_email(message: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage(policy=_POLICY)
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].rstrip(">") or None)
    for name, value in (message.headers or {}).items():
        email[name] = value
    email.set_content(message.text_body)
    email.add_alternative(message.html_body, subtype="html")
    for filename, content_type, data in attachments_of(message):
        maintype, _, subtype = content_type.partition("/")
        email.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return email


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


# A message to someone who is on no list of ours (a tribute card's honoree) asks for its
# address to be forgotten once it has gone (or failed for good): `forget_recipient=True`.
FORGOTTEN_RECIPIENT = "(forgotten once sent)"


def _forget_recipient_if_asked(message: OutboxMessage) -> None:
    if (message.context or {}).get("forget_recipient"):
        message.recipient = FORGOTTEN_RECIPIENT


def _unwritable(message_id: int, error: Exception) -> None:
    """A message whose body or attachment cannot be made (a bug, not the network): it will
    not be made the next time either, so it fails at once, with the reason for staff, and
    the messages after it go out."""
    current_app.logger.error("mail %s could not be written: %s: %s", message_id,
                             type(error).__name__, error)
    db.session.rollback()  # whatever the failed rendering left half done
    message = db.session.get(OutboxMessage, message_id)
    message.attempts += 1
    message.status = MailStatus.FAILED
    message.text_body = message.html_body = None
    _forget_recipient_if_asked(message)
    message.last_error = f"could not be written: {type(error).__name__}: {error}"[:2000]
    db.session.commit()


def deliver_pending(
    transport: SMTPTransport,
    sender: str,
    max_attempts: int,
    limit: int = 200,
    now: datetime | None = None,
) -> DeliveryReport:
    """Send the messages that are due, oldest first.

    Unlike other services this commits after each message: a message's new status must be
    durable before the next one goes out, or a crash would send it twice.
    """
    now = now or utcnow()
    report = DeliveryReport()
    ids = db.session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == MailStatus.PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    ).all()
    db.session.commit()
    if not ids:
        return report
    with transport:
        for message_id in ids:
            # Lock the row so two workers never send the same message.
            message = db.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.id == message_id, OutboxMessage.status == MailStatus.PENDING)
                .with_for_update(skip_locked=True)
            ).first()
            if message is None:
                db.session.rollback()
                continue
            message.attempts += 1
            try:
                email = build_email(render_message(message), sender)
            except Exception as error:  # one message that cannot be written must not stop the rest
                _unwritable(message_id, error)
                report.failed += 1
                continue
            try:
                transport.send(email)
            except (smtplib.SMTPException, OSError) as error:
                MAIL_SEND_FAILURES.inc()
                message.last_error = f"{type(error).__name__}: {error}"
                if message.attempts >= max_attempts:
                    message.status = MailStatus.FAILED
                    _forget_recipient_if_asked(message)
                    report.failed += 1
                else:
                    message.next_attempt_at = now + _backoff(message.attempts)
                    report.retrying += 1
            else:
                message.status = MailStatus.SENT
                message.sent_at = utcnow()
                message.last_error = None
                _forget_recipient_if_asked(message)
                report.sent += 1
            db.session.commit()
    return report
