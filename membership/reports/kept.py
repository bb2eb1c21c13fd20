"""Running totals reports read instead of every donation, kept in the transaction that
changes a donation (`keep_totals` answers `donation_changed`), and rebuilt from the
donations after a bulk load (`recount_daily_totals`)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    update,
)

from membership.donations.models import Donation, Donor, RecurringGift
from membership.donations.signals import DonationChange
from membership.extensions import db
from membership.reports.models import (
    LONG_GAP,
    DailyTotal,
    DonorActivity,
    DonorGap,
    DonorYear,
    GiftMonth,
    RetentionYear,
    SettledDailyTotal,
)
from membership.reports.windows import period_start
from membership.sql import upsert_insert, utc_day, utc_period, utc_year, whole_seconds
from membership.types import UTCDateTime


def keep_totals(change: DonationChange) -> None:
    """Add what a donation is now worth, compared with before, to its day's totals and
    its donor's years; a new donation also marks its donor's week and month and moves
    their span and gaps.

    The donor's row is locked first, in a statement of its own (a new donation's span
    update, else FOR NO KEY UPDATE; neither blocks a new donation's reference to it):
    every change to one donor's kept rows then applies after the others, whatever path it
    comes by, and the statements that follow, each with a snapshot of its own, see what a
    change that held the lock before committed. The rows every donor shares (a day's
    totals, a year's retention) come last, in one order: each is held for as short a time
    as can be, and never before a donor's."""
    connection = db.session.connection()  # Core statements, past the ORM's layer
    day = change.created_at.astimezone(UTC).date()
    values = {"donor": change.donor_id, "at": change.created_at}
    if change.recorded:
        span = connection.execute(_SPAN_UPDATE, values).one()
    else:
        connection.execute(_LOCK_DONOR, values)
    retention: dict[int, list[int]] = {}
    if change.counted_delta or change.net_delta:
        _count_in_year(change, day.year, retention)
    if change.recurring_gift_id is not None:
        if change.recorded:
            connection.execute(_FIRST_PAID, {"gift": change.recurring_gift_id,
                                             "at": change.created_at})
        if change.counted_delta:
            _count_in_month(change.recurring_gift_id, period_start(day, "month"),
                            change.counted_delta)
    if change.recorded:
        _note_donation_time(change.donor_id, change.donation_id, change.created_at, span)
    connection.execute(_add_to_daily_total(connection.dialect.name), {
        "day": day, "currency": change.currency,
        "frequency": change.frequency, "campaign": change.campaign or "",
        "donations": int(change.recorded), "gross": change.gross_delta,
        "net": change.net_delta,
    })
    if change.settled_currency and (change.settled_count_delta or change.kept_delta):
        connection.execute(_add_to_settled_total(connection.dialect.name), {
            "day": day, "currency": change.settled_currency, "campaign": change.campaign or "",
            "donations": change.settled_count_delta, "gross": change.settled_delta,
            "fees": change.fee_delta, "kept": change.kept_delta,
        })
    if retention:  # ascending years: concurrent changes lock these rows in one order
        connection.execute(_add_to_retention_year(connection.dialect.name), [
            {"year": year, "donors": row[0], "retained": row[1], "new": row[2]}
            for year, row in sorted(retention.items())])


def _count_in_year(change: DonationChange, year: int,
                   retention: dict[int, list[int]]) -> None:
    """The donor's counted donations of `year` in the change's currency, and what they are
    worth, follow the change; when the donor starts or stops having given in that year
    (in any currency), so do the year's retention counts (added to `retention`)."""
    connection = db.session.connection()
    values = {"donor": change.donor_id, "year": year, "currency": change.currency,
              "delta": change.counted_delta, "net": change.net_delta}
    gifts = connection.execute(_add_to_donor_year(connection.dialect.name), values).scalar_one()
    if change.counted_delta > 0 and gifts == 1:
        gave = 1
    elif gifts <= 0:
        connection.execute(_FORGET_YEAR, values)
        gave = -1
    else:
        return
    first, before, after, other_currency = connection.execute(_NEIGHBOUR_YEARS, values).one()
    if other_currency is None:
        _gave_in_year(change.donor_id, year, gave, (first, before, after), retention)


_LOCK_DONOR = (select(Donor.id).where(Donor.id == bindparam("donor"))
               .with_for_update(key_share=True))


def _gave_in_year(donor_id: int, year: int, change: int, neighbours: tuple,
                  retention: dict[int, list[int]]) -> None:
    """The donor now gave in `year` (`change` 1), or no longer did (-1): the year counts
    one donor more or fewer, retained too if they gave the year before; the next year's
    retained follow if they gave in it; and their first counted year moves, and with it
    the new donors of the years it moves between."""
    connection = db.session.connection()
    first, before, after = neighbours
    if change > 0:
        now_first = year if first is None or year < first else first
    elif first == year:
        now_first = connection.execute(_FIRST_YEAR_KEPT, {"donor": donor_id}).scalar()
    else:
        now_first = first

    def add(at: int, donors: int = 0, retained: int = 0, new: int = 0) -> None:
        row = retention.setdefault(at, [0, 0, 0])
        row[0], row[1], row[2] = row[0] + donors, row[1] + retained, row[2] + new

    add(year, donors=change, retained=change if before else 0)
    if after:
        add(year + 1, retained=change)
    if now_first != first:
        connection.execute(_SET_FIRST_YEAR, {"donor": donor_id, "first": now_first})
        if first is not None:
            add(first, new=-1)
        if now_first is not None:
            add(now_first, new=1)


@cache
def _add_to_retention_year(dialect: str):
    statement = upsert_insert(dialect)(RetentionYear).values(
        year=bindparam("year"), donors=bindparam("donors"), retained=bindparam("retained"),
        new_donors=bindparam("new"))
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["year"],
        set_={"donors": RetentionYear.donors + excluded.donors,
              "retained": RetentionYear.retained + excluded.retained,
              "new_donors": RetentionYear.new_donors + excluded.new_donors})


def _gave_in(offset: int):
    return (select(literal(1)).where(DonorYear.donor_id == bindparam("donor"),
                                     DonorYear.year == bindparam("year") + offset)
            .limit(1).scalar_subquery())


# The donor's first counted year, whether they gave in the years either side of one, and
# whether they gave in it in another currency: one round trip.
_NEIGHBOUR_YEARS = select(
    Donor.first_counted_year, _gave_in(-1), _gave_in(1),
    select(DonorYear.gifts).where(
        DonorYear.donor_id == bindparam("donor"), DonorYear.year == bindparam("year"),
        DonorYear.currency != bindparam("currency")).limit(1).scalar_subquery(),
).where(Donor.id == bindparam("donor"))
_FIRST_YEAR_KEPT = select(func.min(DonorYear.year)).where(DonorYear.donor_id == bindparam("donor"))
_SET_FIRST_YEAR = update(Donor).where(Donor.id == bindparam("donor")).values(
    first_counted_year=bindparam("first"))


@cache
def _add_to_donor_year(dialect: str):
    statement = upsert_insert(dialect)(DonorYear).values(
        donor_id=bindparam("donor"), year=bindparam("year"), currency=bindparam("currency"),
        gifts=bindparam("delta"), net_cents=bindparam("net"))
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["donor_id", "year", "currency"],
        set_={"gifts": DonorYear.gifts + excluded.gifts,
              "net_cents": DonorYear.net_cents + excluded.net_cents},
    ).returning(DonorYear.gifts)


def _count_in_month(gift_id: int, month, delta: int) -> None:
    connection = db.session.connection()
    values = {"gift": gift_id, "month": month, "delta": delta}
    gifts = connection.execute(_add_to_gift_month(connection.dialect.name), values).scalar_one()
    if gifts <= 0:
        connection.execute(_FORGET_MONTH, values)


@cache
def _add_to_gift_month(dialect: str):
    statement = upsert_insert(dialect)(GiftMonth).values(
        recurring_gift_id=bindparam("gift"), month=bindparam("month"), gifts=bindparam("delta"))
    return statement.on_conflict_do_update(
        index_elements=["recurring_gift_id", "month"],
        set_={"gifts": GiftMonth.gifts + statement.excluded.gifts}).returning(GiftMonth.gifts)


_FORGET_MONTH = delete(GiftMonth).where(GiftMonth.recurring_gift_id == bindparam("gift"),
                                        GiftMonth.month == bindparam("month"))
_FIRST_PAID = update(RecurringGift).where(
    RecurringGift.id == bindparam("gift"),
    or_(RecurringGift.first_paid_at.is_(None), RecurringGift.first_paid_at > bindparam("at")),
).values(first_paid_at=bindparam("at"))
_FORGET_YEAR = delete(DonorYear).where(DonorYear.donor_id == bindparam("donor"),
                                       DonorYear.year == bindparam("year"),
                                       DonorYear.currency == bindparam("currency"))
@cache
def _add_to_daily_total(dialect: str):
    statement = upsert_insert(dialect)(DailyTotal).values(
        day=bindparam("day"), currency=bindparam("currency"),
        frequency=bindparam("frequency"), campaign=bindparam("campaign"),
        donations=bindparam("donations"), gross_cents=bindparam("gross"),
        net_cents=bindparam("net"))
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["day", "currency", "frequency", "campaign"],
        set_={"donations": DailyTotal.donations + excluded.donations,
              "gross_cents": DailyTotal.gross_cents + excluded.gross_cents,
              "net_cents": DailyTotal.net_cents + excluded.net_cents})


@cache
def _add_to_settled_total(dialect: str):
    statement = upsert_insert(dialect)(SettledDailyTotal).values(
        day=bindparam("day"), currency=bindparam("currency"), campaign=bindparam("campaign"),
        donations=bindparam("donations"), gross_cents=bindparam("gross"),
        fee_cents=bindparam("fees"), kept_cents=bindparam("kept"))
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["day", "currency", "campaign"],
        set_={"donations": SettledDailyTotal.donations + excluded.donations,
              "gross_cents": SettledDailyTotal.gross_cents + excluded.gross_cents,
              "fee_cents": SettledDailyTotal.fee_cents + excluded.fee_cents,
              "kept_cents": SettledDailyTotal.kept_cents + excluded.kept_cents})


def settled_totals_from_donations():
    """The settled daily totals summed from the donations themselves."""
    day = utc_day(Donation.created_at, db.session.get_bind().dialect.name)
    campaign = func.coalesce(Donation.campaign, "")
    return select(day, Donation.settled_currency, campaign, func.count(),
                  func.sum(Donation.settled_amount_cents), func.sum(Donation.settled_fee_cents),
                  func.sum(Donation.settled_kept_cents)).where(
        Donation.settled_currency.is_not(None)).group_by(day, Donation.settled_currency,
                                                         campaign)


def daily_totals_from_donations():
    """The daily totals summed from the donations themselves: what the kept totals must
    always equal."""
    day = utc_day(Donation.created_at, db.session.get_bind().dialect.name)
    campaign = func.coalesce(Donation.campaign, "")
    return select(day, Donation.currency, Donation.frequency, campaign, func.count(),
                  func.sum(Donation.amount_cents), func.sum(Donation.net_cents)).group_by(
        day, Donation.currency, Donation.frequency, campaign)


def recount_daily_totals() -> None:
    """Rebuild the kept daily totals (settled ones too), each donor's first and last
    donation, the long gaps and the weeks and months donors gave in, from the donations
    (after a bulk load, which bypasses the bookkeeping)."""
    db.session.execute(delete(DailyTotal))
    db.session.execute(insert(DailyTotal).from_select(
        ["day", "currency", "frequency", "campaign", "donations", "gross_cents", "net_cents"],
        daily_totals_from_donations()))
    db.session.execute(delete(SettledDailyTotal))
    db.session.execute(insert(SettledDailyTotal).from_select(
        ["day", "currency", "campaign", "donations", "gross_cents", "fee_cents", "kept_cents"],
        settled_totals_from_donations()))
    spans = select(Donation.donor_id, func.min(Donation.created_at).label("first_at"),
                   func.max(Donation.created_at).label("last_at")
                   ).group_by(Donation.donor_id).subquery()
    db.session.execute(update(Donor).where(Donor.id == spans.c.donor_id).values(
        first_donation_at=spans.c.first_at, last_donation_at=spans.c.last_at))
    db.session.execute(delete(DonorGap))
    db.session.execute(insert(DonorGap).from_select(
        ["donor_id", "from_at", "to_at"], long_gaps_from_donations()))
    db.session.execute(delete(DonorYear))
    db.session.execute(insert(DonorYear).from_select(
        ["donor_id", "year", "currency", "gifts", "net_cents"], donor_years_from_donations()))
    db.session.execute(delete(GiftMonth))
    db.session.execute(insert(GiftMonth).from_select(
        ["recurring_gift_id", "month", "gifts"], gift_months_from_donations()))
    paid = select(Donation.recurring_gift_id, func.min(Donation.created_at).label("first_at")
                  ).where(Donation.recurring_gift_id.is_not(None)
                          ).group_by(Donation.recurring_gift_id).subquery()
    db.session.execute(update(RecurringGift).where(RecurringGift.id == paid.c.recurring_gift_id
                                                   ).values(first_paid_at=paid.c.first_at))
    firsts = select(DonorYear.donor_id, func.min(DonorYear.year).label("first_year")
                    ).group_by(DonorYear.donor_id).subquery()
    db.session.execute(update(Donor).values(first_counted_year=None))
    db.session.execute(update(Donor).where(Donor.id == firsts.c.donor_id).values(
        first_counted_year=firsts.c.first_year))
    db.session.execute(delete(RetentionYear))
    db.session.execute(insert(RetentionYear).from_select(
        ["year", "donors", "retained", "new_donors"], retention_years_from_donor_years()))
    db.session.execute(delete(DonorActivity))
    for period in ("week", "month"):
        db.session.execute(insert(DonorActivity).from_select(
            ["donor_id", "period", "starts"], activity_from_donations(period)))
    db.session.flush()


def donor_years_from_donations():
    """(donor, year, currency, counted donations, their worth) for every year and
    currency each donor gave in."""
    year = utc_year(Donation.created_at, db.session.get_bind().dialect.name)
    return select(Donation.donor_id, year, Donation.currency, func.count(),
                  func.sum(Donation.net_cents)).where(Donation.net_cents > 0).group_by(
        Donation.donor_id, year, Donation.currency)


def retention_years_from_donor_years():
    """(year, donors, retained, new donors) for every year anyone gave in, counted from
    the donor-years and the donors' first years."""
    present = select(DonorYear.donor_id, DonorYear.year).distinct().subquery()
    previous = present.alias("previous")
    donors = select(present.c.year, func.count().label("donors")).group_by(
        present.c.year).subquery()
    retained = (select(present.c.year, func.count().label("retained"))
                .join(previous, and_(previous.c.donor_id == present.c.donor_id,
                                     previous.c.year == present.c.year - 1))
                .group_by(present.c.year).subquery())
    new = (select(Donor.first_counted_year.label("year"), func.count().label("new"))
           .where(Donor.first_counted_year.is_not(None))
           .group_by(Donor.first_counted_year).subquery())
    return (select(donors.c.year, donors.c.donors, func.coalesce(retained.c.retained, 0),
                   func.coalesce(new.c.new, 0))
            .outerjoin(retained, retained.c.year == donors.c.year)
            .outerjoin(new, new.c.year == donors.c.year))


def gift_months_from_donations():
    """(recurring gift, first day of the month, counted donations) for every month each
    recurring gift was paid in."""
    month = utc_period(Donation.created_at, "month", db.session.get_bind().dialect.name)
    return select(Donation.recurring_gift_id, month, func.count()).where(
        Donation.net_cents > 0, Donation.recurring_gift_id.is_not(None)).group_by(
        Donation.recurring_gift_id, month)


def activity_from_donations(period: str):
    """(donor, period, first day) for every week or month each donor gave in."""
    starts = utc_period(Donation.created_at, period, db.session.get_bind().dialect.name)
    return select(Donation.donor_id, literal(period), starts).distinct()


def long_gaps_from_donations():
    """Every gap longer than LONG_GAP between consecutive donations of a donor, found
    from the donations themselves."""
    previous = type_coerce(func.lag(Donation.created_at).over(
        partition_by=Donation.donor_id, order_by=Donation.created_at), UTCDateTime)
    pairs = select(Donation.donor_id, previous.label("from_at"),
                   Donation.created_at.label("to_at")).subquery()
    rows = select(pairs.c.donor_id, pairs.c.from_at, pairs.c.to_at).where(
        pairs.c.from_at.is_not(None)).distinct()
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return rows.where(pairs.c.to_at - pairs.c.from_at > LONG_GAP)
    # SQLite keeps UTC text: julianday() of the whole seconds (exact to the second), and
    # the fractions compared as text when the seconds are a whole gap apart.
    apart = func.julianday(whole_seconds(pairs.c.to_at)) - func.julianday(
        whole_seconds(pairs.c.from_at))
    return rows.where(or_(apart > LONG_GAP.days, and_(
        apart == LONG_GAP.days, func.substr(pairs.c.to_at, 20) > func.substr(pairs.c.from_at, 20))))


def _note_donation_time(donor_id: int, donation_id: int, at: datetime, times) -> None:
    """Keep the donor's weeks and months of giving and long gaps up to date with a
    donation made `at` (which may arrive after later ones: Stripe does not promise
    order), their first and last donation times being `times` (moved already, by the
    statement that locked their row, so two donations of one donor recorded at the same
    moment see each other)."""
    day = at.astimezone(UTC).date()
    # Core statements on the connection: they run for every donation, the ORM adds nothing.
    connection = db.session.connection()
    connection.execute(_note_activity(connection.dialect.name), {
        "donor_id": donor_id, "week": period_start(day, "week"),
        "month": period_start(day, "month")})
    if times.first_donation_at == at == times.last_donation_at:
        return  # the first donation: no neighbours
    # A statement of its own: on PostgreSQL it sees a donation committed while the span
    # update waited for the donor's row (the update's own snapshot would not).
    before, after = connection.execute(_NEIGHBOURS, {"donor": donor_id, "at": at,
                                                     "donation": donation_id}).one()
    if before is not None and after is not None and after - before > LONG_GAP:
        connection.execute(delete(DonorGap).where(DonorGap.donor_id == donor_id,
                                                  DonorGap.from_at == before))
    for start, end in ((before, at), (at, after)):
        if start is not None and end is not None and end - start > LONG_GAP:
            connection.execute(_keep_gap(connection.dialect.name),
                               {"donor_id": donor_id, "from_at": start, "to_at": end})


@cache
def _note_activity(dialect: str):
    """The donor's week and month, in one statement."""
    return upsert_insert(dialect)(DonorActivity.__table__).values([
        {"donor_id": bindparam("donor_id"), "period": "week", "starts": bindparam("week")},
        {"donor_id": bindparam("donor_id"), "period": "month", "starts": bindparam("month")},
    ]).on_conflict_do_nothing()


@cache
def _keep_gap(dialect: str):
    return upsert_insert(dialect)(DonorGap.__table__).on_conflict_do_nothing()


_SPAN_UPDATE = update(Donor).where(Donor.id == bindparam("donor")).values(
    first_donation_at=case(
        (or_(Donor.first_donation_at.is_(None), Donor.first_donation_at > bindparam("at")),
         bindparam("at")), else_=Donor.first_donation_at),
    last_donation_at=case(
        (or_(Donor.last_donation_at.is_(None), Donor.last_donation_at < bindparam("at")),
         bindparam("at")), else_=Donor.last_donation_at),
).returning(Donor.first_donation_at, Donor.last_donation_at)


# The donor's donations just before and just after one made `at`, in one round trip.
_NEIGHBOURS = select(
    select(func.max(Donation.created_at)).where(
        Donation.donor_id == bindparam("donor"), Donation.created_at <= bindparam("at"),
        Donation.id != bindparam("donation")).scalar_subquery(),
    select(func.min(Donation.created_at)).where(
        Donation.donor_id == bindparam("donor"), Donation.created_at >= bindparam("at"),
        Donation.id != bindparam("donation")).scalar_subquery())
