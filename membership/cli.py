"""What every command of the app shares: errors as one line, and strict argument types.

Commands run from cron, systemd and deploy scripts, where a usage screen or a traceback
in the log helps nobody: a bad argument or an unreachable database is one line on stderr
("Error: …") and a non-zero exit status."""

from __future__ import annotations

from datetime import date

import click
from flask import Blueprint
from sqlalchemy.exc import OperationalError

from membership.types import parse_iso_day


class CommandError(click.ClickException):
    """A bad argument: one line on stderr, exit status 2 (as click's usage errors)."""

    exit_code = 2


class OneLineCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise CommandError(f"{ctx.command_path}: {error.format_message()}") from error

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OperationalError as error:
            raise click.ClickException(
                f"the database did not answer ({type(error.orig).__name__}: "
                f"{str(error.orig).strip().splitlines()[0] if error.orig else error})") from error


def command_blueprint(name: str, group: str | None) -> Blueprint:
    """A blueprint whose `bp.cli.command`s report errors as one line."""
    bp = Blueprint(name, __name__, cli_group=group)
    bp.cli.command_class = OneLineCommand
    return bp


class ISODay(click.ParamType):
    """A UTC day written exactly as YYYY-MM-DD."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx) -> date:
        if isinstance(value, date):
            return value
        try:
            return parse_iso_day(value)
        except ValueError:
            self.fail(f"{value!r} is not a day written as YYYY-MM-DD", param, ctx)


ISO_DAY = ISODay()
