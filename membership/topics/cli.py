"""`flask articles import SOURCE`: stories from an RSS or Atom feed (a URL or a file)."""

from __future__ import annotations

import click

from membership.cli import command_blueprint
from membership.extensions import db
from membership.topics.stories import FeedError, import_feed

bp = command_blueprint("articles_cli", "articles")


@bp.cli.command("import")
@click.argument("source")
def import_command(source: str) -> None:
    """Import the feed's new stories; importing the same feed again adds nothing."""
    try:
        result = import_feed(source)
    except FeedError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"{result.added} new stories, {result.already_known} already known, "
               f"{result.skipped} skipped (no title or link).")
