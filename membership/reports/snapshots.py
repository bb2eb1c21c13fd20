"""The analytics of a year, kept as computed a few minutes ago: counting readers who give
and second gifts reads hundreds of thousands of rows (over a second on a million
donations), more than a page may take. `flask reports refresh` (every ten minutes, from
its systemd timer) computes them for this year and the last; a page older than
ANALYTICS_MAX_AGE seconds, or a year no one asked for lately, has them counted on the spot
and kept. The page says when its figures were counted."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import bindparam

from membership.extensions import db
from membership.reports.analytics import Analytics, analytics
from membership.reports.giving import Band, Readers, SecondGifts
from membership.reports.models import ReportSnapshot
from membership.reports.recurring import Churn, Cohort, Recovery
from membership.sql import upsert_insert, writing_connection
from membership.types import utcnow

NAME = "analytics"


def kept_analytics(year: int) -> tuple[Analytics, datetime] | None:
    """The year's figures as kept and when they were counted, if younger than
    ANALYTICS_MAX_AGE seconds."""
    max_age = current_app.config["ANALYTICS_MAX_AGE"]
    kept = db.session.get(ReportSnapshot, (NAME, year))
    if kept is None or max_age <= 0 or kept.computed_at <= utcnow() - timedelta(
            seconds=max_age):
        return None
    return from_record(kept.body), kept.computed_at


def count_and_keep(year: int, today: date,
                   exponent: Callable[[str], int]) -> tuple[Analytics, datetime]:
    """Count the figures now and keep them, in one statement that two first views (or a
    view and the timer) may run at once: the later count stands. Begin it in a
    transaction of its own (on SQLite it takes the write lock first and waits its turn).
    Flushes; the caller commits."""
    connection = writing_connection()
    figures, now = analytics(year, today, exponent), utcnow()
    connection.execute(_keep(connection.dialect.name), {
        "name": NAME, "year": year, "computed_at": now, "body": to_record(figures)})
    return figures, now


@cache
def _keep(dialect: str):
    statement = upsert_insert(dialect)(ReportSnapshot.__table__).values(
        name=bindparam("name"), year=bindparam("year"), computed_at=bindparam("computed_at"),
        body=bindparam("body"))
    return statement.on_conflict_do_update(
        index_elements=["name", "year"],
        set_={"computed_at": statement.excluded.computed_at, "body": statement.excluded.body})


def to_record(figures: Analytics) -> dict:
    """The figures as plain JSON (dates as ISO text), every field kept."""
    record = dataclasses.asdict(figures)
    for cohort in record["cohorts"]:
        cohort["month"] = cohort["month"].isoformat()
    return record


def from_record(record: dict) -> Analytics:
    return Analytics(
        year=record["year"],
        churn=Churn(**record["churn"]),
        recovery=Recovery(**record["recovery"]),
        gift_ranges={currency: [Band(**band) for band in bands]
                     for currency, bands in record["gift_ranges"].items()},
        second_gifts=SecondGifts(**record["second_gifts"]),
        cohorts=[Cohort(month=date.fromisoformat(cohort["month"]), size=cohort["size"],
                        giving=tuple(cohort["giving"])) for cohort in record["cohorts"]],
        readers=[Readers(**row) for row in record["readers"]],
    )
