from __future__ import annotations

import click
from flask import Blueprint

from membership.accounts import services
from membership.extensions import db

bp = Blueprint("accounts_cli", __name__, cli_group=None)


@bp.cli.command("create-staff")
@click.argument("email")
@click.option("--password", required=True, help="The staff member's password.")
def create_staff(email: str, password: str) -> None:
    """Create a staff account, or make an existing account staff."""
    problem = services.password_problem(password, email)
    if problem:
        raise click.BadParameter(problem, param_hint="--password")
    user, created = services.ensure_staff(email, password)
    db.session.commit()
    click.echo(f"{'Created' if created else 'Updated'} staff account {user.email}")
