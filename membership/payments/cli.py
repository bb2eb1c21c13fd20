from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, time

import click

from membership.cli import ISO_DAY, command_blueprint
from membership.donations.gateway import GatewayError, payment_gateway
from membership.payments.settlements import backfill_settlements
from membership.payments.webhook import ALREADY, READ_AGAIN_FOR, ingest_event, read_stripe_again

bp = command_blueprint("stripe_cli", "stripe")


@bp.cli.command("reconcile")
@click.option("--since", required=True, type=ISO_DAY,
              help="First UTC day to read (Stripe keeps events for 30 days).")
def reconcile(since: date) -> None:
    """Feed Stripe's event list since a day through the webhook's own handler.

    Safe to run at any time and as often as wanted: events already applied are skipped."""
    start = int(datetime.combine(since, time.min, UTC).timestamp())
    counts: Counter[str] = Counter()
    try:
        # Stripe lists newest first; applied oldest first, a failure and its recovery
        # arrive in the order they happened (at most 30 days of events: they fit in memory).
        events = sorted(payment_gateway().events_since(start), key=lambda e: e["created"])
    except GatewayError as error:
        raise click.ClickException(f"could not read Stripe's events: {error}") from error
    for event in events:
        # Stripe's JSON carries decimals as strings; the library reads them as Decimal.
        outcome = ingest_event(event, json.dumps(event, default=str))
        if outcome.http_status != 200:
            counts["failed"] += 1
        elif outcome.body["status"] == ALREADY:
            counts["already applied"] += 1
        elif outcome.body["status"] == "ignored":
            counts["ignored" if outcome.body["new"] else "already applied"] += 1
        else:
            counts["new" if outcome.body["new"] else "applied on retry"] += 1
    click.echo(", ".join(f"{name}: {counts[name]}" for name in
                         ("new", "applied on retry", "already applied", "ignored", "failed")))
    if counts["failed"]:
        raise SystemExit(1)


@bp.cli.command("refresh")
def refresh() -> None:
    """Read Stripe again for the events applied from their own copy while Stripe could
    not be read, and apply each object as Stripe holds it now.

    Run it every few minutes (deploy/systemd/membership-stripe-refresh.timer); it fails
    while Stripe still cannot be read, and gives an event up after three days."""
    result = read_stripe_again()
    click.echo(f"read again: {result.read}, waiting: {result.waiting}, "
               f"given up: {result.given_up}, failed: {result.failed}")
    if result.given_up:
        click.echo(f"{result.given_up} event(s) waited longer than {READ_AGAIN_FOR.days} days"
                   " for Stripe; they stay as their own copy said (see /admin/events)",
                   err=True)
    if result.waiting:
        raise click.ClickException(
            f"Stripe could not be read; {result.waiting} event(s) wait for the next run")
    if result.failed:
        raise click.ClickException(f"{result.failed} event(s) could not be applied again; "
                                   "their errors are in /admin/events")


@bp.cli.command("settlements")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Ask Stripe about at most this many donations (default: all).")
def settlements(limit: int | None) -> None:
    """Keep, for every donation that lacks it, its charge's balance transaction: the
    amount and fee in the account's settlement currency (for gifts recorded before
    charge events were kept, or whose charge event never came). Safe to run again."""
    result = backfill_settlements(limit)
    click.echo(f"settled: {result.settled}, not settled yet: {result.pending}, "
               f"failed: {result.failed}")
    if result.stopped:
        raise click.ClickException("Stripe could not be read; run it again later")
    if result.failed:
        raise click.ClickException(f"{result.failed} charge(s) from Stripe could not be "
                                   "read (see the log); the others are settled")
