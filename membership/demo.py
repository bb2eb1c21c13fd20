"""`flask seed-demo`: demo content, safe to run again and again."""

from __future__ import annotations

import click
from flask import current_app

from membership.accounts.services import ensure_staff
from membership.campaigns.demo import recount_all, seed_demo_campaigns
from membership.cli import command_blueprint
from membership.donations.demo import demo_donation_count, seed_demo_donations
from membership.donations.services import recount_daily_totals
from membership.extensions import db
from membership.topics.demo import seed_demo_stories
from membership.topics.services import seed_topics
from membership.types import utcnow

bp = command_blueprint("demo_cli", None)

DEMO_STAFF_EMAIL = "staff@example.org"
# For the demo only, and printed by seed-demo on purpose.
DEMO_STAFF_PASSWORD = "demo-staff-pass-2026"  # noqa: S105  # nosec B105


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
    click.echo("Demo content is in place.")
