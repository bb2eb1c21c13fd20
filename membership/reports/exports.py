"""CSV exports that stream: memory stays flat whatever the number of rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

from sqlalchemy import case, func, literal, select

from membership.campaigns.models import Campaign
from membership.donations.models import Donation, Donor
from membership.extensions import db
from membership.reports.windows import Window
from membership.sql import copy_csv, utc_iso_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_BATCH = 5000


def spreadsheet_safe(column):
    """Text a spreadsheet would run as a formula gets an apostrophe in front, so it shows
    as typed (donors choose their name, and even their e-mail address)."""
    return case((func.substr(column, 1, 1).in_(FORMULA_STARTS), literal("'") + column),
                else_=column)


def stream_csv(columns: Sequence[str], query) -> Iterator[bytes]:
    """The header and the rows of `query` as CSV in UTF-8 with a byte-order mark (so
    spreadsheets open accents and scripts correctly). PostgreSQL writes the CSV itself;
    elsewhere rows are fetched in batches. Format cells in SQL, so both give the same."""
    yield ("\ufeff" + ",".join(columns) + "\n").encode()
    if db.session.get_bind().dialect.name == "postgresql":
        yield from copy_csv(query)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    result = db.session.connection().execution_options(yield_per=CSV_BATCH).execute(query)
    for batch in result.partitions():
        writer.writerows(batch)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()


# Named so they cannot be misread: what the donor added to cover fees is not Stripe's fee,
# and what is kept after refunds is not net of fees (those come as settled by Stripe).
CSV_COLUMNS = ("donation_id", "created_at", "donor_email", "donor_name", "amount_cents",
               "donor_covered_fee_cents", "kept_after_refunds_cents", "currency",
               "frequency", "campaign", "status", "refunded_cents", "dispute_status",
               "recurring_gift_id", "stripe_id", "settled_currency", "settled_amount_cents",
               "stripe_fee_cents")


def donations_csv(window: Window, campaign: Campaign | None = None) -> Iterator[bytes]:
    """One row per donation in the window, every currency, oldest first (see
    `reports.exports.stream_csv`)."""
    dialect = db.session.get_bind().dialect.name
    query = select(
        Donation.id, utc_iso_text(Donation.created_at, dialect),
        spreadsheet_safe(Donor.email), spreadsheet_safe(Donor.name), Donation.amount_cents,
        Donation.fee_cents, Donation.net_cents, Donation.currency, Donation.frequency,
        spreadsheet_safe(Donation.campaign), Donation.status, Donation.refunded_cents,
        Donation.dispute_status, Donation.recurring_gift_id, Donation.stripe_id,
        Donation.settled_currency, Donation.settled_amount_cents, Donation.settled_fee_cents,
    ).join(Donor, Donor.id == Donation.donor_id).where(
        Donation.created_at >= window.begins, Donation.created_at < window.ends,
    ).order_by(Donation.created_at, Donation.id)
    if campaign is not None:
        query = query.where(Donation.campaign == campaign.slug)
    return stream_csv(CSV_COLUMNS, query)
