"""`flask donations …`: the daily and yearly mail to donors, for cron.

- `card-reminders`: a reminder to each donor whose recurring gift's card expires within
  30 days, once per card (run daily).
- `send-statements [--year YYYY]`: each donor's statement for the past fiscal year, once
  per donor and year (run it daily from cron: the first run after the year is over sends
  them, in January for a calendar fiscal year)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import click

from membership.cli import ISO_DAY, CommandError, command_blueprint
from membership.donations.cards import send_card_reminders
from membership.donations.giving import fiscal_label
from membership.donations.statements import last_fiscal_year, send_statements
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


@bp.cli.command("send-statements")
@click.option("--year", type=click.IntRange(1900, 9999), default=None,
              help="The fiscal year (named by the calendar year it starts in); the last "
                   "one that is over by default.")
def send_statements_command(year: int | None) -> None:
    """E-mail each donor their statement for the year, with its PDF; once per donor."""
    now = utcnow()
    year = year or last_fiscal_year(now)
    if year > last_fiscal_year(now):
        raise CommandError(f"the fiscal year {year} is not over yet")
    queued, already = send_statements(year, now)
    db.session.commit()
    click.echo(f"{queued} statements for {fiscal_label(year)} queued, {already} already sent.")
