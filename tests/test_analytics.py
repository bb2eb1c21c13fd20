"""The fundraising analytics of issue #14: every figure exact on hand-built histories (refunds,
lost disputes, several currencies, gifts a microsecond either side of new year), the same as a
direct recount in Python for any history, and the staff page and its JSON twin."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from membership.accounts.models import User
from membership.donations.models import (
    NEVER_PAID_STATUSES,
    Donation,
    Donor,
    PaymentFailure,
    RecurringGift,
)
from membership.donations.money import exponent
from membership.extensions import db
from membership.newsletter.models import Subscriber, SubscriberTopic
from membership.reports.analytics import analytics
from membership.reports.giving import BANDS, gift_ranges, readers_who_give, second_gifts
from membership.reports.models import ReportSnapshot
from membership.reports.recurring import add_months, churn, cohorts, recovery
from membership.reports.snapshots import from_record, to_record
from membership.topics.models import Topic, TopicFollow
from tests.builders import at, give, make_user, new_year, pay, recurring, refund_or_dispute, settle
from tests.conftest import empty_database

MICROSECOND = timedelta(microseconds=1)
DAY = timedelta(days=1)
_serials = count(1)


LAST_OF_2025 = new_year(2026) - MICROSECOND  # Dec 31 2025 23:59:59.999999
FIRST_OF_2025 = new_year(2025)


# Builders this file needs ---------------------------------------------------------------

def fail(gift: RecurringGift, failed_at: datetime, invoice: str | None = None,
         attempt: int = 1) -> str:
    """A failed attempt to charge an invoice of `gift` (a new invoice unless given)."""
    invoice = invoice or f"in_failed{next(_serials)}"
    db.session.add(PaymentFailure(recurring_gift_id=gift.id, stripe_invoice_id=invoice,
                                  attempt_count=attempt, amount_cents=gift.amount_cents,
                                  currency=gift.currency, created_at=failed_at))
    db.session.commit()
    return invoice


def end(gift: RecurringGift, ended_at: datetime, because: str | None,
        status: str = "canceled", feedback: str | None = None) -> RecurringGift:
    gift.status, gift.ended_at, gift.ended_because = status, ended_at, because
    gift.cancel_feedback = feedback
    db.session.commit()
    return gift


def topic(slug: str, hidden: bool = False, position: int = 0) -> Topic:
    row = Topic(slug=slug, name=slug.title(), kind="theme", position=position, hidden=hidden)
    db.session.add(row)
    db.session.commit()
    return row


def follow(user: User, *topics: Topic) -> None:
    db.session.add_all(TopicFollow(user_id=user.id, topic_id=t.id) for t in topics)
    db.session.commit()


def subscriber(email: str, status: str = "confirmed", topics=()) -> Subscriber:
    now = datetime.now(UTC)
    row = Subscriber(email=email, status=status, consent_version="2026-01-01",
                     consented_at=now, confirmed_at=now if status == "confirmed" else None)
    db.session.add(row)
    db.session.flush()
    db.session.add_all(SubscriberTopic(subscriber_id=row.id, topic_id=t.id) for t in topics)
    db.session.commit()
    return row


# Churn and recovered revenue --------------------------------------------------------------

@pytest.fixture
def recurring_history(app):
    """g1 donor-cancelled at the last microsecond of 2025; g2 (yearly, EUR) ended by failed
    payment at the first microsecond of 2025; g3 without a reason but an unpaid failure
    (involuntary); g4 without a reason whose failure was paid (voluntary); g5 disputed at
    the first microsecond of 2026; g6 ended in 2024; g7 never paid; g8 running; g9
    started at 2026's first microsecond; g10 started at 2025's last."""
    g = {}
    g[1] = recurring(1000, "monthly", "g1@example.org", at(2024, 3))
    g[2] = recurring(12006, "yearly", "g2@example.org", at(2024, 2), currency="eur")
    g[3] = recurring(500, "monthly", "g3@example.org", at(2024, 6))
    g[4] = recurring(700, "monthly", "g4@example.org", at(2024, 9))
    g[5] = recurring(300, "monthly", "g5@example.org", at(2024, 1))
    g[6] = recurring(400, "monthly", "g6@example.org", at(2024, 1))
    g[7] = recurring(900, "monthly", "g7@example.org", at(2025, 4))
    g[8] = recurring(1000, "monthly", "g8@example.org", at(2025, 2))
    g[9] = recurring(1000, "monthly", "g9@example.org", new_year(2026))
    g[10] = recurring(1000, "monthly", "g10@example.org", LAST_OF_2025)
    # Failed renewals: A unpaid (two attempts in 2025); B paid two days later; C first failed
    # at 2025's last microsecond, paid in 2026, partly refunded; D first failed at 2026's
    # first microsecond; E first failed in 2024, retried in 2025; F paid, lost to a dispute.
    a = fail(g[3], at(2025, 3, 1))
    fail(g[3], at(2025, 3, 4), a, attempt=2)
    b = pay(g[4], at(2025, 5, 3))
    fail(g[4], at(2025, 5, 1), b.invoice_id)
    c = pay(g[8], at(2026, 1, 3))
    fail(g[8], LAST_OF_2025, c.invoice_id)
    fail(g[8], at(2026, 1, 2), c.invoice_id, attempt=2)
    settle(c, refunded=400)
    d = pay(g[10], at(2026, 1, 5))
    fail(g[10], new_year(2026), d.invoice_id)
    e = fail(g[6], at(2024, 12, 20))
    fail(g[6], at(2025, 1, 2), e, attempt=2)
    f = pay(g[2], at(2025, 2, 5))
    fail(g[2], at(2025, 2, 1), f.invoice_id)
    settle(f, dispute="lost")
    end(g[1], LAST_OF_2025, "cancellation_requested", feedback="too_expensive")
    # A reason picked for a cancellation that Stripe's failed payments overtook.
    end(g[2], FIRST_OF_2025, "payment_failed", feedback="other")
    end(g[3], at(2025, 7), None)
    end(g[4], at(2025, 8), None)
    end(g[5], new_year(2026), "payment_disputed")
    end(g[6], FIRST_OF_2025 - MICROSECOND, "cancellation_requested")
    end(g[7], None, None, status="incomplete_expired")
    return g


def test_churn_of_a_hand_built_history_is_exact(recurring_history):
    figures = churn(2025).as_json()
    assert figures == {
        "year": 2025, "collecting": 7, "ended": 4, "voluntary": 2, "involuntary": 2,
        "rate": round(4 / 7, 4), "voluntary_rate": round(2 / 7, 4),
        "involuntary_rate": round(2 / 7, 4),
        "by_reason": {"cancellation_requested": 1, "payment_failed": 1,
                      "payment_disputed": 0, "unknown": 2},
        # Of the voluntary ends: g1's donor picked a reason, g4's none.
        "by_feedback": {"too_expensive": 1, "unused": 0, "low_quality": 0,
                        "switched_service": 0, "customer_service": 0, "other": 0,
                        "not_given": 1},
        # g1 1000 + g4 700; g3 500 and g2's yearly 12006 as (12006 + 6) // 12 = 1001 EUR
        "monthly_cents_lost": {"voluntary": {"usd": 1700},
                               "involuntary": {"usd": 500, "eur": 1001}}}
    later = churn(2026).as_json()  # g5 ended; g5 g8 g9 g10 collecting
    assert (later["collecting"], later["ended"], later["involuntary"], later["rate"]) == (
        4, 1, 1, 0.25)
    assert later["monthly_cents_lost"] == {"voluntary": {}, "involuntary": {"usd": 300}}
    earlier = churn(2024).as_json()  # g6 ended; g1-g6 collecting
    assert (earlier["collecting"], earlier["ended"], earlier["voluntary"]) == (6, 1, 1)


def test_recovered_revenue_of_a_hand_built_history_is_exact(recurring_history):
    assert recovery(2025).as_json() == {
        "year": 2025, "failed_invoices": 4, "recovered_invoices": 3,
        "recovered_share": 0.75, "recovered_cents": {"usd": 700 + 600, "eur": 0}}
    assert recovery(2026).as_json() == {
        "year": 2026, "failed_invoices": 1, "recovered_invoices": 1,
        "recovered_share": 1.0, "recovered_cents": {"usd": 1000}}
    assert recovery(2024).as_json() == {
        "year": 2024, "failed_invoices": 1, "recovered_invoices": 0,
        "recovered_share": 0.0, "recovered_cents": {}}


# Gift ranges and second gifts -------------------------------------------------------------

@pytest.fixture
def giving_history(app):
    """First-time donors of 2025: ana (second gift, in EUR, after 153 days), ben (second
    exactly 90 days later), cy (partly refunded), dee (at 2025's last microsecond, again
    in January 2026), eve (at 2025's first microsecond), hal (one gift refunded in full),
    jo (gave in 2024, refunded in full), kim (second 90 days and a microsecond later), lee
    (two gifts at once). Not first-time: fay (lost dispute in 2025, first counted gift in
    2026), ivy (gave in 2024; in JPY in 2025), gus (2026 only)."""
    give(2499, "ana@example.org", at=at(2025, 3, 1))
    give(2500, "ana@example.org", at=at(2025, 8, 1), currency="eur")
    give(1500, "ben@example.org", at=datetime(2025, 4, 1, tzinfo=UTC))
    give(1000, "ben@example.org", at=datetime(2025, 4, 1, tzinfo=UTC) + 90 * DAY)
    settle(give(30000, "cy@example.org", at=at(2025)), refunded=10000)
    give(100000, "dee@example.org", at=LAST_OF_2025)
    give(500, "dee@example.org", at=datetime(2026, 1, 5, tzinfo=UTC))
    give(600000, "eve@example.org", at=FIRST_OF_2025)
    settle(give(5000, "fay@example.org", at=at(2025)), dispute="lost")
    give(700, "fay@example.org", at=at(2026))
    give(4000, "gus@example.org", at=new_year(2026))
    settle(give(250000, "hal@example.org", at=at(2025, 2)), refunded=250000)
    give(100, "hal@example.org", at=at(2025, 10))
    give(1000, "ivy@example.org", at=at(2024))
    give(2500, "ivy@example.org", at=at(2025, 5), currency="jpy")
    settle(give(800, "jo@example.org", at=at(2024)), refunded=800)
    give(1000, "jo@example.org", at=at(2025, 11))
    kim = datetime(2025, 2, 1, tzinfo=UTC)
    give(1000, "kim@example.org", at=kim)
    give(1000, "kim@example.org", at=kim + 90 * DAY + MICROSECOND)
    give(1000, "lee@example.org", at=at(2025, 9))
    give(1000, "lee@example.org", at=at(2025, 9))


def test_gift_ranges_of_a_hand_built_history_are_exact(giving_history):
    ranges = {currency: [(b.floor_cents, b.ceiling_cents, b.donors, b.cents) for b in rows]
              for currency, rows in gift_ranges(2025, exponent).items()}
    usd = [0, 2500, 10000, 25000, 100000, 500000]
    assert ranges["usd"] == [
        # ana 2499, hal 100 (the refunded gift is not counted), jo 1000, kim 2000, lee 2000
        (0, 2500, 5, 2499 + 100 + 1000 + 2000 + 2000),
        (2500, 10000, 1, 2500),  # ben: 1500 + 1000
        (10000, 25000, 1, 20000),  # cy: 30000 less 10000 refunded
        (25000, 100000, 0, 0),
        (100000, 500000, 1, 100000),  # dee, at the last microsecond
        (500000, None, 1, 600000)]  # eve, at the first microsecond
    assert [row[0] for row in ranges["usd"]] == usd
    assert [row[2:] for row in ranges["eur"]] == [(0, 0), (1, 2500), (0, 0), (0, 0), (0, 0),
                                                  (0, 0)]
    # Yen have no minor unit: 2,500 yen is in the band from 1,000 to 5,000.
    assert ranges["jpy"][4] == (1000, 5000, 1, 2500)
    assert sum(row[2] for row in ranges["jpy"]) == 1
    assert set(ranges) == {"usd", "eur", "jpy"}
    assert len(BANDS) == 6


def test_second_gifts_of_a_hand_built_history_are_exact(giving_history):
    assert second_gifts(2025).as_json() == {
        "year": 2025, "first_time_donors": 9, "second_gift": 5,  # ana ben dee kim lee
        "second_gift_rate": round(5 / 9, 4), "second_gift_within_days": 90,
        "second_gift_soon": 3,  # ben (90 days exactly), dee, lee
        "second_gift_soon_rate": round(3 / 9, 4)}
    later = second_gifts(2026).as_json()  # fay and gus; neither gave again
    assert (later["first_time_donors"], later["second_gift"]) == (2, 0)


def test_ninety_days_are_counted_to_the_microsecond_from_a_seconds_last_microsecond(app):
    """Found by the property test below on SQLite: its date function counts milliseconds,
    so 23:59:59.999999 became the next second and a gift 90 days and a microsecond later
    counted as soon."""
    first = datetime(2024, 11, 30, 23, 59, 59, 999_999, tzinfo=UTC)
    give(100, "late@example.org", campaign=None, at=first)
    give(100, "late@example.org", campaign=None, at=first + timedelta(days=90, microseconds=1))
    give(100, "exact@example.org", campaign=None, at=first)
    give(100, "exact@example.org", campaign=None, at=first + timedelta(days=90))
    second = second_gifts(2024)
    assert (second.first_time, second.second, second.second_soon) == (2, 2, 1)


# Cohorts --------------------------------------------------------------------------------

@pytest.fixture
def cohort_history(app):
    """m1 first paid at January 2025's last microsecond; m2 at February's first; m3 began
    in December 2024 (not a 2025 cohort though it paid in January); m4 is yearly; m5's
    February payment was lost to a dispute and it paid again on March 1st (2 months
    after); m6 began in December 2025."""
    m1 = recurring(1000, "monthly", "m1@example.org", at(2025, 1, 1))
    pay(m1, datetime(2025, 2, 1, tzinfo=UTC) - MICROSECOND)
    pay(m1, at(2025, 2))
    pay(m1, at(2025, 4))
    settle(pay(m1, at(2025, 7)), refunded=1000)
    pay(m1, at(2026, 1))
    m2 = recurring(500, "monthly", "m2@example.org", at(2025, 2, 1))
    pay(m2, datetime(2025, 2, 1, tzinfo=UTC))
    pay(m2, datetime(2025, 4, 1, tzinfo=UTC) - MICROSECOND)  # still March
    m3 = recurring(500, "monthly", "m3@example.org", at(2024, 12))
    pay(m3, at(2024, 12))
    pay(m3, at(2025, 1))
    m4 = recurring(5000, "yearly", "m4@example.org", at(2025, 1))
    pay(m4, at(2025, 1, 10))
    m5 = recurring(700, "monthly", "m5@example.org", at(2025, 1))
    pay(m5, at(2025, 1, 5))
    settle(pay(m5, at(2025, 2, 5)), dispute="lost")
    pay(m5, datetime(2025, 3, 1, tzinfo=UTC))
    m6 = recurring(900, "monthly", "m6@example.org", at(2025, 12))
    pay(m6, at(2025, 12, 20))
    pay(m6, at(2026, 1, 20))


def test_cohorts_of_a_hand_built_history_are_exact(cohort_history):
    table = {c.month: (c.size, c.giving, c.shares) for c in cohorts(2025, date(2026, 3, 15))}
    assert list(table) == [date(2025, month, 1) for month in range(1, 13)]
    assert table[date(2025, 1, 1)] == (2, (1, 1, 0, 1), (0.5, 0.5, 0.0, 0.5))
    assert table[date(2025, 2, 1)][:2] == (1, (1, 0, 0, 0))  # February 2026 is over
    assert table[date(2025, 12, 1)][:2] == (1, (1, None, None, None))  # March still runs
    assert table[date(2025, 11, 1)] == (0, (0, 0, None, None), (None, None, None, None))
    # The same year asked about in March 2026: the cohorts up to this month.
    recent = cohorts(2026, date(2026, 3, 15))
    assert [c.month for c in recent] == [add_months(date(2025, 4, 1), n) for n in range(12)]
    assert recent[-1].giving == (None, None, None, None)


# Readers who give -------------------------------------------------------------------------

@pytest.fixture
def readers_history(app):
    """climate: u1 (whose donor, linked to the account, has another address), u2 (also a
    subscriber choosing it), u3 (never gave), s1; s2 is pending. europe (hidden): u1.
    quiet: nobody. Daily e-mail: s1, s3 (gave at 2025's last microsecond), s5 (gave in
    2026), u2; s4 unsubscribed."""
    climate, europe = topic("climate", position=0), topic("europe", hidden=True, position=1)
    topic("quiet", position=2)
    u1 = make_user("u1@example.org", "a sturdy passphrase")
    u2 = make_user("u2@example.org", "a sturdy passphrase")
    u3 = make_user("u3@example.org", "a sturdy passphrase")
    follow(u1, climate, europe)
    follow(u2, climate)
    follow(u3, climate)
    give(1000, "u1-old@example.org", at=at(2025))
    db.session.query(Donor).filter_by(email="u1-old@example.org").update({"user_id": u1.id})
    db.session.commit()
    give(500, "u2@example.org", at=at(2025), currency="eur")  # joins u2's account
    give(9000, "u2@example.org", at=at(2024))
    subscriber("u2@example.org", topics=[climate])
    subscriber("s1@example.org", topics=[climate])
    give(300, "s1@example.org", at=at(2025))
    settle(give(4000, "s1@example.org", at=at(2025)), refunded=4000)
    subscriber("s2@example.org", status="pending", topics=[climate])
    give(800, "s2@example.org", at=at(2025))
    subscriber("s3@example.org")
    give(200, "s3@example.org", at=LAST_OF_2025)
    subscriber("s4@example.org", status="unsubscribed")
    give(200, "s4@example.org", at=at(2025))
    subscriber("s5@example.org")
    give(200, "s5@example.org", at=new_year(2026))


def test_readers_who_give_of_a_hand_built_history_are_exact(readers_history):
    rows = [row.as_json() for row in readers_who_give(2025)]
    assert rows == [
        {"topic": "daily-email", "name": "", "kind": None, "hidden": False, "followers": 4,
         "gave": 3, "rate": 0.75, "cents": {"usd": 500, "eur": 500}},
        {"topic": "climate", "name": "Climate", "kind": "theme", "hidden": False,
         "followers": 4, "gave": 3, "rate": 0.75, "cents": {"usd": 1300, "eur": 500}},
        {"topic": "europe", "name": "Europe", "kind": "theme", "hidden": True,
         "followers": 1, "gave": 1, "rate": 1.0, "cents": {"usd": 1000}},
        {"topic": "quiet", "name": "Quiet", "kind": "theme", "hidden": False,
         "followers": 0, "gave": 0, "rate": None, "cents": {}}]


# Direct recounts: the definitions applied in Python to every row --------------------------

def _in(year: int, moment: datetime | None) -> bool:
    return moment is not None and new_year(year) <= moment < new_year(year + 1)


def _monthly(gift: RecurringGift) -> int:
    return (gift.amount_cents + 6) // 12 if gift.frequency == "yearly" else gift.amount_cents


def recount_churn(year: int) -> dict:
    db.session.rollback()
    gifts = db.session.query(RecurringGift).all()
    paid = {d.stripe_invoice_id for d in db.session.query(Donation)}
    unpaid_gifts = {f.recurring_gift_id for f in db.session.query(PaymentFailure)
                    if f.stripe_invoice_id not in paid}
    collecting = sum(1 for g in gifts if g.started_at < new_year(year + 1)
                     and (g.ended_at is None or g.ended_at >= new_year(year))
                     and g.status not in NEVER_PAID_STATUSES)
    kinds = {"voluntary": 0, "involuntary": 0}
    lost: dict[str, dict[str, int]] = {"voluntary": {}, "involuntary": {}}
    reasons = {"cancellation_requested": 0, "payment_failed": 0, "payment_disputed": 0,
               "unknown": 0}
    picked = dict.fromkeys(["too_expensive", "unused", "low_quality", "switched_service",
                            "customer_service", "other", "not_given"], 0)
    for g in gifts:
        if g.status != "canceled" or not _in(year, g.ended_at):
            continue
        if g.ended_because in ("payment_failed", "payment_disputed"):
            kind = "involuntary"
        elif g.ended_because == "cancellation_requested":
            kind = "voluntary"
        else:
            kind = "involuntary" if g.id in unpaid_gifts else "voluntary"
        kinds[kind] += 1
        reasons[g.ended_because or "unknown"] += 1
        if kind == "voluntary":
            picked[g.cancel_feedback or "not_given"] += 1
        lost[kind][g.currency] = lost[kind].get(g.currency, 0) + _monthly(g)
    ended = sum(kinds.values())

    def share(n):
        return round(n / collecting, 4) if collecting else None

    return {"year": year, "collecting": collecting, "ended": ended, **kinds,
            "rate": share(ended), "voluntary_rate": share(kinds["voluntary"]),
            "involuntary_rate": share(kinds["involuntary"]), "by_reason": reasons,
            "by_feedback": picked,
            "monthly_cents_lost": lost}


def recount_recovery(year: int) -> dict:
    db.session.rollback()
    first: dict[str, datetime] = {}
    for f in db.session.query(PaymentFailure):
        first[f.stripe_invoice_id] = min(first.get(f.stripe_invoice_id, f.created_at),
                                         f.created_at)
    paid = {d.stripe_invoice_id: d for d in db.session.query(Donation) if d.stripe_invoice_id}
    failed = [invoice for invoice, moment in first.items() if _in(year, moment)]
    recovered = [paid[i] for i in failed if i in paid]
    cents: dict[str, int] = {}
    for donation in recovered:
        cents[donation.currency] = cents.get(donation.currency, 0) + donation.net_cents
    return {"year": year, "failed_invoices": len(failed), "recovered_invoices": len(recovered),
            "recovered_share": round(len(recovered) / len(failed), 4) if failed else None,
            "recovered_cents": cents}


def _counted_donations() -> list[Donation]:
    db.session.rollback()
    return [d for d in db.session.query(Donation) if d.net_cents > 0]


def recount_ranges(year: int) -> dict:
    totals: dict[tuple[int, str], int] = defaultdict(int)
    for d in _counted_donations():
        if _in(year, d.created_at):
            totals[d.donor_id, d.currency] += d.net_cents
    result: dict[str, list] = {}
    for (_donor, currency), cents in totals.items():
        unit = 10 ** exponent(currency)
        rows = result.setdefault(currency, [[f * unit, None, 0, 0] for f in BANDS])
        for index, row in enumerate(rows):
            row[1] = BANDS[index + 1] * unit if index + 1 < len(BANDS) else None
        band = max(i for i, f in enumerate(BANDS) if cents >= f * unit)
        rows[band][2] += 1
        rows[band][3] += cents
    return {c: [tuple(r) for r in rows] for c, rows in sorted(result.items())}


def recount_second(year: int) -> tuple[int, int, int]:
    by_donor: dict[int, list[datetime]] = defaultdict(list)
    for d in _counted_donations():
        by_donor[d.donor_id].append(d.created_at)
    first_time = second = soon = 0
    for moments in by_donor.values():
        moments.sort()
        if not _in(year, moments[0]):
            continue
        first_time += 1
        if len(moments) > 1:
            second += 1
            soon += moments[1] - moments[0] <= timedelta(days=90)
    return first_time, second, soon


def recount_cohorts(year: int, today: date) -> list[tuple]:
    db.session.rollback()
    monthly = {g.id for g in db.session.query(RecurringGift) if g.frequency == "monthly"}
    donations = [d for d in db.session.query(Donation) if d.recurring_gift_id in monthly]
    first: dict[int, datetime] = {}
    paid: dict[int, set[date]] = defaultdict(set)
    for d in donations:
        first[d.recurring_gift_id] = min(first.get(d.recurring_gift_id, d.created_at),
                                         d.created_at)
        if d.net_cents > 0:
            paid[d.recurring_gift_id].add(d.created_at.date().replace(day=1))
    last = min(date(year, 12, 1), today.replace(day=1))
    months = [add_months(last, n) for n in range(-11, 1)]
    rows = []
    for month in months:
        members = [g for g, moment in first.items() if moment.date().replace(day=1) == month]
        giving = tuple(sum(1 for g in members if add_months(month, n) in paid[g])
                       if add_months(month, n + 1) <= today else None for n in (1, 3, 6, 12))
        rows.append((month, len(members), giving))
    return rows


def recount_readers(year: int) -> list[tuple]:
    db.session.rollback()
    users = {u.id: u.email for u in db.session.query(User)}
    confirmed = {s.id: s.email for s in db.session.query(Subscriber)
                 if s.status == "confirmed"}
    followers: dict[int | None, set[str]] = defaultdict(set)
    followers[None] = set(confirmed.values())
    for f in db.session.query(TopicFollow):
        followers[f.topic_id].add(users[f.user_id])
    for f in db.session.query(SubscriberTopic):
        if f.subscriber_id in confirmed:
            followers[f.topic_id].add(confirmed[f.subscriber_id])
    donors_of: dict[str, set[int]] = defaultdict(set)
    for donor in db.session.query(Donor):
        donors_of[donor.email].add(donor.id)
        if donor.user_id is not None:
            donors_of[users[donor.user_id]].add(donor.id)
    gifts: dict[int, dict[str, int]] = defaultdict(dict)
    for d in _counted_donations():
        if _in(year, d.created_at):
            gifts[d.donor_id][d.currency] = gifts[d.donor_id].get(d.currency, 0) + d.net_cents
    order = [None] + [t.id for t in db.session.query(Topic).order_by(
        Topic.kind, Topic.position, Topic.name)]
    rows = []
    for topic_id in order:
        people = followers[topic_id]
        gave = [p for p in people if any(d in gifts for d in donors_of[p])]
        cents: dict[str, int] = {}
        for donor in {d for p in people for d in donors_of[p]}:
            for currency, value in gifts.get(donor, {}).items():
                cents[currency] = cents.get(currency, 0) + value
        rows.append((len(people), len(gave), cents))
    return rows


def test_the_recounts_agree_with_the_hand_built_histories(
        recurring_history, giving_history, cohort_history, readers_history):
    for year in (2024, 2025, 2026):
        assert churn(year).as_json() == recount_churn(year)
        assert recovery(year).as_json() == recount_recovery(year)
        assert_giving_figures(year)


def assert_giving_figures(year: int, today: date = date(2026, 3, 15)) -> None:
    ranges = {c: [(b.floor_cents, b.ceiling_cents, b.donors, b.cents) for b in rows]
              for c, rows in gift_ranges(year, exponent).items()}
    assert ranges == recount_ranges(year), year
    second = second_gifts(year)
    assert (second.first_time, second.second, second.second_soon) == recount_second(year)
    assert [(c.month, c.size, c.giving) for c in cohorts(year, today)] == recount_cohorts(
        year, today), year
    assert [(r.followers, r.gave, r.cents) for r in readers_who_give(year)] == (
        recount_readers(year)), year


# Property tests -------------------------------------------------------------------------

MOMENTS = st.tuples(st.integers(0, 35), st.sampled_from([0, 0, 9, 27]),
                    st.sampled_from([-1, 0, 1]))  # (month from Jan 2024, days, microseconds)


def moment(month: int, days: int, nudge: int) -> datetime:
    first = add_months(date(2024, 1, 1), month)
    return datetime(first.year, first.month, 1, tzinfo=UTC) + days * DAY + nudge * MICROSECOND


GIFTS = st.lists(st.tuples(st.integers(0, 4), MOMENTS,
                           st.sampled_from([100, 2499, 2500, 10000, 600000]),
                           st.sampled_from(["usd", "usd", "eur", "jpy"])),
                 min_size=1, max_size=14)
STEPS = st.lists(st.tuples(st.sampled_from(["refund", "dispute"]), st.integers(0, 40),
                           st.sampled_from([0.5, 1, "lost", "won", "needs_response"])),
                 max_size=5)
RECURRING = st.lists(st.tuples(
    st.integers(0, 4), st.sampled_from(["monthly", "monthly", "yearly"]), MOMENTS,
    st.lists(st.integers(0, 14), max_size=5),  # payments, months after the start
    st.lists(st.tuples(st.integers(0, 14), st.sampled_from([None, 3, 40]), st.booleans()),
             max_size=2),  # failures: months after the start, retry after days, paid
    st.one_of(st.none(), st.tuples(st.integers(0, 16), st.sampled_from(
        [None, "cancellation_requested", "payment_failed", "payment_disputed"]))),
    st.sampled_from(["active", "active", "incomplete", "past_due"])), max_size=5)
READERS = st.lists(st.tuples(st.integers(0, 5), st.booleans(),
                             st.sampled_from([None, "confirmed", "pending", "unsubscribed"]),
                             st.sets(st.integers(0, 1))), max_size=5)


def build_recurring(person, frequency, start, payments, failures, ending, status):
    started = moment(*start)
    gift = recurring(1200, frequency, f"p{person}@example.org", started,
                     currency="eur" if person == 4 else "usd")
    made = [pay(gift, started + months * 30 * DAY) for months in payments]
    for months, retry, paid in failures:
        failed_at = started + months * 30 * DAY
        if paid:
            made.append(pay(gift, failed_at + DAY))
        invoice = fail(gift, failed_at, made[-1].invoice_id if paid else None)
        if retry:
            fail(gift, failed_at + retry * DAY, invoice, attempt=2)
    if ending is None:
        end(gift, None, None, status=status)
    else:
        months, because = ending
        # Some donors pick a reason, some none: whatever Stripe's reason for the end.
        end(gift, started + months * 30 * DAY, because,
            feedback=(None, "too_expensive", "other")[months % 3])
    return made


def build_readers(readers) -> None:
    topics = [topic("alpha"), topic("beta", position=1)]
    for person, account, status, chosen in readers:
        email = f"p{person}@example.org"
        if account and not db.session.query(User).filter_by(email=email).count():
            follow(make_user(email, "a sturdy passphrase"), *(topics[i] for i in chosen))
        if status and not db.session.query(Subscriber).filter_by(email=email).count():
            subscriber(email, status, [topics[i] for i in chosen])


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(gifts=GIFTS, steps=STEPS, gifts_over_time=RECURRING, readers=READERS)
def test_every_figure_equals_a_direct_recount(app, gifts, steps, gifts_over_time, readers):
    """Gifts around the turn of months and years (a microsecond before, at, after),
    refunds and disputes, recurring gifts that fail, recover and end, readers with
    accounts and subscriptions: every figure equals its definition applied in Python."""
    try:
        build_readers(readers)  # accounts first, so donors join them
        payments = [give(amount, f"p{person}@example.org", at=moment(*when), currency=currency)
                    for person, when, amount, currency in gifts]
        for gift in gifts_over_time:
            payments += build_recurring(*gift)
        for kind, index, value in steps:
            if (kind == "refund") == isinstance(value, float | int):
                refund_or_dispute(payments, (kind, index, value))
        for year in (2024, 2025, 2026):
            assert churn(year).as_json() == recount_churn(year), year
            assert recovery(year).as_json() == recount_recovery(year), year
            assert_giving_figures(year, today=date(2026, 7, 1))
    finally:
        empty_database()


# The page and its JSON --------------------------------------------------------------------

def test_the_json_holds_every_figure(recurring_history, giving_history, staff_client):
    response = staff_client.get("/admin/reports/analytics.json?year=2025")
    assert response.status_code == 200
    body = response.get_json()
    expected = analytics(2025, datetime.now(UTC).date(), exponent).as_json()
    assert datetime.fromisoformat(body.pop("counted_at")) <= datetime.now(UTC)
    assert body == expected
    assert set(body) == {"year", "churn", "recovered_revenue", "gift_ranges", "second_gifts",
                         "monthly_cohorts", "readers_who_give"}
    assert body["churn"]["ended"] == 4 and body["recovered_revenue"]["recovered_share"] == 0.75


@pytest.mark.parametrize("query", ["", "?year=", "?year=twenty", "?year=20266",
                                   "?year=0000", "?year=1970", "?year=2026&start=x",
                                   "?year=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96"])
def test_a_year_that_is_not_a_year_is_a_400_with_a_reason(staff_client, query):
    response = staff_client.get(f"/admin/reports/analytics.json{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "Bad Request" and body["reason"]


@pytest.mark.parametrize("path", ["analytics", "analytics?year=2025",
                                  "reports/analytics.json?year=2025"])
def test_analytics_are_for_staff_only(app, client, reader_client, path):
    assert app.test_client().get(f"/admin/{path}").status_code == 302
    assert reader_client.get(f"/admin/{path}").status_code == 403


def test_the_page_shows_each_figure_with_its_definition_and_table(
        recurring_history, giving_history, cohort_history, readers_history, staff_client):
    response = staff_client.get("/admin/analytics?year=2025")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for heading in ("Recurring gifts that ended in 2025", "Failed renewals paid later",
                    "Donors by what they gave in 2025", "First-time donors who gave again",
                    "Monthly donors: who is still giving", "Readers who gave in 2025"):
        assert heading in page
    assert page.count("<caption>") >= 7 and page.count('class="chart"') >= 6
    churned = churn(2025)  # 4 ended; the cohorts' monthly gifts collect too
    assert f"{churned.rate * 100:.1f} %" in page and f"<td>{churned.ended}</td>" in page
    assert "75.0 %" in page  # failed renewals recovered
    text = " ".join(page.split())
    assert ('<th scope="row">Cannot afford it just now</th><td>'
            f'{churned.by_feedback["too_expensive"]}</td>') in text  # the donors' reasons
    assert "Climate" in page and "Daily e-mail" in page and "(hidden)" in page
    assert "/admin/reports/analytics.json?year=2025" in page
    assert 'href="/admin/analytics" aria-current="page"' in page
    bad = staff_client.get("/admin/analytics?year=soon")
    assert bad.status_code == 200 and "Could not show that year" in bad.get_data(as_text=True)


def test_the_page_renders_on_an_empty_database(staff_client):
    response = staff_client.get("/admin/analytics")
    assert response.status_code == 200
    assert "Nobody gave in" in response.get_data(as_text=True)


# Kept as counted (reports/snapshots.py) ---------------------------------------------------

def test_kept_figures_read_back_exactly_as_they_were_counted(recurring_history,
                                                              giving_history):
    figures = analytics(2025, date(2026, 7, 1), exponent)
    assert from_record(json.loads(json.dumps(to_record(figures)))) == figures


def test_the_page_shows_kept_figures_until_they_are_older_than_allowed(app, staff_client):
    app.config["ANALYTICS_MAX_AGE"] = 600
    give(1000, "kept@example.org", at=at(2025))
    first = staff_client.get("/admin/reports/analytics.json?year=2025").get_json()
    give(5000, "later@example.org", at=at(2025, 7))
    kept = staff_client.get("/admin/reports/analytics.json?year=2025").get_json()
    assert kept == first  # counted a moment ago: shown as counted, and says when
    assert "Counted at" in staff_client.get("/admin/analytics?year=2025").get_data(
        as_text=True)
    snapshot = db.session.get(ReportSnapshot, ("analytics", 2025))
    snapshot.computed_at -= timedelta(seconds=601)
    db.session.commit()
    counted = staff_client.get("/admin/reports/analytics.json?year=2025").get_json()
    assert counted["second_gifts"]["first_time_donors"] == 2
    assert counted["counted_at"] > first["counted_at"]


def test_reports_refresh_counts_and_keeps_the_years_asked(app, flask_command):
    give(1000, "kept@example.org", at=at(2025))
    result = flask_command("reports", "refresh", "--year", "2025")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("analytics 2025: counted at ")
    snapshot = db.session.get(ReportSnapshot, ("analytics", 2025))
    assert snapshot.body["second_gifts"]["first_time"] == 1
    assert flask_command("reports", "refresh", "--year", "20255").returncode == 2


def test_two_first_counts_of_a_year_at_once_both_keep_theirs(app):
    """A first view and the timer (or two first views) counting the same year at the
    same moment: neither fails; one row stands."""
    import threading

    from membership.reports.snapshots import count_and_keep

    give(1000, "kept@example.org", at=at(2025))
    barrier, errors = threading.Barrier(2), []

    def count():
        with app.app_context():
            try:
                barrier.wait()
                count_and_keep(2025, date(2026, 7, 1), exponent)
                db.session.commit()
            except Exception as error:  # the test reports any failure of either
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=count) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert db.session.query(ReportSnapshot).count() == 1
