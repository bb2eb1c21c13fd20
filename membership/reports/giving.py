"""Figures of what donors give (issue #14): the gift-range pyramid, how many first-time
donors give a second time, and which readers of topics and of the daily e-mail give.

A *counted* gift is a donation worth something now: not wholly refunded, not lost to a
dispute (`Donation.net_cents > 0`, as for retention); what it is worth is its
`net_cents`. Years are UTC calendar years, from Jan 1 00:00 included to the next Jan 1
00:00 excluded.

- Gift ranges: per currency, each donor's counted gifts of the year in that currency are
  added up, and the donor falls in the band of that total (BANDS, in major units of the
  currency). A donor who gave in two currencies is in both pyramids.
- Second gifts: the donors whose first counted gift ever was in the year; of those, who
  made another counted gift since (at any later time, to now) and who made it at most
  SECOND_GIFT_DAYS days (of 24 hours) after the first.
- Topics and the daily e-mail: a topic's followers are the e-mail addresses of the
  accounts that follow it and of the confirmed subscribers without an account who chose
  it; the daily e-mail's are the confirmed subscribers'. A follower *gave* when a donor
  with their address, or one linked to the account with their address, made a counted
  gift in the year; the money is what those donors' counted gifts of the year are worth,
  each donor counted once per topic."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import (
    Integer,
    Interval,
    case,
    func,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)

from membership.accounts.models import User
from membership.donations.models import Donation, Donor
from membership.extensions import db
from membership.newsletter.models import Subscriber, SubscriberStatus, SubscriberTopic
from membership.reports.models import DonorYear
from membership.reports.recurring import rate
from membership.sql import whole_seconds
from membership.topics.models import Topic, TopicFollow

# The floors of the gift-range bands, in major units of the currency: under 25, 25 to
# under 100, 100 to under 250, 250 to under 1,000, 1,000 to under 5,000, 5,000 and more.
BANDS = (0, 25, 100, 250, 1_000, 5_000)
# Decimals of the minor units of Stripe's currencies.
EXPONENTS = (0, 2, 3)
SECOND_GIFT_DAYS = 90
DAILY_EMAIL = "daily-email"


def counted(donation=Donation):
    return donation.net_cents > 0


def _given_in(year: int):
    """(donor_id, currency, cents): what each donor's counted gifts of the year in each
    currency are worth, from the kept donor-years (reports.models.DonorYear)."""
    return select(DonorYear.donor_id, DonorYear.currency,
                  DonorYear.net_cents.label("cents")).where(DonorYear.year == year)


# Gift ranges ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Band:
    floor_cents: int
    ceiling_cents: int | None  # excluded; None for the top band
    donors: int
    cents: int

    def as_json(self) -> dict:
        return {"floor_cents": self.floor_cents, "ceiling_cents": self.ceiling_cents,
                "donors": self.donors, "cents": self.cents}


def band_floors(currency: str, exponent: Callable[[str], int]) -> list[int]:
    """BANDS in the minor units of `currency`."""
    decimals = exponent(currency)
    if decimals not in EXPONENTS:
        raise ValueError(f"no gift ranges for {decimals} decimals ({currency})")
    return [floor * 10 ** decimals for floor in BANDS]


def gift_ranges(year: int, exponent: Callable[[str], int]) -> dict[str, list[Band]]:
    """Per currency given in (`exponent` tells its decimals), the BANDS from the lowest.

    The database counts donors per currency in fine cells cut at every band floor of
    every currency's decimals, so one query serves all currencies; each currency's bands
    are whole runs of those cells."""
    totals = _given_in(year).subquery()
    edges = sorted({floor * 10 ** decimals for floor in BANDS[1:] for decimals in EXPONENTS})
    cell = case(*((totals.c.cents < edge, index) for index, edge in enumerate(edges)),
                else_=len(edges))
    found: dict[str, list[list[int]]] = {}
    for currency, index, donors, cents in db.session.execute(
            select(totals.c.currency, cell, func.count(), func.sum(totals.c.cents))
            .group_by(totals.c.currency, cell)):
        floors = band_floors(currency, exponent)
        bands = found.setdefault(currency, [[0, 0] for _ in floors])
        lowest = edges[index - 1] if index else 0
        band = bands[bisect_right(floors, lowest) - 1]
        band[0] += donors
        band[1] += int(cents)
    result = {}
    for currency in sorted(found):
        floors = band_floors(currency, exponent)
        ceilings = [*floors[1:], None]
        result[currency] = [Band(floor, ceiling, donors, cents) for floor, ceiling, (donors, cents)
                            in zip(floors, ceilings, found[currency], strict=True)]
    return result


# Second gifts -----------------------------------------------------------------------------

@dataclass(frozen=True)
class SecondGifts:
    year: int
    first_time: int  # donors whose first counted gift was in the year
    second: int  # of those, who gave a counted gift again, at any time since
    second_soon: int  # … at most SECOND_GIFT_DAYS days after their first

    def as_json(self) -> dict:
        return {"year": self.year, "first_time_donors": self.first_time,
                "second_gift": self.second, "second_gift_rate": rate(self.second,
                                                                     self.first_time),
                "second_gift_within_days": SECOND_GIFT_DAYS,
                "second_gift_soon": self.second_soon,
                "second_gift_soon_rate": rate(self.second_soon, self.first_time)}


def _plus_days(column, days: int, dialect: str):
    """A timestamp `days` days later, to the microsecond: on SQLite, the whole seconds
    moved (`whole_seconds`) and the fraction put back."""
    if dialect == "postgresql":
        return column + literal(timedelta(days=days), Interval())
    return func.datetime(whole_seconds(column), f"+{days} days").op("||")(
        func.substr(column, 20))


def second_gifts(year: int) -> SecondGifts:
    """From the donors whose first counted year is `year` (kept, Donor.first_counted_year):
    how many counted gifts each made in all (kept donor-years), and when they made their
    first two (their counted gifts, numbered in time order): set-wise, a few rows per
    donor, not a lookup per donor."""
    dialect = db.session.get_bind().dialect.name
    first_time = select(Donor.id.label("donor_id")).where(
        Donor.first_counted_year == year).subquery()
    totals = (select(DonorYear.donor_id, func.sum(DonorYear.gifts).label("gifts"))
              .join(first_time, first_time.c.donor_id == DonorYear.donor_id)
              .group_by(DonorYear.donor_id).subquery())
    numbered = (select(Donation.donor_id, Donation.created_at,
                       func.row_number().over(partition_by=Donation.donor_id,
                                              order_by=(Donation.created_at, Donation.id))
                       .label("number"))
                .join(first_time, first_time.c.donor_id == Donation.donor_id)
                .where(counted()).subquery())
    first_two = (select(numbered.c.donor_id,
                        func.max(case((numbered.c.number == 1, numbered.c.created_at)))
                        .label("first_at"),
                        func.max(case((numbered.c.number == 2, numbered.c.created_at)))
                        .label("second_at"))
                 .where(numbered.c.number <= 2).group_by(numbered.c.donor_id).subquery())
    soon = first_two.c.second_at <= _plus_days(first_two.c.first_at, SECOND_GIFT_DAYS,
                                                 dialect)

    def count_where(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = db.session.execute(
        select(func.count(), count_where(totals.c.gifts >= 2), count_where(soon))
        .select_from(totals)
        .outerjoin(first_two, first_two.c.donor_id == totals.c.donor_id)).one()
    return SecondGifts(year, *(int(n) for n in row))


# Topics and the daily e-mail --------------------------------------------------------------

@dataclass
class Readers:
    slug: str  # DAILY_EMAIL for the daily e-mail
    name: str
    kind: str | None  # the topic's kind; None for the daily e-mail
    hidden: bool = False
    followers: int = 0
    gave: int = 0
    cents: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"topic": self.slug, "name": self.name, "kind": self.kind,
                "hidden": self.hidden, "followers": self.followers, "gave": self.gave,
                "rate": rate(self.gave, self.followers), "cents": self.cents}


def _followers():
    """(topic_id, email), each once; topic_id is NULL for the daily e-mail."""
    confirmed = Subscriber.status == SubscriberStatus.CONFIRMED
    rows = union_all(
        select(TopicFollow.topic_id.label("topic_id"), User.email.label("email"))
        .join(User, User.id == TopicFollow.user_id),
        select(SubscriberTopic.topic_id, Subscriber.email)
        .join(Subscriber, Subscriber.id == SubscriberTopic.subscriber_id).where(confirmed),
        select(type_coerce(null(), Integer), Subscriber.email).where(confirmed),
    ).subquery()
    return (select(rows.c.topic_id, rows.c.email).group_by(rows.c.topic_id, rows.c.email)
            .cte("followers"))


def readers_who_give(year: int) -> list[Readers]:
    """The daily e-mail first, then every topic (hidden ones too) in catalogue order.

    One statement: each follower's donors (by address, and by the account with that
    address), the donors' counted gifts of the year per currency, and per topic the
    followers, those who gave and what their donors gave."""
    followers = _followers()
    matched = union_all(
        select(followers.c.topic_id, followers.c.email, Donor.id.label("donor_id"))
        .join(Donor, Donor.email == followers.c.email),
        select(followers.c.topic_id, followers.c.email, Donor.id)
        .join(User, User.email == followers.c.email)
        .join(Donor, Donor.user_id == User.id),
    ).cte("matched")
    gifts = _given_in(year).cte("gifts")
    donors = select(matched.c.topic_id, matched.c.donor_id).distinct().subquery()
    figures = union_all(
        select(followers.c.topic_id, literal("followers"), null(), func.count())
        .group_by(followers.c.topic_id),
        select(matched.c.topic_id, literal("gave"), null(), func.count(matched.c.email.distinct()))
        .where(matched.c.donor_id.in_(select(gifts.c.donor_id)))
        .group_by(matched.c.topic_id),
        select(donors.c.topic_id, literal("cents"), gifts.c.currency, func.sum(gifts.c.cents))
        .join(gifts, gifts.c.donor_id == donors.c.donor_id)
        .group_by(donors.c.topic_id, gifts.c.currency),
    ).subquery()
    rows = {None: Readers(DAILY_EMAIL, "", None)}
    for topic in db.session.scalars(select(Topic).order_by(Topic.kind, Topic.position,
                                                           Topic.name)):
        rows[topic.id] = Readers(topic.slug, topic.name, topic.kind, topic.hidden)
    for topic_id, figure, currency, value in db.session.execute(
            select(figures).order_by(*figures.c)):
        row = rows.get(topic_id)
        if row is None:  # a topic made a moment ago
            continue
        if figure == "cents":
            row.cents[currency] = int(value)
        else:
            setattr(row, figure, int(value))
    return list(rows.values())
