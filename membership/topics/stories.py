"""Stories: imported from the agency's RSS or Atom feeds, shown in "my news"."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape

import feedparser
import nh3
from sqlalchemy import func, select

from membership.accounts.models import User
from membership.extensions import db
from membership.sql import insert_or_ignore
from membership.topics.models import Story, StoryTopic, Topic, TopicFollow
from membership.types import utcnow

SUMMARY_LENGTH = 1000


class FeedError(ValueError):
    """The feed cannot be read; the message says why. Nothing was imported."""


@dataclass(frozen=True)
class ImportResult:
    added: int
    already_known: int
    skipped: int  # entries without a title or a link


def import_feed(source: str) -> ImportResult:
    """Add the feed's new stories, tagged with the topics its categories name.

    All or nothing: a feed that does not parse raises FeedError before anything is
    written. Stories are known by their address, so importing again adds nothing."""
    feed = feedparser.parse(source)
    if feed.bozo and not isinstance(feed.bozo_exception,
                                    feedparser.CharacterEncodingOverride):
        raise FeedError(f"{source} is not a readable RSS or Atom feed: "
                        f"{feed.bozo_exception}")
    if not feed.entries and not feed.feed:
        raise FeedError(f"{source} has no feed in it")
    topics = _topics_by_label()
    added = known = skipped = 0
    for entry in feed.entries:
        url, title = (entry.get("link") or "").strip(), _text(entry.get("title"))
        if not url or not title:
            skipped += 1
            continue
        story_id = insert_or_ignore(Story, {
            "url": url[:1000], "title": title[:300],
            "summary": _text(entry.get("summary"))[:SUMMARY_LENGTH],
            "published_at": _when(entry), "created_at": utcnow(),
        })
        if story_id is None:
            known += 1
            continue
        added += 1
        labels = {_label(tag.get("term", "")) for tag in entry.get("tags", [])}
        for topic_id in {topics[label] for label in labels if label in topics}:
            db.session.add(StoryTopic(story_id=story_id, topic_id=topic_id))
    db.session.flush()
    return ImportResult(added, known, skipped)


def _label(text: str) -> str:
    """"Palestinian Territories", "palestinian-territories" and "UAE" all compare."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _topics_by_label() -> dict[str, int]:
    labels = {}
    for topic_id, slug, name in db.session.execute(select(Topic.id, Topic.slug, Topic.name)):
        labels[_label(name)] = topic_id
        labels[slug] = topic_id
    return labels


def _text(html: str | None) -> str:
    """Feed text may carry markup: keep the words only (the page escapes them again)."""
    return " ".join(unescape(nh3.clean(html or "", tags=set())).split())


def _when(entry) -> datetime:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed is None:
        return utcnow()
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)  # feedparser gives UTC


def my_news(user: User):
    """The stories in the topics the reader follows, newest first (a query to page)."""
    followed = select(TopicFollow.topic_id).where(TopicFollow.user_id == user.id)
    in_followed = select(StoryTopic.story_id).where(StoryTopic.topic_id.in_(followed))
    return select(Story).where(Story.id.in_(in_followed)).order_by(
        Story.published_at.desc(), Story.id.desc())


def follows_any(user: User) -> bool:
    return db.session.scalar(select(func.count()).select_from(TopicFollow).where(
        TopicFollow.user_id == user.id)) > 0
