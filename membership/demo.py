"""`flask seed-demo`: demo content, safe to run again and again."""

from __future__ import annotations

import click
from flask import Blueprint, current_app

from membership.accounts.services import ensure_staff
from membership.extensions import db

bp = Blueprint("demo_cli", __name__, cli_group=None)

DEMO_STAFF_EMAIL = "staff@example.org"
DEMO_STAFF_PASSWORD = "demo-staff-pass-2026"  # noqa: S105 - development only, printed on purpose


@bp.cli.command("seed-demo")
def seed_demo() -> None:
    """Add demo content (idempotent)."""
    if current_app.config["MEMBERSHIP_ENV"] != "production":
        ensure_staff(DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD)
        click.echo(f"Demo staff login: {DEMO_STAFF_EMAIL} / {DEMO_STAFF_PASSWORD}")
    db.session.commit()
    click.echo("Demo content is in place.")
