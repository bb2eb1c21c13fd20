"""`flask newsletter send-digest [--date YYYY-MM-DD]`: queue the day's digests."""

from __future__ import annotations

import click

from membership.cli import ISO_DAY, command_blueprint
from membership.newsletter.digest import send_digest
from membership.types import utcnow

bp = command_blueprint("newsletter_cli", "newsletter")


@bp.cli.command("send-digest")
@click.option("--date", "day", type=ISO_DAY, default=None,
              help="The day whose stories to send (UTC); today by default.")
def send_digest_command(day) -> None:
    """Queue each confirmed subscriber's digest; safe to run again for the same day."""
    run = send_digest(day or utcnow().date())
    click.echo(f"{run.queued} digests queued ({run.personal} personal), "
               f"{run.already_sent} already sent for that day.")
