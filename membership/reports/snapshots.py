"""The analytics of a year, kept as computed a few minutes ago: counting readers who give
and second gifts reads hundreds of thousands of rows (over a second on a million
donations), more than a page may take. `flask reports refresh` (every ten minutes, from
its systemd timer) computes them for this year and the last; a page older than
ANALYTICS_MAX_AGE seconds, or a year no one asked for lately, computes them on the spot
and keeps them. The page says when its figures were counted."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime, timedelta

from flask import current_app

from membership.extensions import db
from membership.reports.analytics import Analytics, analytics
from membership.reports.giving import Band, Readers, SecondGifts
from membership.reports.models import ReportSnapshot
from membership.reports.recurring import Churn, Cohort, Recovery
from membership.types import utcnow

NAME = "analytics"


def analytics_as_of(year: int, today: date, exponent: Callable[[str], int],
                    max_age: int | None = None) -> tuple[Analytics, datetime]:
    """The year's figures and when they were counted: kept ones if younger than
    `max_age` seconds (ANALYTICS_MAX_AGE), else counted now and kept. Flushes; the
    caller commits."""
    if max_age is None:
        max_age = current_app.config["ANALYTICS_MAX_AGE"]
    kept = db.session.get(ReportSnapshot, (NAME, year))
    if kept is not None and max_age > 0 and kept.computed_at > utcnow() - timedelta(
            seconds=max_age):
        return from_record(kept.body), kept.computed_at
    return count_and_keep(year, today, exponent)


def count_and_keep(year: int, today: date,
                   exponent: Callable[[str], int]) -> tuple[Analytics, datetime]:
    figures, now = analytics(year, today, exponent), utcnow()
    body = to_record(figures)
    kept = db.session.get(ReportSnapshot, (NAME, year))
    if kept is None:
        db.session.add(ReportSnapshot(name=NAME, year=year, computed_at=now, body=body))
    else:
        kept.computed_at, kept.body = now, body
    db.session.flush()
    return figures, now


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
