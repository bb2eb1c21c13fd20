from __future__ import annotations

import click

from membership.cli import command_blueprint
from membership.donations.money import exponent
from membership.extensions import db
from membership.reports.retention import FIRST_YEAR, LAST_YEAR
from membership.reports.snapshots import count_and_keep
from membership.types import utcnow

bp = command_blueprint("reports_cli", "reports")


@bp.cli.command("refresh")
@click.option("--year", "years", multiple=True,
              type=click.IntRange(FIRST_YEAR, LAST_YEAR),
              help="A UTC year to count (again and again); default: this year and the last.")
def refresh(years: tuple[int, ...]) -> None:
    """Count the analytics of this year and the last (or of each --year) and keep them,
    so that the analytics page shows them at once. Run it every ten minutes
    (deploy/systemd/membership-reports-refresh.timer)."""
    today = utcnow().date()
    for year in years or (today.year, today.year - 1):
        _figures, counted_at = count_and_keep(year, today, exponent)
        db.session.commit()
        click.echo(f"analytics {year}: counted at {counted_at:%Y-%m-%d %H:%M:%S} UTC")
