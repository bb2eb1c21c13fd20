"""CSV exports that stream: memory stays flat whatever the number of rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

from sqlalchemy import case, func, literal

from membership.extensions import db
from membership.sql import copy_csv

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
