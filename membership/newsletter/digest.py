"""The daily digest: for every confirmed subscriber, the day's stories in their topics
(or the day's top stories), queued in the outbox once per subscriber and day."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import and_, func, select

from membership.accounts.models import User
from membership.extensions import db
from membership.i18n import DEFAULT_LANGUAGE, known_language
from membership.mail.services import outbox_row, queue_mails
from membership.newsletter.models import (
    DigestSent,
    Subscriber,
    SubscriberStatus,
    SubscriberTopic,
)
from membership.newsletter.services import one_click_headers, subscriber_token
from membership.observability.metrics import counts_digest_runs
from membership.sql import upsert_insert
from membership.topics.models import Story, StoryTopic, Topic, TopicFollow
from membership.urls import external_url

BATCH = 1000
MOST_STORIES = 12


@dataclass
class DigestRun:
    queued: int = 0
    personal: int = 0  # the others got the day's top stories
    already_sent: int = 0


@counts_digest_runs
def send_digest(day: date, batch: int = BATCH) -> DigestRun:
    """Queue the digests of `day`, committing a batch of subscribers at a time: a run
    stopped halfway, or run twice, picks up where it left off and sends no copy."""
    stories, by_topic = _stories_of(day)
    top = stories[:MOST_STORIES]
    run = DigestRun()
    if not stories:
        return run
    last_id = 0
    subjects = _Subjects(day)
    links = _LinkTemplates()
    # In the reader's language: the account's when the address has one, else the one
    # they subscribed in.
    language = func.coalesce(User.language, Subscriber.language, DEFAULT_LANGUAGE)
    while subscribers := db.session.execute(
            select(Subscriber.id, Subscriber.public_id, Subscriber.email, language)
            .outerjoin(User, and_(User.email == Subscriber.email,
                                  User.email_verified_at.is_not(None))).where(
                Subscriber.status == SubscriberStatus.CONFIRMED, Subscriber.id > last_id)
            .order_by(Subscriber.id).limit(batch)).all():
        last_id = subscribers[-1].id
        fresh = _claim(day, [row.id for row in subscribers])
        run.already_sent += len(subscribers) - len(fresh)
        topics = _topics_of([row for row in subscribers if row.id in fresh])
        rows = []
        for subscriber_id, public_id, email, reads in subscribers:
            if subscriber_id not in fresh:
                continue
            chosen = _pick(topics.get(subscriber_id, ()), by_topic, stories)
            run.personal += bool(chosen)
            rows.append(_message(public_id, email, subjects.of(reads), day, chosen or top,
                                 links, reads))
        queue_mails(rows)
        db.session.commit()
        run.queued += len(rows)
    return run


def _stories_of(day: date) -> tuple[list[dict], dict[int, set[int]]]:
    """The day's stories (newest first, JSON-ready) and their indexes by topic."""
    begins = datetime.combine(day, time.min, UTC)
    rows = db.session.execute(select(Story.id, Story.title, Story.url, Story.summary).where(
        Story.published_at >= begins, Story.published_at < begins + timedelta(days=1),
    ).order_by(Story.published_at.desc(), Story.id.desc())).all()
    names: dict[int, list[str]] = defaultdict(list)
    by_topic: dict[int, set[int]] = defaultdict(set)
    index = {row.id: position for position, row in enumerate(rows)}
    for story_id, topic_id, name in db.session.execute(
            select(StoryTopic.story_id, StoryTopic.topic_id, Topic.name)
            .join(Topic, Topic.id == StoryTopic.topic_id)
            .where(StoryTopic.story_id.in_(list(index)))):
        names[story_id].append(name)
        by_topic[topic_id].add(index[story_id])
    stories = [{"title": row.title, "url": row.url, "summary": row.summary,
                "topics": sorted(names[row.id])} for row in rows]
    return stories, by_topic


def _claim(day: date, subscriber_ids: list[int]) -> set[int]:
    """Mark these subscribers' digests of `day` as sent, returning those not marked yet
    (INSERT … ON CONFLICT DO NOTHING RETURNING: two runs never claim the same one)."""
    statement = _claim_statement(db.session.get_bind().dialect.name)
    rows = [{"subscriber_id": subscriber_id, "day": day} for subscriber_id in subscriber_ids]
    return set(db.session.connection().execute(statement, rows).scalars())


@cache
def _claim_statement(dialect: str):
    return upsert_insert(dialect)(DigestSent).on_conflict_do_nothing().returning(
        DigestSent.subscriber_id)


def _topics_of(subscribers: list) -> dict[int, set[int]]:
    """Each subscriber's topics: those their account follows (same verified address),
    else those they chose on their preferences page."""
    if not subscribers:
        return {}
    by_email = {row.email: row.id for row in subscribers}
    followed: dict[int, set[int]] = defaultdict(set)
    for email, topic_id in db.session.execute(
            select(User.email, TopicFollow.topic_id)
            .join(TopicFollow, TopicFollow.user_id == User.id)
            .where(User.email.in_(list(by_email)), User.email_verified_at.is_not(None))):
        followed[by_email[email]].add(topic_id)
    chosen: dict[int, set[int]] = defaultdict(set)
    for subscriber_id, topic_id in db.session.execute(
            select(SubscriberTopic.subscriber_id, SubscriberTopic.topic_id)
            .where(SubscriberTopic.subscriber_id.in_(list(by_email.values())))):
        chosen[subscriber_id].add(topic_id)
    return {subscriber_id: followed.get(subscriber_id) or chosen.get(subscriber_id, set())
            for subscriber_id in by_email.values()}


def _pick(topic_ids, by_topic: dict[int, set[int]], stories: list[dict]) -> list[dict]:
    positions = set().union(*(by_topic.get(topic_id, ()) for topic_id in topic_ids))
    return [stories[position] for position in sorted(positions)[:MOST_STORIES]]


class _Subjects:
    """The subject line of the day in each language, each written once per run."""

    def __init__(self, day: date):
        self.day, self.written = day, {}

    def of(self, language: str) -> str:
        language = known_language(language) or DEFAULT_LANGUAGE
        if language not in self.written:
            with force_locale(language):
                self.written[language] = _("Your news for %(date)s",
                                           date=format_date(self.day, "long"))
        return self.written[language]


class _LinkTemplates:
    """The mail's two links, built once per run with a placeholder for the token (url_for
    for every subscriber would cost as much as everything else together)."""

    PLACEHOLDER = "subscriber-token"

    def __init__(self):
        self.unsubscribe = external_url("newsletter.unsubscribe", token=self.PLACEHOLDER)
        self.preferences = external_url("newsletter.preferences", token=self.PLACEHOLDER)

    def for_token(self, token: str) -> tuple[str, str]:
        return (self.unsubscribe.replace(self.PLACEHOLDER, token),
                self.preferences.replace(self.PLACEHOLDER, token))


def _message(public_id: str, email: str, subject: str, day: date,
             stories: list[dict], links: _LinkTemplates, language: str) -> dict:
    leave, preferences = links.for_token(subscriber_token(public_id))
    return outbox_row(email, "newsletter/digest", subject, one_click_headers(leave), {
        "day": day.isoformat(), "stories": stories, "unsubscribe_link": leave,
        "preferences_link": preferences,
    }, known_language(language) or DEFAULT_LANGUAGE)
