"""`flask newsletter send-digest [--date YYYY-MM-DD]`: queue the day's digests."""

from __future__ import annotations

import click
from flask import Blueprint

from membership.newsletter.digest import send_digest
from membership.types import utcnow

bp = Blueprint("newsletter_cli", __name__, cli_group="newsletter")


@bp.cli.command("send-digest")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The day whose stories to send (UTC); today by default.")
def send_digest_command(day) -> None:
    """Queue each confirmed subscriber's digest; safe to run again for the same day."""
    run = send_digest(day.date() if day else utcnow().date())
    click.echo(f"{run.queued} digests queued ({run.personal} personal), "
               f"{run.already_sent} already sent for that day.")
