"""`flask seed-demo`: demo content, safe to run again and again."""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy import func, insert, select

from membership.accounts.models import User
from membership.accounts.services import ensure_staff
from membership.campaigns.demo import recount_all, seed_demo_campaigns
from membership.cli import command_blueprint
from membership.donations.demo import DEMO_DOMAIN, demo_donation_count, seed_demo_donations
from membership.extensions import db
from membership.newsletter.models import Subscriber, SubscriberStatus, SubscriberTopic
from membership.newsletter.services import CONSENT_VERSION
from membership.reports.kept import recount_daily_totals
from membership.topics.demo import seed_demo_stories
from membership.topics.models import Topic, TopicFollow
from membership.topics.services import seed_topics
from membership.types import utcnow

bp = command_blueprint("demo_cli", None)

DEMO_STAFF_EMAIL = "staff@example.org"
# For the demo only, and printed by seed-demo on purpose.
DEMO_STAFF_PASSWORD = "demo-staff-pass-2026"  # noqa: S105  # nosec B105


# Demo readers for the giving figures: one account per READERS_PER demo gifts.
READERS_PER = 16
READER_DOMAIN = "readers.example.net"
BATCH = 5000


def seed_demo_readers(count: int) -> int:
    """`count` accounts, every third with a demo donor's address, each following one to
    four topics; twice as many newsletter subscribers, every other one a demo donor's
    address and one in ten not confirmed yet, a third of them with topics of their own.
    Their passwords are unusable: they are figures, not logins. Idempotent."""
    present = db.session.scalar(select(func.count()).select_from(User).where(
        User.password_hash.like("!demo%")))
    topics = list(db.session.scalars(select(Topic.id).order_by(Topic.id)))
    if present >= count or not topics:
        return max(present, 0)
    now = utcnow()

    def address(n: int, every: int, kind: str) -> str:
        return f"donor{n:06d}@{DEMO_DOMAIN}" if n % every == 0 else f"{kind}{n:06d}@{READER_DOMAIN}"

    for start in range(present, count, BATCH):
        numbers = range(start, min(start + BATCH, count))
        db.session.execute(insert(User), [
            {"email": address(n, 3, "reader"), "name": "", "password_hash": f"!demo{n}",
             "is_staff": False, "email_verified_at": now, "session_token": f"demo{n}",
             "created_at": now} for n in numbers])
        users = dict(db.session.execute(select(User.email, User.id).where(
            User.password_hash.in_([f"!demo{n}" for n in numbers]))).all())
        db.session.execute(insert(TopicFollow), [
            {"user_id": users[address(n, 3, "reader")], "topic_id": topic, "created_at": now}
            for n in numbers
            for topic in {topics[(n * k) % len(topics)] for k in range(1, 2 + n % 4)}])
        subscribers = [
            {"public_id": f"demo{n}", "email": address(n, 2, "subscriber"),
             "status": SubscriberStatus.PENDING if n % 10 == 9 else SubscriberStatus.CONFIRMED,
             "consent_version": CONSENT_VERSION, "consented_at": now,
             "confirmed_at": None if n % 10 == 9 else now, "created_at": now}
            for n in range(start * 2, min(start + BATCH, count) * 2)]
        db.session.execute(insert(Subscriber), subscribers)
        chosen = dict(db.session.execute(select(Subscriber.public_id, Subscriber.id).where(
            Subscriber.public_id.in_([row["public_id"] for row in subscribers]))).all())
        db.session.execute(insert(SubscriberTopic), [
            {"subscriber_id": chosen[f"demo{n}"], "topic_id": topic}
            for n in range(start * 2, min(start + BATCH, count) * 2) if n % 3 == 0
            for topic in {topics[n % len(topics)], topics[(n * 7) % len(topics)]}])
        db.session.commit()
    return count


@bp.cli.command("seed-demo")
@click.option("--donations", "donations", type=click.IntRange(min=0), default=0,
              help="Also keep N synthetic donations (for reports and benchmarks).")
def seed_demo(donations: int) -> None:
    """Add demo content (idempotent)."""
    if current_app.config["MEMBERSHIP_ENV"] != "production":
        ensure_staff(DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD)
        click.echo(f"Demo staff login: {DEMO_STAFF_EMAIL} / {DEMO_STAFF_PASSWORD}")
    seed_demo_campaigns(utcnow())
    seed_topics()
    seed_demo_stories(utcnow())
    db.session.commit()
    if donations:
        added = seed_demo_donations(donations, current_app.config["DONATION_CURRENCIES"])
        if added:
            recount_daily_totals()
            recount_all()
            db.session.commit()
        click.echo(f"Synthetic donations: {demo_donation_count()} ({added} added).")
        readers = seed_demo_readers(max(donations // READERS_PER, 10))
        click.echo(f"Synthetic readers: {readers} accounts following topics, "
                   f"{readers * 2} newsletter subscribers.")
    click.echo("Demo content is in place.")
