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
from membership.reports.models import RetentionYear
from membership.reports.windows import ReportError
from membership.sql import utc_iso_text

# Years a report may ask about: each needs the year before it to exist as well.
FIRST_YEAR, LAST_YEAR = 1971, 9998
GROUPS = ("lybunt", "sybunt")
LAPSED_COLUMNS = ("donor_email", "donor_name", "last_gift_at", "last_gift_cents", "currency",
                  "lifetime_cents", "gifts")


class YearError(ReportError):
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


def _counted():
    """A donation that makes its donor count as having given: worth something now."""
    return Donation.net_cents > 0


def _flag(condition):
    return func.max(case((condition, 1), else_=0))


def _gave_by_year(first: int, last: int):
    """Per donor who gave up to the end of `last`: whether they gave in each year from
    `first` - 1 to `last` (columns `y<year>`), and in any year before those (`earlier`)."""
    at = Donation.created_at
    flags = [_flag(and_(at >= Years(year).starts, at < Years(year).ends)).label(f"y{year}")
             for year in range(first - 1, last + 1)]
    return (select(Donation.donor_id.label("donor_id"), *flags,
                   _flag(at < Years(first).previous_starts).label("earlier"))
            .where(_counted(), at < Years(last).ends)
            .group_by(Donation.donor_id).subquery())


def _gave(donors, year: int):
    return donors.c[f"y{year}"] == 1


def retention_by_year(last_year: int, count: int = 5) -> list[dict]:
    """The contract's retention figures (see CONTRACT.md, Retention) for `count` years up
    to `last_year`, oldest first, from the counts kept per year (reports.models.
    RetentionYear): how many gave, how many of those also gave the year before, how many
    for the first time; every group follows from these (see `_figures`)."""
    first = max(last_year - count + 1, FIRST_YEAR)
    kept = {row.year: row for row in db.session.scalars(
        select(RetentionYear).where(RetentionYear.year.between(first - 1, last_year)))}
    earlier = db.session.scalar(select(func.coalesce(func.sum(RetentionYear.new_donors), 0))
                                .where(RetentionYear.year < first - 2))
    new = dict(db.session.execute(select(RetentionYear.year, RetentionYear.new_donors).where(
        RetentionYear.year.between(first - 2, last_year))).all())
    figures = []
    for year in range(first, last_year + 1):
        # Donors whose first counted year is before the year before `year`.
        before = int(earlier) + sum(new.get(y, 0) for y in range(first - 2, year - 1))
        this, previous = kept.get(year), kept.get(year - 1)
        figures.append(_figures(year, this.donors if this else 0,
                                previous.donors if previous else 0,
                                this.retained if this else 0, new.get(year, 0),
                                new.get(year - 1, 0), before))
    return figures


def _figures(year: int, donors: int, previous: int, retained: int, new: int,
             new_previous: int, before: int) -> dict:
    """The groups from the counts. Of this year's donors, those who did not give the year
    before either gave for the first time (new) or gave in some year before that
    (recaptured). SYBUNT: of the donors who first gave before the previous year, those who
    gave in neither year; of them, the previous year's donors are those not new then, and
    this year's are those neither new now, nor first giving the previous year, nor
    retained (the last two overlap exactly in the retained who first gave last year)."""
    return {
        "year": year,
        "donors": donors,
        "donors_previous": previous,
        "retained": retained,
        "retention_rate": round(retained / previous, 4) if previous else None,
        "new": new,
        "recaptured": donors - retained - new,
        "lybunt": previous - retained,
        "sybunt": before - (previous - new_previous) - (donors - new - retained),
    }


def retention(year: int) -> dict:
    """The contract's retention figures for `year`."""
    return retention_by_year(year, count=1)[0]


def _in_group(group: str, donors, year: int):
    this, last = _gave(donors, year), _gave(donors, year - 1)
    if group == "lybunt":
        return and_(last, ~this)
    return and_(donors.c.earlier == 1, ~last, ~this)


def lapsed_query(year: int, group: str):
    """One row per donor of `group` (LYBUNT or SYBUNT for `year`), as of the year's end:
    their last counted gift (time, amount, currency), what their counted gifts in that
    currency are worth to the organization now (`lifetime_cents`, after refunds), and how
    many counted gifts they made in all. Largest lifetime first: whom to write to first.
    The records of deleted accounts count in the figures, but are nobody to write to."""
    if group not in GROUPS:
        raise ValueError(group)
    donors = _gave_by_year(year, year)
    counted = and_(_counted(), Donation.created_at < Years(year).ends)
    gifts = (select(Donation.donor_id, Donation.created_at, Donation.amount_cents,
                    Donation.currency, Donation.net_cents,
                    func.row_number().over(partition_by=Donation.donor_id,
                                           order_by=(Donation.created_at.desc(),
                                                     Donation.id.desc())).label("newest"),
                    func.count().over(partition_by=Donation.donor_id).label("gifts"))
             .join(donors, and_(donors.c.donor_id == Donation.donor_id,
                                _in_group(group, donors, year)))
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
