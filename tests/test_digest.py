"""The daily digest: personal stories, the fallback, idempotence and a crash halfway."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from membership.extensions import db
from membership.mail.models import OutboxMessage
from membership.mail.services import render_message
from membership.newsletter.digest import send_digest
from membership.newsletter.models import Subscriber, SubscriberTopic
from membership.topics.models import Story, StoryTopic, Topic, TopicFollow
from membership.topics.services import seed_topics
from tests.builders import make_user, refusing_statements

DAY = date(2026, 11, 23)


def topic_id(slug: str) -> int:
    return db.session.scalar(select(Topic.id).where(Topic.slug == slug))


@pytest.fixture
def mailing(app):
    """Stories of the day and of the day before; five subscribers of every kind."""
    seed_topics()
    for hour, title, slugs in ((9, "Gaza ceasefire talks resume", ["gaza", "diplomacy"]),
                               (8, "Lahore schools reopen", ["pakistan"]),
                               (7, "Oil prices steady", ["energy"])):
        story = Story(url=f"https://news.example.org/{hour}", title=title,
                      summary=f"About {title.lower()}.",
                      published_at=datetime(2026, 11, 23, hour, tzinfo=UTC))
        db.session.add(story)
        db.session.flush()
        db.session.add_all(StoryTopic(story_id=story.id, topic_id=topic_id(slug))
                           for slug in slugs)
    db.session.add(Story(url="https://news.example.org/old", title="Yesterday's story",
                         published_at=datetime(2026, 11, 22, 23, 59, tzinfo=UTC)))
    follower = make_user("follower@example.org", "a sturdy passphrase")
    db.session.add(TopicFollow(user_id=follower.id, topic_id=topic_id("gaza")))
    for email, status in (("follower@example.org", "confirmed"),
                          ("chooser@example.org", "confirmed"),
                          ("plain@example.org", "confirmed"),
                          ("pending@example.org", "pending"),
                          ("gone@example.org", "unsubscribed")):
        db.session.add(Subscriber(email=email, status=status, consent_version="2026-11-24",
                                  consented_at=datetime(2026, 11, 1, tzinfo=UTC)))
    db.session.flush()
    chooser = db.session.scalar(select(Subscriber).where(
        Subscriber.email == "chooser@example.org"))
    db.session.add(SubscriberTopic(subscriber_id=chooser.id, topic_id=topic_id("pakistan")))
    db.session.commit()


def digests() -> dict[str, list[str]]:
    db.session.rollback()
    messages = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "newsletter/digest"))
    return {m.recipient: [s["title"] for s in m.context["stories"]] for m in messages}


def test_each_confirmed_subscriber_gets_their_stories_once(mailing):
    run = send_digest(DAY)
    assert (run.queued, run.personal, run.already_sent) == (3, 2, 0)
    assert digests() == {
        "follower@example.org": ["Gaza ceasefire talks resume"],  # the account's follows
        "chooser@example.org": ["Lahore schools reopen"],  # their preferences
        "plain@example.org": ["Gaza ceasefire talks resume", "Lahore schools reopen",
                              "Oil prices steady"],  # the day's top stories
    }
    again = send_digest(DAY)
    assert (again.queued, again.already_sent) == (0, 3)
    assert len(digests()) == 3 and db.session.scalar(select(func.count()).select_from(
        OutboxMessage)) == 3


def test_a_run_that_crashes_halfway_resumes_without_copies(mailing):
    inserts = [0]

    def second_outbox_insert(sql: str) -> bool:
        if sql.startswith("INSERT INTO MAIL_OUTBOX"):
            inserts[0] += 1
            return inserts[0] == 2
        return False

    with refusing_statements(second_outbox_insert), pytest.raises(Exception, match="inject"):
        send_digest(DAY, batch=1)
    db.session.rollback()
    assert len(digests()) == 1  # the first batch was committed, the second rolled back
    run = send_digest(DAY, batch=1)
    assert (run.queued, run.already_sent) == (2, 1)
    assert len(digests()) == 3


def test_the_mail_carries_one_click_unsubscribe_and_reads_well(mailing):
    send_digest(DAY)
    message = db.session.scalar(select(OutboxMessage).where(
        OutboxMessage.recipient == "chooser@example.org"))
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.headers["List-Unsubscribe"].startswith(
        "<http://membership.test/newsletter/unsubscribe/")
    assert message.subject == "Your news for November 23, 2026"
    rendered = render_message(message)
    assert "Lahore schools reopen" in rendered.text_body
    assert "Lahore schools reopen" in rendered.html_body
    assert message.context["unsubscribe_link"] in rendered.text_body
    assert "/newsletter/preferences/" in rendered.html_body
    db.session.rollback()


def test_no_stories_no_mail(app):
    assert send_digest(date(2020, 1, 1)).queued == 0


def test_the_command_takes_a_date(app, mailing):
    result = app.test_cli_runner().invoke(args=["newsletter", "send-digest",
                                                "--date", "2026-11-23"])
    assert result.exit_code == 0, result.output
    assert "3 digests queued (2 personal), 0 already sent" in result.output


def test_subscribers_choose_topics_from_a_signed_link(mailing, client, forms):
    from membership.newsletter.services import preferences_link

    plain = db.session.scalar(select(Subscriber).where(Subscriber.email == "plain@example.org"))
    path = preferences_link(plain).split("membership.test", 1)[1]
    db.session.rollback()
    page = client.get(path).get_data(as_text=True)
    assert "Energy" in page
    response = forms.post(path, {"topics": [str(topic_id("energy"))]})
    assert response.status_code == 302
    send_digest(DAY)
    assert digests()["plain@example.org"] == ["Oil prices steady"]
    follower = db.session.scalar(select(Subscriber).where(
        Subscriber.email == "follower@example.org"))
    html = client.get(preferences_link(follower).split("membership.test", 1)[1]).get_data(
        as_text=True)
    assert "the e-mail follows the topics you follow there" in html
    assert client.get("/newsletter/preferences/forged").status_code == 400
