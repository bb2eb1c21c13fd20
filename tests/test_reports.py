"""Reports: exact figures for a hand-built month of gifts, the kept daily totals against a
full recount, the CSV, bad parameters and the staff pages around them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from membership.admin.models import AuditEntry
from membership.donations.models import Donation, Donor
from membership.donations.recurring import record_payment_failure
from membership.extensions import db
from membership.reports.kept import (
    daily_totals_from_donations,
    donor_years_from_donations,
    retention_years_from_donor_years,
)
from membership.reports.models import DailyTotal, DonorYear, RetentionYear
from membership.reports.series import dashboard_series
from membership.reports.summary import summary
from membership.reports.windows import Window
from tests.builders import give, make_campaign, pay, recurring, refund_or_dispute, settle
from tests.conftest import empty_database


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def app_overrides():
    return {"DONATION_CURRENCIES": ["usd", "eur"]}


@pytest.fixture
def march(app):
    """A month of gifts with something on every edge (see the expected figures below)."""
    make_campaign("spring", starts_at=at("2026-03-01T00:00"), ends_at=at("2026-04-01T00:00"),
                  goal=50_000)
    first = give(10_000, "a@example.org", campaign=None, at=at("2026-03-01T00:00:00"))
    last = give(5_000, "b@example.org", campaign=None, at=at("2026-03-31T23:59:59.999999"))
    give(7_000, "c@example.org", campaign=None, at=at("2026-04-01T00:00:00"))  # after
    give(3_000, "a@example.org", campaign=None, at=at("2026-02-28T23:59:59"))  # before
    give(4_000, "d@example.org", campaign=None, at=at("2026-03-10T12:00"), currency="eur")
    monthly = recurring(1_800, "monthly", "e@example.org", at("2026-01-15T09:00"))
    for month in ("01", "02", "03"):
        pay(monthly, at(f"2026-{month}-15T09:00"))
    yearly = recurring(12_000, "yearly", "f@example.org", at("2026-03-05T10:00"),
                       campaign="spring")
    pay(yearly, at("2026-03-05T10:00"))
    give(2_500, "g@example.org", campaign="spring", at=at("2026-03-20T08:00"))
    settle(first, dispute="needs_response")
    settle(first, dispute="lost")
    settle(last, refunded=2_000)
    for invoice, when in (("in_failed_march", "2026-03-20T09:00"),
                          ("in_failed_april", "2026-04-02T09:00")):
        record_payment_failure(monthly, invoice, 1, 1_800, "usd", at(when))
    db.session.commit()
    return Window(at("2026-03-01T00:00").date(), at("2026-03-31T00:00").date())


def test_summary_figures_are_exact(march):
    assert summary(march) == {
        "currency": "usd", "start": "2026-03-01", "end": "2026-03-31",
        "gross_cents": 31_300, "refunded_cents": 12_000, "net_cents": 19_300,
        "donations": 5, "donors": 6, "new_donors": 4,  # people, whatever their currency
        "one_time": {"count": 3, "gross_cents": 17_500},
        "recurring": {"count": 2, "gross_cents": 13_800},
        "active_recurring_gifts": 2, "mrr_cents": 1_800 + 1_000,
        "failed_payments": 1,
        # The campaign's progress, as its page shows it.
        "by_campaign": [{"slug": "spring", "raised_cents": 14_500, "goal_cents": 50_000,
                         "donations": 2, "donors": 2, "title": "Twenty years",
                         "currency": "usd", "goal_donors": None}],
        "by_currency": [{"currency": "eur", "gross_cents": 4_000, "donations": 1},
                        {"currency": "usd", "gross_cents": 31_300, "donations": 5}],
        # Stripe has told of no balance transaction (tests/test_settlements.py does).
        "settled": {"by_currency": [], "unsettled_donations": 6},
    }


def test_summary_for_one_campaign(march):
    from membership.reports.windows import campaign_named

    figures = summary(march, campaign_named("spring"))
    assert (figures["gross_cents"], figures["net_cents"], figures["donations"]) == (
        14_500, 14_500, 2)
    assert (figures["donors"], figures["new_donors"]) == (2, 2)
    assert figures["one_time"] == {"count": 1, "gross_cents": 2_500}
    assert figures["recurring"] == {"count": 1, "gross_cents": 12_000}
    assert (figures["active_recurring_gifts"], figures["mrr_cents"]) == (1, 1_000)
    assert figures["failed_payments"] == 0
    assert [row["slug"] for row in figures["by_campaign"]] == ["spring"]


def test_single_days_at_the_window_edges(march):
    first_day = summary(Window(march.start, march.start))
    assert (first_day["gross_cents"], first_day["donations"]) == (10_000, 1)
    last_day = summary(Window(march.end, march.end))
    assert (last_day["gross_cents"], last_day["refunded_cents"]) == (5_000, 2_000)


def test_the_summary_endpoint_takes_the_window_and_campaign(march, client, forms, staff):
    forms.login("editor@example.org", "another sturdy passphrase")
    body = client.get("/admin/reports/summary.json?start=2026-03-01&end=2026-03-31").get_json()
    assert body == summary(march)
    body = client.get("/admin/reports/summary.json?start=2026-03-01&end=2026-03-31"
                      "&campaign=spring").get_json()
    assert body["gross_cents"] == 14_500


@pytest.mark.parametrize(("query", "reason"), [
    ("start=2026-04-01&end=2026-03-01", "start (2026-04-01) is after end (2026-03-01)"),
    ("start=2026-02-30&end=2026-03-01", "start must be a date written YYYY-MM-DD"),
    ("start=yesterday&end=2026-03-01", "start must be a date written YYYY-MM-DD"),
    ("start=2026-03-01&end=03/31/2026", "end must be a date written YYYY-MM-DD"),
    ("start=2026-03-01&end=2026-03-31&campaign=nope", "there is no campaign 'nope'"),
])
@pytest.mark.parametrize("report", ["summary.json", "donations.csv"])
def test_bad_parameters_get_400_with_a_reason(client, forms, staff, query, reason, report):
    forms.login("editor@example.org", "another sturdy passphrase")
    response = client.get(f"/admin/reports/{report}?{query}")
    assert response.status_code == 400
    assert reason in response.get_json()["reason"]


def test_the_csv_streams_every_donation_with_safe_cells(march, client, forms, staff):
    give(1_000, "h@example.org", name="=HYPERLINK(\"http://evil\")", campaign=None,
         at=at("2026-03-15T10:00"))
    forms.login("editor@example.org", "another sturdy passphrase")
    response = client.get("/admin/reports/donations.csv?start=2026-03-01&end=2026-03-31")
    assert response.status_code == 200
    assert "Content-Length" not in response.headers  # streamed, not built in memory
    assert response.mimetype == "text/csv"
    assert 'filename="donations-2026-03-01-2026-03-31.csv"' in response.headers[
        "Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {"donation_id", "created_at", "donor_email", "amount_cents", "currency",
            "frequency", "campaign", "status", "refunded_cents", "stripe_id"} <= set(rows[0])
    assert len(rows) == 7  # five in dollars, one in euros, the new one
    assert rows[0]["created_at"] == "2026-03-01T00:00:00+00:00"
    assert (rows[0]["status"], rows[0]["kept_after_refunds_cents"]) == ("reversed", "0")
    # Issue 15: nothing here reads as net of fees; Stripe's fee comes once settled.
    assert "net_cents" not in rows[0] and "fee_cents" not in rows[0]
    assert (rows[0]["settled_currency"], rows[0]["stripe_fee_cents"]) == ("", "")
    evil = next(row for row in rows if row["donor_email"] == "h@example.org")
    assert evil["donor_name"] == "'=HYPERLINK(\"http://evil\")"
    only_spring = client.get("/admin/reports/donations.csv?start=2026-03-01&end=2026-03-31"
                             "&campaign=spring").get_data().decode("utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(only_spring)))) == 2


def test_cells_a_spreadsheet_would_run_are_escaped(client, forms, staff):
    typed = ["=1+1", "+33 1", "-2", "@SUM(A1)", "-SUM(1)", "Amina", "O'Neil, Dana"]
    for n, name in enumerate(typed):
        give(1_000, f"typed{n}@example.org", name=name, campaign=None,
             at=at("2026-03-15T10:00") + timedelta(minutes=n))
    forms.login("editor@example.org", "another sturdy passphrase")
    raw = client.get("/admin/reports/donations.csv?start=2026-03-01&end=2026-03-31").get_data()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [row["donor_name"] for row in rows] == [
        "'=1+1", "'+33 1", "'-2", "'@SUM(A1)", "'-SUM(1)", "Amina", "O'Neil, Dana"]
    assert rows[0]["created_at"] == "2026-03-15T10:00:00+00:00"


def test_dashboard_series_split_one_time_and_recurring(march):
    series = dashboard_series(march)
    assert series["period"] == "day"
    by_day = {point.start.isoformat(): point.values for point in series["gross"]}
    assert by_day["2026-03-05"] == {"one_time": 0, "recurring": 12_000}
    assert by_day["2026-03-01"] == {"one_time": 10_000, "recurring": 0}
    donors = {point.start.isoformat(): point.values for point in series["donors"]}
    assert donors["2026-03-15"] == {"new": 0, "returning": 1}
    assert donors["2026-03-05"] == {"new": 1, "returning": 0}
    mrr = {point.start.isoformat(): point.values["mrr"] for point in series["mrr"]}
    assert (mrr["2026-03-04"], mrr["2026-03-05"]) == (1_800, 2_800)
    assert sum(point.values["failed"] for point in series["failed"]) == 1


def test_a_long_window_is_drawn_by_month(march):
    series = dashboard_series(Window(march.start - timedelta(days=400), march.end))
    assert series["period"] == "month"
    assert [p.start.isoformat() for p in series["gross"]][-2:] == ["2026-02-01", "2026-03-01"]
    donors = {p.start.isoformat(): p.values for p in series["donors"]}
    assert donors["2026-01-01"] == {"new": 1, "returning": 0}  # e, the monthly donor
    assert donors["2026-02-01"] == {"new": 1, "returning": 1}  # a's first gift; e again
    assert donors["2026-03-01"] == {"new": 4, "returning": 2}  # b, d, f, g; a, e
    weekly = dashboard_series(Window(march.start - timedelta(days=70), march.end))
    assert weekly["period"] == "week"
    weeks = {p.start.isoformat(): p.values for p in weekly["donors"]}
    assert weeks["2026-03-09"] == {"new": 1, "returning": 1}  # d; e's renewal on Sunday 15th
    assert weeks["2026-03-16"] == {"new": 1, "returning": 0}  # g


# The kept daily totals against a full recount ----------------------------------------------

STEP = st.one_of(
    st.tuples(st.just("give"), st.sampled_from(["a", "b"]), st.sampled_from([500, 3600]),
              st.integers(0, 3), st.sampled_from([None, "spring"]),
              st.sampled_from(["usd", "eur"])),
    st.tuples(st.just("refund"), st.integers(0, 20), st.sampled_from([0.5, 1.0])),
    st.tuples(st.just("dispute"), st.integers(0, 20), st.sampled_from(["lost", "won"])),
)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=20))
def test_daily_totals_always_equal_a_full_recount(app, steps):
    payments = []
    for step in steps:
        if step[0] == "give":
            _, who, amount, day, campaign, currency = step
            payments.append(give(amount, f"{who}@example.org", campaign=campaign,
                                 currency=currency,
                                 at=at("2026-03-01T23:30") + timedelta(days=day)))
        else:
            refund_or_dispute(payments, step)
    kept = {(row.day, row.currency, row.frequency, row.campaign):
            (row.donations, row.gross_cents, row.net_cents)
            for row in db.session.scalars(select(DailyTotal))}
    recounted = {tuple(row[:4]): tuple(row[4:])
                 for row in db.session.execute(daily_totals_from_donations())}
    assert kept == recounted
    # The donor-years retention and the giving figures read, and each donor's first year.
    years = {(row.donor_id, row.year, row.currency): (row.gifts, row.net_cents)
             for row in db.session.scalars(select(DonorYear))}
    assert years == {tuple(row[:3]): tuple(row[3:])
                     for row in db.session.execute(donor_years_from_donations())}
    firsts = {donor.id: donor.first_counted_year for donor in db.session.scalars(select(Donor))}
    assert firsts == {donor_id: min((year for d, year, _ in years if d == donor_id),
                                    default=None) for donor_id in firsts}
    counts = {row.year: (row.donors, row.retained, row.new_donors)
              for row in db.session.scalars(select(RetentionYear)) if row.donors}
    assert counts == {row[0]: tuple(row[1:])
                      for row in db.session.execute(retention_years_from_donor_years())}


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gifts=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 700)),
                      min_size=1, max_size=15),
       windows=st.lists(st.tuples(st.integers(-30, 700), st.integers(1, 400)),
                        min_size=1, max_size=5))
def test_donors_counted_from_spans_and_gaps_equal_a_direct_count(app, gifts, windows):
    """Gifts arrive in any order (Stripe does not promise order); the kept spans and long
    gaps must always give the same count as reading the donations."""
    from membership.donations.models import Donor
    from membership.reports.kept import activity_from_donations, long_gaps_from_donations
    from membership.reports.models import LONG_GAP, DonorActivity, DonorGap
    from membership.reports.summary import _donor_counts, _donors_from_spans

    empty_database()  # each example starts afresh
    start = at("2025-01-01T12:00")
    for who, day in gifts:
        give(1000, f"{who}@example.org", campaign=None, at=start + timedelta(days=day))
    kept_gaps = {(g.donor_id, g.from_at, g.to_at) for g in db.session.scalars(select(DonorGap))}
    rebuilt = {tuple(row) for row in db.session.execute(long_gaps_from_donations())}
    assert kept_gaps == rebuilt
    for donor in db.session.scalars(select(Donor)):
        times = [start + timedelta(days=day) for who, day in gifts
                 if f"{who}@example.org" == donor.email]
        assert (donor.first_donation_at, donor.last_donation_at) == (min(times), max(times))
    kept_activity = {tuple(row) for row in db.session.execute(
        select(DonorActivity.donor_id, DonorActivity.period, DonorActivity.starts))}
    assert kept_activity == {tuple(row) for period in ("week", "month")
                             for row in db.session.execute(activity_from_donations(period))}
    for offset, length in windows:
        first = (start + timedelta(days=offset)).date()
        window = Window(first, first + timedelta(days=length - 1))
        direct = db.session.execute(
            select(func.count(Donation.donor_id.distinct())).where(
                Donation.created_at >= window.begins, Donation.created_at < window.ends)
        ).scalar_one()
        if window.ends - window.begins > LONG_GAP:
            assert _donors_from_spans(window) == direct
        assert _donor_counts(window, None)[0] == direct


# Staff pages --------------------------------------------------------------------------------

@pytest.fixture
def signed_in(forms, staff):
    forms.login("editor@example.org", "another sturdy passphrase")
    return forms


def test_the_dashboard_draws_charts_with_tables(march, signed_in):
    page = signed_in.client.get("/admin/?start=2026-03-01&end=2026-03-31")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count('role="img"') == 4 and html.count("The figures as a table") == 4
    assert "$313" in html and "What the figures mean" in html
    assert 'href="/admin/reports/donations.csv?start=2026-03-01&amp;end=2026-03-31"' in html
    bad = signed_in.client.get("/admin/?start=2026-04-01&end=2026-03-01")
    assert bad.status_code == 200 and "start (2026-04-01) is after end" in bad.get_data(
        as_text=True)


def test_staff_find_a_donor_and_see_everything_about_them(march, signed_in):
    results = signed_in.client.get("/admin/donors?q=E@EXAMPLE").get_data(as_text=True)
    assert "e@example.org" in results and "a@example.org" not in results
    donor_link = results.split('href="/admin/donors/', 1)[1].split('"', 1)[0]
    page = signed_in.client.get(f"/admin/donors/{donor_link}").get_data(as_text=True)
    assert "$18 monthly" in page and "Your recurring gift could not be charged" in page


def test_donations_list_filters(march, signed_in):
    html = signed_in.client.get("/admin/donations?campaign=spring&frequency=yearly"
                                ).get_data(as_text=True)
    assert "f@example.org" in html and "g@example.org" not in html
    html = signed_in.client.get("/admin/donations?status=reversed").get_data(as_text=True)
    assert "a@example.org" in html and "b@example.org" not in html


def test_staff_changes_are_in_the_audit_log(signed_in):
    campaign = make_campaign("audited")
    signed_in.post(f"/admin/campaigns/{campaign.id}/end",
                   page=f"/admin/campaigns/{campaign.id}/end")
    [entry] = db.session.scalars(select(AuditEntry)).all()
    assert (entry.actor_email, entry.action, entry.target) == (
        "editor@example.org", "campaign.end", "campaign audited")
    page = signed_in.client.get("/admin/audit").get_data(as_text=True)
    assert "campaign.end" in page and "editor@example.org" in page


def test_the_audit_log_shows_values_as_people_read_them(signed_in):
    """Issue 15: no None, False → True or a list of dicts on the page."""
    from membership.admin.audit import readable

    entry = AuditEntry(actor_email="editor@example.org", action="campaign.edit",
                       target="campaign spring", details={
                           "match_sponsor": [None, "A friend"], "featured": [False, True],
                           "goal": [1000000, 2500000],
                           "ends_at": ["2026-03-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00"],
                           "milestones": [[], [{"amount_cents": 50000, "label": "Half"}]]})
    db.session.add(entry)
    db.session.commit()
    page = signed_in.client.get("/admin/audit").get_data(as_text=True)
    for python in ("None", "False", "True", "[{", "'label'"):
        assert python not in page
    assert "(none) → A friend" in page and "no → yes" in page
    assert "1,000,000 → 2,500,000" in page
    assert "2026-03-01 00:00 UTC → 2026-04-01 00:00 UTC" in page
    assert "amount_cents: 50,000, label: Half" in page
    assert readable("2026-13-45T99:00") == "2026-13-45T99:00"  # not a moment: as typed


@given(top=st.integers(0, 10**12))
def test_chart_ticks_are_round_evenly_spaced_and_just_reach_the_top(top):
    """Issue 15: no "0, 0, 0, 1" for a count of one, no "0, 2, 5, 7, 10"."""
    from membership.admin.charts import MAX_INTERVALS, ticks

    values = ticks(top)
    step = values[1] - values[0]
    assert values[0] == 0 and 2 <= len(values) <= MAX_INTERVALS + 1
    assert all(b - a == step for a, b in pairwise(values))
    assert str(step).rstrip("0") in ("1", "2", "5")
    assert values[-1] >= max(top, 1) > values[-2]


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_a_periods_last_microsecond_stays_in_its_period(app, period):
    """SQLite's date functions round .999999 into the next second, and so (a Sunday's, a
    month's, a year's last microsecond) into the next week, month and year."""
    from membership.sql import utc_day, utc_period

    last = datetime(2024, 12, 29, 23, 59, 59, 999_999, tzinfo=UTC)  # a Sunday, in December
    give(100, "late@example.org", campaign=None, at=last)
    dialect = db.session.get_bind().dialect.name
    day, start = db.session.execute(select(utc_day(Donation.created_at, dialect),
                                           utc_period(Donation.created_at, period, dialect))).one()
    assert str(day) == "2024-12-29"
    assert str(start) == {"day": "2024-12-29", "week": "2024-12-23", "month": "2024-12-01"}[period]
