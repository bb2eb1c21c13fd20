"""Donor retention by calendar year, and the lapsed donors fundraisers write to.

A donor *gave in* a year when they have a donation paid in that UTC year that is still
worth something: not wholly refunded, not lost to a dispute (an open dispute still
counts). Donors are people, whatever the currency they gave in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, case, func, select

from membership.donations.models import ANONYMIZED_DOMAIN, Donation, Donor
from membership.extensions import db
from membership.reports.exports import spreadsheet_safe, stream_csv
from membership.sql import utc_iso_text

# Years a report may ask about: each needs the year before it to exist as well.
FIRST_YEAR, LAST_YEAR = 1971, 9998
GROUPS = ("lybunt", "sybunt")
LAPSED_COLUMNS = ("donor_email", "donor_name", "last_gift_at", "last_gift_cents", "currency",
                  "lifetime_cents", "gifts")


class YearError(ValueError):
    """Not a year a report can be made for; the message says why."""


def parse_year(text: str | None) -> int:
    if text is None or not (text.isascii() and text.isdigit() and len(text) == 4):
        raise YearError("year must be a year, like 2026 (four digits)")
    year = int(text)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise YearError(f"year must be between {FIRST_YEAR} and {LAST_YEAR}")
    return year


@dataclass(frozen=True)
class Years:
    """The UTC instants that split time around `year` (each bound included in the later
    part): before the previous year, the previous year, the year itself."""

    year: int

    @property
    def previous_starts(self) -> datetime:
        return datetime(self.year - 1, 1, 1, tzinfo=UTC)

    @property
    def starts(self) -> datetime:
        return datetime(self.year, 1, 1, tzinfo=UTC)

    @property
    def ends(self) -> datetime:
        return datetime(self.year + 1, 1, 1, tzinfo=UTC)


def _flag(condition):
    return func.max(case((condition, 1), else_=0))


def _donor_years(years: Years):
    """Per donor who gave up to the end of the year: whether they gave in it (`this`), in
    the year before (`last`), and in any year before that (`before`)."""
    at = Donation.created_at
    return (select(Donation.donor_id.label("donor_id"),
                   _flag(at >= years.starts).label("this"),
                   _flag(and_(at >= years.previous_starts, at < years.starts)).label("last"),
                   _flag(at < years.previous_starts).label("before"))
            .where(Donation.net_cents > 0, at < years.ends)
            .group_by(Donation.donor_id).subquery())


def retention(year: int) -> dict:
    """The contract's retention figures for `year` (see CONTRACT.md, Retention)."""
    donors = _donor_years(Years(year))
    this, last, before = donors.c.this, donors.c.last, donors.c.before

    def count(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = db.session.execute(select(
        count(this == 1), count(last == 1), count(and_(this == 1, last == 1)),
        count(and_(this == 1, last == 0, before == 0)),
        count(and_(this == 1, last == 0, before == 1)),
        count(and_(last == 1, this == 0)),
        count(and_(before == 1, last == 0, this == 0)),
    )).one()
    gave, gave_before, retained, new, recaptured, lybunt, sybunt = (int(n) for n in row)
    return {
        "year": year,
        "donors": gave,
        "donors_previous": gave_before,
        "retained": retained,
        "retention_rate": round(retained / gave_before, 4) if gave_before else None,
        "new": new,
        "recaptured": recaptured,
        "lybunt": lybunt,
        "sybunt": sybunt,
    }


def retention_by_year(last_year: int, count: int = 5) -> list[dict]:
    """`retention` for `count` years up to `last_year`, oldest first."""
    first = max(last_year - count + 1, FIRST_YEAR)
    return [retention(year) for year in range(first, last_year + 1)]


def _group_condition(group: str, donors):
    if group == "lybunt":
        return and_(donors.c.last == 1, donors.c.this == 0)
    return and_(donors.c.before == 1, donors.c.last == 0, donors.c.this == 0)


def lapsed_query(year: int, group: str):
    """One row per donor of `group` (LYBUNT or SYBUNT for `year`), as of the year's end:
    their last counted gift (time, amount, currency), what their counted gifts in that
    currency are worth to the organization now (`lifetime_cents`, after refunds), and how
    many counted gifts they made in all. Largest lifetime first: whom to write to first.
    The records of deleted accounts count in the figures, but are nobody to write to."""
    if group not in GROUPS:
        raise ValueError(group)
    years = Years(year)
    donors = _donor_years(years)
    counted = and_(Donation.net_cents > 0, Donation.created_at < years.ends)
    gifts = (select(Donation.donor_id, Donation.created_at, Donation.amount_cents,
                    Donation.currency, Donation.net_cents,
                    func.row_number().over(partition_by=Donation.donor_id,
                                           order_by=(Donation.created_at.desc(),
                                                     Donation.id.desc())).label("newest"),
                    func.count().over(partition_by=Donation.donor_id).label("gifts"))
             .join(donors, and_(donors.c.donor_id == Donation.donor_id,
                                _group_condition(group, donors)))
             .where(counted).subquery())
    last = gifts.alias("last_gift")
    lifetime = (select(func.sum(gifts.c.net_cents))
                .where(gifts.c.donor_id == last.c.donor_id,
                       gifts.c.currency == last.c.currency).scalar_subquery())
    dialect = db.session.get_bind().dialect.name
    return (select(spreadsheet_safe(Donor.email), spreadsheet_safe(Donor.name),
                   utc_iso_text(last.c.created_at, dialect), last.c.amount_cents,
                   last.c.currency, lifetime.label("lifetime"), last.c.gifts)
            .join(Donor, Donor.id == last.c.donor_id)
            .where(last.c.newest == 1, Donor.email.not_like(f"%@{ANONYMIZED_DOMAIN}"))
            .order_by(lifetime.desc(), Donor.email))


def lapsed_csv(year: int, group: str) -> Iterator[bytes]:
    return stream_csv(LAPSED_COLUMNS, lapsed_query(year, group))
