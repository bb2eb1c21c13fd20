"""Digest building speed: 100,000 confirmed subscribers and 500 stories of one day on
PostgreSQL; prints digests queued per second and the process's peak memory.

    .venv/bin/python benchmarks/digest_bench.py

(BENCH_SUBSCRIBERS and BENCH_STORIES change the sizes.) The database
membership_bench_digest is made anew on each run."""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.http_bench import migrate, postgres_database, production_env  # noqa: E402

SUBSCRIBERS = int(os.environ.get("BENCH_SUBSCRIBERS", "100000"))
STORIES = int(os.environ.get("BENCH_STORIES", "500"))
DAY = date(2026, 11, 23)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed(rng: random.Random) -> None:
    from sqlalchemy import insert, select

    from membership.accounts.models import User
    from membership.extensions import db
    from membership.newsletter.models import Subscriber, SubscriberTopic
    from membership.topics.models import Story, StoryTopic, Topic, TopicFollow
    from membership.topics.services import seed_topics

    seed_topics()
    topic_ids = list(db.session.scalars(select(Topic.id)))
    start = datetime(2026, 11, 23, tzinfo=UTC)
    db.session.execute(insert(Story), [
        {"url": f"https://news.example.org/bench/{n}", "title": f"Story {n}",
         "summary": "A summary of two sentences. " * 2,
         "published_at": start + timedelta(seconds=rng.randint(0, 86399)),
         "created_at": start} for n in range(STORIES)])
    story_ids = list(db.session.scalars(select(Story.id)))
    db.session.execute(insert(StoryTopic), [
        {"story_id": story_id, "topic_id": topic_id} for story_id in story_ids
        for topic_id in rng.sample(topic_ids, 2)])
    now = datetime.now(UTC)
    db.session.execute(insert(Subscriber), [
        {"email": f"reader{n}@example.net", "status": "confirmed",
         "consent_version": "2026-11-24", "consented_at": now, "confirmed_at": now,
         "created_at": now} for n in range(SUBSCRIBERS)])
    subscribers = list(db.session.scalars(select(Subscriber.id)))
    # A third chose topics; a tenth have an account that follows some.
    db.session.execute(insert(SubscriberTopic), [
        {"subscriber_id": subscriber_id, "topic_id": topic_id}
        for subscriber_id in subscribers[::3] for topic_id in rng.sample(topic_ids, 3)])
    db.session.execute(insert(User), [
        {"email": f"reader{n}@example.net", "name": "", "password_hash": "x",
         "is_staff": False, "email_verified_at": now, "session_token": f"t{n}",
         "created_at": now} for n in range(0, SUBSCRIBERS, 10)])
    db.session.execute(insert(TopicFollow), [
        {"user_id": user_id, "topic_id": topic_id, "created_at": now}
        for user_id in db.session.scalars(select(User.id))
        for topic_id in rng.sample(topic_ids, 4)])
    db.session.commit()


def main() -> None:
    """Seeds in a child process, so that the peak memory printed is the digest run's."""
    if "--seed" not in sys.argv:
        os.environ["BENCH_FRESH"] = "1"
        env = production_env(postgres_database("membership_bench_digest"))
        env["SITE_URL"] = "https://news.example.org"
        migrate(env)
        os.environ.update(env)
        subprocess.run([sys.executable, __file__, "--seed"], check=True)

    from membership import create_app
    from membership.newsletter.digest import send_digest

    app = create_app()
    with app.app_context(), app.test_request_context():
        if "--seed" in sys.argv:
            seed(random.Random(7))
            return
        before = peak_mb()
        started = time.perf_counter()
        run = send_digest(DAY)
        seconds = time.perf_counter() - started
    print(f"{run.queued:,} digests ({run.personal:,} personal) of {STORIES} stories in "
          f"{seconds:.1f} s: {run.queued / seconds:,.0f} digests/s; peak memory "
          f"{peak_mb():.0f} MB ({before:.0f} MB before the run)")


if __name__ == "__main__":
    main()
