"""The windows reports cover: whole UTC days, the periods a chart's bars stand for, and
the checks that turn query values into them (ReportError says what is wrong)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app

from membership.campaigns.models import Campaign
from membership.campaigns.services import campaign_by_slug
from membership.types import parse_iso_day


class ReportError(ValueError):
    """A report was asked for with parameters that make no sense; the message says why."""


@dataclass(frozen=True)
class Window:
    """Whole UTC days, `start` to `end` inclusive."""

    start: date
    end: date

    @property
    def begins(self) -> datetime:
        return datetime.combine(self.start, time.min, UTC)

    @property
    def ends(self) -> datetime:  # exclusive: midnight after the last day
        return datetime.combine(self.end + timedelta(days=1), time.min, UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


# Reports cover the years gifts can have been given in; outside them a day is a typo, and
# at the calendar's ends a window's exclusive end would overflow.
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(2999, 12, 31)


def parse_day(text: str, name: str) -> date:
    try:
        day = parse_iso_day(text)
    except ValueError as error:
        raise ReportError(f"{name} must be a date written YYYY-MM-DD, not {text!r}") from error
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ReportError(f"{name} must be between {EARLIEST_DAY} and {LATEST_DAY}, not {text}")
    return day


def window_from(start: str | None, end: str | None, today: date) -> Window:
    """The window from `start`/`end` query values; missing ones default to the 30 days
    up to today."""
    end_day = parse_day(end, "end") if end else today
    start_day = parse_day(start, "start") if start else end_day - timedelta(days=29)
    if start_day > end_day:
        raise ReportError(f"start ({start_day}) is after end ({end_day})")
    return Window(start_day, end_day)


def refuse_unknown(names, known: tuple[str, ...]) -> None:
    """A misspelt parameter (`stat=`, `campain=`) would silently report something else."""
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ReportError(f"unknown parameter {unknown[0]!r}; this report takes "
                          + ", ".join(known))


def campaign_named(slug: str | None) -> Campaign | None:
    if not slug:
        return None
    campaign = campaign_by_slug(slug)
    if campaign is None:
        raise ReportError(f"there is no campaign {slug!r}")
    return campaign


def reporting_currency() -> str:
    return current_app.config["DONATION_CURRENCIES"][0]


def period_for(window: Window) -> str:
    """Bars of a day for up to two months, of a week for up to a year, else of a month."""
    if window.days <= 62:
        return "day"
    return "week" if window.days <= 366 else "month"


def period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def following(start: date, period: str) -> date:
    """The first day of the next period."""
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def periods(window: Window, period: str) -> list[date]:
    """The first days of the periods that cover the window."""
    starts = [period_start(window.start, period)]
    while following(starts[-1], period) <= window.end:
        starts.append(following(starts[-1], period))
    return starts
