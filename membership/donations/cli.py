"""`flask donations …`: the daily and yearly mail to donors, for cron.

- `card-reminders`: a reminder to each donor whose recurring gift's card expires within
  30 days, once per card (run daily).
- `send-statements [--year YYYY]`: each donor's statement for the past fiscal year, once
  per donor and year (run daily in the month after the fiscal year ends, or once)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import click

from membership.cli import ISO_DAY, command_blueprint
from membership.donations.cards import send_card_reminders
from membership.extensions import db
from membership.types import utcnow

bp = command_blueprint("donations_cli", "donations")


@bp.cli.command("card-reminders")
@click.option("--date", "day", type=ISO_DAY, default=None,
              help="The day to run as (UTC), to catch up a missed run; today by default.")
def card_reminders_command(day) -> None:
    """E-mail the donors whose card expires within 30 days; safe to run again."""
    sent = send_card_reminders(datetime.combine(day, time(), UTC) if day else utcnow())
    db.session.commit()
    click.echo(f"{sent} card expiry reminders queued.")
