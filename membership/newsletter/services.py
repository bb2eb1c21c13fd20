"""Subscription rules as plain functions: they flush, the caller commits."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from membership import tokens
from membership.accounts.models import User
from membership.accounts.services import InvalidToken, make_token, normalize_email, read_token
from membership.extensions import db
from membership.i18n import current_language
from membership.mail.services import queue_mail
from membership.newsletter.models import Subscriber, SubscriberStatus, SubscriberTopic
from membership.sql import insert_or_ignore
from membership.topics.models import Topic
from membership.types import isoformat, utcnow
from membership.urls import external_url

# The consent wording readers agree to, by version and language: a record says which
# version they saw, and in which language. Kept here, not in the message catalogues, so
# that a wording once shown never changes under its version.
CONSENT_VERSION = "2026-11-24"
CONSENT_TEXTS = {
    "2026-11-24": {
        "en": "Send me the daily news e-mail. I can unsubscribe at any time with one click "
              "from any of them.",
        "ar": "أرسلوا إليّ النشرة الإخبارية اليومية. يمكنني إلغاء الاشتراك في أي وقت بنقرة "
              "واحدة من أي رسالة منها.",
        "he": "שלחו לי את הניוזלטר היומי. אפשר לבטל את המינוי בכל עת בלחיצה אחת מכל אחד "
              "מהמיילים.",
    },
}
CONFIRM_MAX_AGE = 7 * 24 * 3600


def consent_text(language: str | None = None) -> str:
    """The wording a reader agrees to now, in the page's language."""
    return CONSENT_TEXTS[CONSENT_VERSION][language or current_language()]


def subscribe(email: str, ip: str | None) -> Subscriber:
    """Record the request and its consent and mail a confirmation link. Asking again
    renews the consent and the link; a confirmed subscriber stays as they are."""
    address = normalize_email(email)
    now = utcnow()
    subscriber = _subscriber_row(address, ip, now)
    if subscriber.status == SubscriberStatus.CONFIRMED:
        return subscriber
    subscriber.status = SubscriberStatus.PENDING
    subscriber.consent_version = CONSENT_VERSION
    subscriber.consent_language = subscriber.language = current_language()
    subscriber.consented_at = now
    subscriber.consent_ip = ip
    db.session.flush()
    queue_mail(address, "newsletter/confirm", _l("Please confirm your subscription"),
               language=subscriber.language,
               link=external_url("newsletter.confirm",
                                 token=make_token("newsletter.confirm",
                                                  {"subscriber": subscriber.public_id})))
    return subscriber


def _subscriber_row(address: str, ip: str | None, now) -> Subscriber:
    """The address's subscriber, made (pending, with this consent) if it has none. ON
    CONFLICT: two sign-ups for one address at once (a double click) make one row."""
    insert_or_ignore(Subscriber, {"email": address, "status": SubscriberStatus.PENDING,
                                  "consent_version": CONSENT_VERSION, "consented_at": now,
                                  "consent_language": current_language(),
                                  "language": current_language(),
                                  "consent_ip": ip}, conflict=["email"])
    return db.session.scalar(select(Subscriber).where(Subscriber.email == address))


def subscribe_account(user: User, ip: str | None) -> Subscriber:
    """One click from the account page: the reader's own address, which they proved, so no
    confirmation mail; the click is the consent, recorded with its wording. Resubscribes
    an address that had unsubscribed."""
    now = utcnow()
    subscriber = _subscriber_row(user.email, ip, now)
    if subscriber.status != SubscriberStatus.CONFIRMED:
        subscriber.status = SubscriberStatus.CONFIRMED
        subscriber.consent_version, subscriber.consented_at = CONSENT_VERSION, now
        subscriber.consent_language = current_language()
        subscriber.language = user.language or current_language()
        subscriber.consent_ip, subscriber.confirmed_at = ip, now
        subscriber.unsubscribed_at = None
        db.session.flush()
    return subscriber


def account_subscription(user: User) -> Subscriber | None:
    return db.session.scalar(select(Subscriber).where(Subscriber.email == user.email))


def confirm(token: str) -> Subscriber:
    subscriber = _subscriber_for("newsletter.confirm", token, CONFIRM_MAX_AGE)
    if subscriber.status == SubscriberStatus.PENDING:
        subscriber.status = SubscriberStatus.CONFIRMED
        subscriber.confirmed_at = utcnow()
        db.session.flush()
    return subscriber


def unsubscribe(subscriber: Subscriber) -> Subscriber:
    """At once, without logging in (the link in every mail never expires)."""
    if subscriber.status != SubscriberStatus.UNSUBSCRIBED:
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
        subscriber.unsubscribed_at = utcnow()
        db.session.flush()
    return subscriber


def unsubscribe_link(subscriber: Subscriber) -> str:
    return external_url("newsletter.unsubscribe", token=subscriber_token(subscriber.public_id))


# The links in every mail (unsubscribe, preferences) carry one signed subscriber id that
# never expires.
SUBSCRIBER_LINK = "newsletter.subscriber"


def subscriber_token(public_id: str) -> str:
    return tokens.make(SUBSCRIBER_LINK, public_id)


def subscriber_for_link(token: str) -> Subscriber:
    """The subscriber an unsubscribe or preferences link names."""
    try:
        public_id = tokens.read(SUBSCRIBER_LINK, token)
    except tokens.BadToken as error:
        raise InvalidToken(_("This link is not valid.")) from error
    subscriber = db.session.scalar(select(Subscriber).where(
        Subscriber.public_id == public_id)) if isinstance(public_id, str) else None
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
    return external_url("newsletter.preferences", token=subscriber_token(subscriber.public_id))



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
    public_id = read_token(purpose, token, max_age).get("subscriber")
    subscriber = db.session.scalar(select(Subscriber).where(
        Subscriber.public_id == public_id)) if isinstance(public_id, str) else None
    if subscriber is None:
        raise InvalidToken(_("This link is not valid."))
    return subscriber


def status_of(email: str) -> str | None:
    return db.session.scalar(select(Subscriber.status).where(
        Subscriber.email == normalize_email(email)))


def export_subscription(user: User) -> tuple[str, dict | None]:
    """The daily e-mail subscription of the reader's (verified) address and its consent
    record, for their data download."""
    subscriber = db.session.scalar(select(Subscriber).where(
        Subscriber.email == user.email)) if user.is_verified else None
    if subscriber is None:
        return "newsletter", None
    return "newsletter", {
        "email": subscriber.email,
        "status": subscriber.status,
        "consent": {"version": subscriber.consent_version,
                    "language": subscriber.consent_language,
                    "wording": CONSENT_TEXTS.get(subscriber.consent_version, {}).get(
                        subscriber.consent_language),
                    "given_at": isoformat(subscriber.consented_at),
                    "from_address": subscriber.consent_ip},
        "confirmed_at": isoformat(subscriber.confirmed_at),
        "unsubscribed_at": isoformat(subscriber.unsubscribed_at),
        "chosen_topics": sorted(db.session.scalars(
            select(Topic.slug).join(SubscriberTopic, SubscriberTopic.topic_id == Topic.id)
            .where(SubscriberTopic.subscriber_id == subscriber.id))),
    }


def forget_subscriber(user: User) -> None:
    """Account deletion takes the subscription of that address with it, when the account
    proved it owns the address (an unverified one may be a stranger's sign-up)."""
    if not user.is_verified:
        return
    db.session.execute(delete(Subscriber).where(Subscriber.email == user.email))
