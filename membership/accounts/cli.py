from __future__ import annotations

import click

from membership.accounts import services
from membership.accounts.forms import email_problem
from membership.cli import CommandError, command_blueprint
from membership.extensions import db

bp = command_blueprint("accounts_cli", None)


@bp.cli.command("create-staff")
@click.argument("email")
@click.option("--password", required=True, help="The staff member's password.")
def create_staff(email: str, password: str) -> None:
    """Create a staff account, or make an existing account staff."""
    problem = email_problem(email)
    if problem:
        raise CommandError(f"{email!r} is not an address that can log in: {problem}")
    problem = services.password_problem(password, email)
    if problem:
        raise CommandError(f"--password: {problem}")
    user, created = services.ensure_staff(email, password)
    db.session.commit()
    click.echo(f"{'Created' if created else 'Updated'} staff account {user.email}")
