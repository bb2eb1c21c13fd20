"""Topic rules as plain functions: they flush, the caller commits."""

from __future__ import annotations

from functools import cache

from sqlalchemy import bindparam, delete, func, select

from membership.accounts.models import User
from membership.extensions import db
from membership.sql import read_rows, upsert_insert
from membership.topics.models import KINDS, REGION, THEME, Topic, TopicFollow
from membership.types import utcnow

# The catalogue seed-demo keeps (slugs are part of the outside contract).
CATALOGUE = {
    REGION: [
        ("afghanistan", "Afghanistan"), ("gaza", "Gaza"), ("israel", "Israel"),
        ("palestinian-territories", "Palestinian Territories"), ("pakistan", "Pakistan"),
        ("uae", "United Arab Emirates"), ("iran", "Iran"), ("iraq", "Iraq"),
        ("jordan", "Jordan"), ("lebanon", "Lebanon"), ("syria", "Syria"), ("egypt", "Egypt"),
        ("saudi-arabia", "Saudi Arabia"), ("turkey", "Turkey"), ("yemen", "Yemen"),
        ("qatar", "Qatar"), ("azerbaijan", "Azerbaijan"),
    ],
    THEME: [
        ("politics", "Politics"), ("security", "Security"), ("diplomacy", "Diplomacy"),
        ("business-and-economy", "Business and economy"), ("energy", "Energy"),
        ("religion", "Religion"), ("culture", "Culture"), ("human-rights", "Human rights"),
        ("technology", "Technology"),
    ],
}


def seed_topics() -> int:
    """Add the catalogue's missing topics (staff renames, order and hiding are kept).
    Returns how many were added."""
    known = set(db.session.scalars(select(Topic.slug)))
    added = 0
    for kind, topics in CATALOGUE.items():
        for position, (slug, name) in enumerate(topics):
            if slug not in known:
                db.session.add(Topic(slug=slug, name=name, kind=kind, position=position))
                added += 1
    db.session.flush()
    return added


def catalogue(include_hidden: bool = False) -> dict[str, list[Topic]]:
    """Topics by kind, in staff's order."""
    query = select(Topic).order_by(Topic.position, Topic.name)
    if not include_hidden:
        query = query.where(Topic.hidden.is_(False))
    grouped: dict[str, list[Topic]] = {kind: [] for kind in KINDS}
    for topic in db.session.scalars(query):
        grouped[topic.kind].append(topic)
    return grouped


def slug_taken(slug: str) -> bool:
    return db.session.scalar(select(Topic.id).where(Topic.slug == slug)) is not None


def visible_topic(slug: str) -> Topic | None:
    return db.session.scalar(select(Topic).where(Topic.slug == slug,
                                                 Topic.hidden.is_(False)))


_FOLLOWED_IDS = select(TopicFollow.topic_id).where(TopicFollow.user_id == bindparam("user_id"))


def followed_ids(user_id: int) -> set[int]:
    # Part of the topic catalogue's key for a reader (membership.page_cache): read without
    # the ORM session, like the sign-in, so a kept catalogue needs none.
    return {topic_id for topic_id, in read_rows(_FOLLOWED_IDS, {"user_id": user_id})}


def followed_topics(user_id: int) -> list[Topic]:
    return list(db.session.scalars(
        select(Topic).join(TopicFollow, TopicFollow.topic_id == Topic.id)
        .where(TopicFollow.user_id == user_id).order_by(Topic.kind, Topic.position)))


def follow(user: User, topic: Topic) -> None:
    """Follow once: following again changes nothing (and is safe against a double
    click racing itself)."""
    db.session.execute(_follow_statement(db.session.get_bind().dialect.name),
                       {"user_id": user.id, "topic_id": topic.id, "created_at": utcnow()})


@cache
def _follow_statement(dialect: str):
    return upsert_insert(dialect)(TopicFollow).on_conflict_do_nothing()


def unfollow(user: User, topic: Topic) -> None:
    db.session.execute(delete(TopicFollow).where(TopicFollow.user_id == user.id,
                                                 TopicFollow.topic_id == topic.id))


def followers(topic_ids: list[int]) -> dict[int, int]:
    return dict(db.session.execute(
        select(TopicFollow.topic_id, func.count()).where(TopicFollow.topic_id.in_(topic_ids))
        .group_by(TopicFollow.topic_id)).all())


def export_follows(user: User) -> tuple[str, list[str]]:
    """The reader's topics for their data download."""
    return "followed_topics", [topic.slug for topic in followed_topics(user.id)]


# Staff changes --------------------------------------------------------------------------

def add_topic(slug: str, name: str, kind: str) -> Topic:
    last = db.session.scalar(select(func.max(Topic.position)).where(Topic.kind == kind))
    topic = Topic(slug=slug, name=name, kind=kind, position=(last or 0) + 1)
    db.session.add(topic)
    db.session.flush()
    return topic


def move_topic(topic: Topic, step: int) -> None:
    """Swap the topic with its neighbour within its kind (step -1: up, +1: down)."""
    siblings = list(db.session.scalars(select(Topic).where(Topic.kind == topic.kind)
                                       .order_by(Topic.position, Topic.name)))
    index = siblings.index(topic)
    other = index + step
    if not 0 <= other < len(siblings):
        return
    siblings[index], siblings[other] = siblings[other], siblings[index]
    for position, sibling in enumerate(siblings):
        sibling.position = position
    db.session.flush()
