"""Feed import and "my news"."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from membership.extensions import db
from membership.topics.demo import STORIES, seed_demo_stories
from membership.topics.models import Story, Topic, TopicFollow
from membership.topics.services import seed_topics
from membership.types import utcnow

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


@pytest.fixture
def catalogue(app):
    seed_topics()
    db.session.commit()


def run_import(app, source: Path):
    return app.test_cli_runner().invoke(args=["articles", "import", str(source)])


def stories() -> list[Story]:
    db.session.rollback()
    return list(db.session.scalars(select(Story).order_by(Story.published_at)))


def test_a_feed_imports_once_with_its_topics(app, catalogue):
    result = run_import(app, FEEDS / "agency.xml")
    assert result.exit_code == 0, result.output
    assert "2 new stories, 0 already known, 1 skipped" in result.output
    islamabad, rafah = stories()
    assert rafah.title == "Border crossing at Rafah reopens for medical cases"
    assert rafah.summary == "Forty patients crossed on the first day, officials said & more wait."
    assert rafah.published_at == datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
    assert {t.slug for t in rafah.topics} == {"gaza", "egypt", "human-rights"}  # no "Sports"
    assert {t.slug for t in islamabad.topics} == {"pakistan", "politics"}
    again = run_import(app, FEEDS / "agency.xml")
    assert "0 new stories, 2 already known" in again.output
    assert len(stories()) == 2


@pytest.mark.parametrize("source", ["broken.xml", "missing.xml"])
def test_a_feed_that_cannot_be_read_is_refused_and_imports_nothing(app, catalogue, source):
    result = run_import(app, FEEDS / source)
    assert result.exit_code == 1
    assert "Error:" in result.output and source in result.output
    assert stories() == []


def test_my_news_shows_the_followed_topics_newest_first(client, forms, reader, catalogue):
    seed_demo_stories(utcnow())
    db.session.commit()
    forms.login("reader@example.org", "a sturdy passphrase")
    empty = client.get("/my-news").get_data(as_text=True)
    assert "You do not follow any topic yet." in empty and 'href="/topics"' in empty
    for slug in ("qatar", "azerbaijan"):
        db.session.add(TopicFollow(user_id=reader.id, topic_id=db.session.scalar(
            select(Topic.id).where(Topic.slug == slug))))
    db.session.commit()
    html = client.get("/my-news").get_data(as_text=True)
    doha = html.index("Doha hosts a new round of ceasefire mediation")
    baku = html.index("Azerbaijan signs gas supply deals with two EU states")
    assert doha < baku  # ten days ago before eleven days ago
    assert "Kabul" not in html
    assert "· Gaza" in html  # each story shows its topics


def test_my_news_pages_through_many_stories(client, forms, reader, catalogue):
    seed_demo_stories(utcnow())
    db.session.add_all(TopicFollow(user_id=reader.id, topic_id=topic_id)
                       for topic_id in db.session.scalars(select(Topic.id)))
    db.session.commit()
    forms.login("reader@example.org", "a sturdy passphrase")
    first = client.get("/my-news").get_data(as_text=True)
    second = client.get("/my-news?page=2").get_data(as_text=True)
    assert first.count('class="story"') == 20
    assert second.count('class="story"') == len(STORIES) - 20
    assert "Page 2 of 2" in second


def test_visitors_are_invited_to_sign_up(client):
    html = client.get("/my-news").get_data(as_text=True)
    assert "Create a free account" in html and "/account/signup?next=/topics" in html


def test_demo_stories_are_seeded_once(app, catalogue):
    assert seed_demo_stories(utcnow()) == len(STORIES)
    assert seed_demo_stories(utcnow()) == 0
    assert db.session.scalar(select(func.count()).select_from(Story)) == len(STORIES)
