from __future__ import annotations

import smtplib
import time

import click
from flask import current_app

from membership.cli import CommandError, command_blueprint
from membership.mail.services import SMTPSettings, SMTPTransport, deliver_pending

bp = command_blueprint("mail_cli", "mail")


@bp.cli.command("deliver")
@click.option("--watch", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
              help="Keep running, looking for due mail every SECONDS.")
def deliver(watch: float | None) -> None:
    """Send the outbox's due messages through MAIL_URL."""
    url = current_app.config["MAIL_URL"]
    if not url:
        raise CommandError("MAIL_URL is not set: mail stays in the outbox (see /admin/outbox)")
    try:
        settings = SMTPSettings.from_url(url)
    except ValueError as error:
        raise CommandError(str(error)) from error
    transport = SMTPTransport(settings)
    while True:
        try:
            report = deliver_pending(
                transport,
                sender=current_app.config["MAIL_FROM"],
                max_attempts=current_app.config["MAIL_MAX_ATTEMPTS"],
            )
        except (smtplib.SMTPException, OSError) as error:
            click.echo(f"SMTP server unavailable, will retry: {error}", err=True)
        else:
            if report.sent or report.retrying or report.failed or watch is None:
                click.echo(f"sent {report.sent}, retrying {report.retrying}, "
                           f"failed {report.failed}")
        if watch is None:
            return
        time.sleep(watch)
