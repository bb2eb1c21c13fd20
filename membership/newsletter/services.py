"""Subscription rules as plain functions: they flush, the caller commits."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, Signer
from sqlalchemy import delete, select

from membership.accounts.models import User
from membership.accounts.services import InvalidToken, make_token, normalize_email, read_token
from membership.extensions import db
from membership.mail.services import queue_mail
from membership.newsletter.models import (
    CONFIRMED,
    PENDING,
    UNSUBSCRIBED,
    Subscriber,
    SubscriberTopic,
)
from membership.types import utcnow
from membership.urls import external_url

# The consent wording readers agree to, by version: a record says which one they saw.
CONSENT_VERSION = "2026-11-24"
CONSENT_TEXTS = {
    "2026-11-24": "Send me the daily news e-mail. I can unsubscribe at any time with one "
                  "click from any of them.",
}
CONFIRM_MAX_AGE = 7 * 24 * 3600


def consent_text() -> str:
    return CONSENT_TEXTS[CONSENT_VERSION]


def subscribe(email: str, ip: str | None) -> Subscriber:
    """Record the request and its consent and mail a confirmation link. Asking again
    renews the consent and the link; a confirmed subscriber stays as they are."""
    address = normalize_email(email)
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        subscriber = Subscriber(email=address, status=PENDING)
        db.session.add(subscriber)
    if subscriber.status == CONFIRMED:
        return subscriber
    subscriber.status = PENDING
    subscriber.consent_version = CONSENT_VERSION
    subscriber.consented_at = utcnow()
    subscriber.consent_ip = ip
    db.session.flush()
    queue_mail(address, "newsletter/confirm", _("Please confirm your subscription"),
               link=external_url("newsletter.confirm",
                                 token=make_token("newsletter.confirm",
                                                  {"id": subscriber.id})))
    return subscriber


def confirm(token: str) -> Subscriber:
    subscriber = _subscriber_for("newsletter.confirm", token, CONFIRM_MAX_AGE)
    if subscriber.status == PENDING:
        subscriber.status = CONFIRMED
        subscriber.confirmed_at = utcnow()
        db.session.flush()
    return subscriber


def unsubscribe(token: str) -> Subscriber:
    """At once, without logging in; the link in every mail never expires."""
    subscriber = _subscriber_by_token(token)
    if subscriber.status != UNSUBSCRIBED:
        subscriber.status = UNSUBSCRIBED
        subscriber.unsubscribed_at = utcnow()
        db.session.flush()
    return subscriber


def unsubscribe_link(subscriber: Subscriber) -> str:
    return external_url("newsletter.unsubscribe", token=subscriber_token(subscriber.id))


# The links in every mail (unsubscribe, preferences) carry one signed subscriber id that
# never expires: a plain HMAC signature, cheap enough for a hundred thousand mails.
def _link_signer() -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt="newsletter.subscriber")


def subscriber_token(subscriber_id: int) -> str:
    return _link_signer().sign(str(subscriber_id)).decode()


def _subscriber_by_token(token: str) -> Subscriber:
    try:
        subscriber_id = int(_link_signer().unsign(token))
    except (BadSignature, ValueError) as error:
        raise InvalidToken(_("This link is not valid.")) from error
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise InvalidToken(_("This link is not valid."))
    return subscriber


def list_headers(subscriber: Subscriber) -> dict[str, str]:
    return one_click_headers(unsubscribe_link(subscriber))


def one_click_headers(unsubscribe_url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe, for every mail of the list."""
    return {"List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def preferences_link(subscriber: Subscriber) -> str:
    return external_url("newsletter.preferences", token=subscriber_token(subscriber.id))


def subscriber_for_preferences(token: str) -> Subscriber:
    return _subscriber_by_token(token)


def has_account(subscriber: Subscriber) -> bool:
    """Whether a verified account has this address: its followed topics then apply."""
    return db.session.scalar(select(User.id).where(
        User.email == subscriber.email, User.email_verified_at.is_not(None))) is not None


def chosen_topic_ids(subscriber: Subscriber) -> set[int]:
    return set(db.session.scalars(select(SubscriberTopic.topic_id).where(
        SubscriberTopic.subscriber_id == subscriber.id)))


def choose_topics(subscriber: Subscriber, topic_ids: set[int]) -> None:
    db.session.execute(delete(SubscriberTopic).where(
        SubscriberTopic.subscriber_id == subscriber.id))
    db.session.add_all(SubscriberTopic(subscriber_id=subscriber.id, topic_id=topic_id)
                       for topic_id in topic_ids)
    db.session.flush()


def _subscriber_for(purpose: str, token: str, max_age: int) -> Subscriber:
    subscriber_id = read_token(purpose, token, max_age).get("id")
    subscriber = db.session.get(Subscriber, subscriber_id) if isinstance(
        subscriber_id, int) else None
    if subscriber is None:
        raise InvalidToken(_("This link is not valid."))
    return subscriber


def status_of(email: str) -> str | None:
    return db.session.scalar(select(Subscriber.status).where(
        Subscriber.email == normalize_email(email)))


def forget_subscriber(user: User) -> None:
    """Account deletion takes the subscription of that address with it."""
    db.session.execute(delete(Subscriber).where(Subscriber.email == user.email))
