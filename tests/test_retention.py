"""Retention (CONTRACT.md, Retention): figures exact on a hand-built history, the same as a
direct recount for any history, the lapsed-donor lists, and the staff page."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from membership.donations.models import Donation
from membership.extensions import db
from membership.reports.retention import retention, retention_by_year
from tests.builders import at, give, new_year, refund_or_dispute, settle
from tests.conftest import empty_database

MICROSECOND = timedelta(microseconds=1)


@pytest.fixture
def history(app):
    """Who gave when, built so that each group of the contract has known members.

    2024: ana, ben, cy, dee, eve(refunded in full), fay(lost dispute)
    2025: ana, ben (last microsecond of 2025), gus (first microsecond of 2025, new),
          hal (partly refunded: still counts), eve (refunded again), ivy (in EUR)
    2026: ana, cy (recaptured), gus, jo (new, open dispute still counts), ivy (in GBP)
    2023 only: kim (SYBUNT in 2026); 2022 only: lee (SYBUNT in 2026, 2025)"""
    give(1000, "ana@example.org", at=at(2024))
    give(1000, "ben@example.org", at=at(2024))
    give(1000, "cy@example.org", at=at(2024))
    give(1000, "dee@example.org", at=at(2024))
    settle(give(1000, "eve@example.org", at=at(2024)), refunded=1000)
    settle(give(1000, "fay@example.org", at=at(2024)), dispute="lost")
    give(2000, "ana@example.org", at=at(2025))
    give(2000, "ben@example.org", at=new_year(2026) - MICROSECOND)
    give(2000, "gus@example.org", at=new_year(2025))
    settle(give(2000, "hal@example.org", at=at(2025)), refunded=1999)
    settle(give(2000, "eve@example.org", at=at(2025)), refunded=2000)
    give(2000, "ivy@example.org", at=at(2025), currency="eur")
    give(3000, "ana@example.org", at=at(2026))
    give(3000, "cy@example.org", at=new_year(2026))
    give(3000, "gus@example.org", at=at(2026, 12, 31))
    settle(give(3000, "jo@example.org", at=at(2026)), dispute="needs_response")
    give(3000, "ivy@example.org", at=at(2026), currency="gbp")
    give(500, "kim@example.org", at=at(2023))
    give(500, "lee@example.org", at=at(2022))
    give(9999, "later@example.org", at=new_year(2027))  # after every year asked about


def test_retention_of_a_hand_built_history_is_exact(history):
    # 2025 gave: ana ben gus hal ivy; 2024 gave: ana ben cy dee (eve refunded, fay lost)
    assert retention(2025) == {
        "year": 2025, "donors": 5, "donors_previous": 4, "retained": 2,
        "retention_rate": 0.5, "new": 3, "recaptured": 0, "lybunt": 2, "sybunt": 2}
    # 2026 gave: ana cy gus jo ivy; before: ana ben gus hal ivy
    assert retention(2026) == {
        "year": 2026, "donors": 5, "donors_previous": 5, "retained": 3,
        "retention_rate": 0.6, "new": 1, "recaptured": 1, "lybunt": 2, "sybunt": 3}


def test_a_year_nobody_gave_before_has_no_rate(history):
    assert retention(2022) == {
        "year": 2022, "donors": 1, "donors_previous": 0, "retained": 0,
        "retention_rate": None, "new": 1, "recaptured": 0, "lybunt": 0, "sybunt": 0}


def direct_recount(year: int) -> dict:
    """The contract's definitions, applied in Python to every donation."""
    db.session.rollback()
    gave: dict[int, set[int]] = {}
    for donation in db.session.query(Donation):
        if donation.net_cents > 0:
            gave.setdefault(donation.donor_id, set()).add(donation.created_at.year)
    this = {d for d, years in gave.items() if year in years}
    last = {d for d, years in gave.items() if year - 1 in years}
    earlier = {d for d, years in gave.items() if any(y < year - 1 for y in years)}
    everyone = this | last | earlier
    return {
        "year": year, "donors": len(this), "donors_previous": len(last),
        "retained": len(this & last),
        "retention_rate": round(len(this & last) / len(last), 4) if last else None,
        "new": len(this - last - earlier), "recaptured": len((this - last) & earlier),
        "lybunt": len(last - this), "sybunt": len(everyone - this - last),
    }


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(gifts=st.lists(st.tuples(st.integers(0, 5), st.integers(2021, 2026),
                                st.sampled_from([-1, 0, 1])), min_size=1, max_size=25),
       steps=st.lists(st.tuples(st.sampled_from(["refund", "dispute"]), st.integers(0, 30),
                                st.sampled_from([0.5, 1, "lost", "won", "needs_response"])),
                      max_size=6))
def test_retention_equals_a_direct_recount(app, gifts, steps):
    """Gifts around new year's midnight (a microsecond before, at, after), refunds and
    disputes: every year's figures equal the definitions applied to every donation."""
    try:
        payments = [give(1000, f"donor{person}@example.org",
                         at=new_year(year) + nudge * MICROSECOND)
                    for person, year, nudge in gifts]
        for kind, index, value in steps:
            if (kind == "refund") == isinstance(value, float | int):
                refund_or_dispute(payments, (kind, index, value))
        for year in range(2020, 2028):
            assert retention(year) == direct_recount(year), year
        assert retention_by_year(2027, count=8) == [direct_recount(y) for y in range(2020, 2028)]
    finally:
        empty_database()


def read_csv(response) -> list[dict]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_the_lybunt_and_sybunt_lists(history, staff_client):
    lybunt = staff_client.get("/admin/reports/lybunt.csv?year=2026")
    assert lybunt.status_code == 200 and lybunt.mimetype == "text/csv"
    rows = read_csv(lybunt)
    assert [(r["donor_email"], r["last_gift_at"], r["last_gift_cents"], r["currency"],
             r["lifetime_cents"], r["gifts"]) for r in rows] == [
        ("ben@example.org", "2025-12-31T23:59:59+00:00", "2000", "usd", "3000", "2"),
        ("hal@example.org", "2025-06-15T12:00:00+00:00", "2000", "usd", "1", "1")]
    assert set(rows[0]) >= {"donor_email", "donor_name", "last_gift_at", "last_gift_cents",
                            "currency", "lifetime_cents", "gifts"}
    sybunt = read_csv(staff_client.get("/admin/reports/sybunt.csv?year=2026"))
    assert [r["donor_email"] for r in sybunt] == [
        "dee@example.org", "kim@example.org", "lee@example.org"]


@pytest.mark.parametrize("query", ["", "?year=", "?year=twenty", "?year=20266",
                                   "?year=0000", "?year=1970", "?year=2026&start=x",
                                   "?year=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96"])
@pytest.mark.parametrize("path", ["retention.json", "lybunt.csv", "sybunt.csv"])
def test_a_year_that_is_not_a_year_is_a_400_with_a_reason(staff_client, path, query):
    response = staff_client.get(f"/admin/reports/{path}{query}")
    assert response.status_code == 400
    assert response.get_json()["reason"]


@pytest.mark.parametrize("path", ["reports/retention.json?year=2026",
                                  "reports/lybunt.csv?year=2026", "retention"])
def test_retention_is_for_staff_only(app, client, reader_client, path):
    assert app.test_client().get(f"/admin/{path}").status_code == 302
    assert reader_client.get(f"/admin/{path}").status_code == 403


def test_the_retention_page_shows_five_years_with_their_definitions(history, staff_client):
    page = staff_client.get("/admin/retention?year=2026").get_data(as_text=True)
    for year in range(2022, 2027):
        assert f">{year}</th>" in page
    assert "60.0 %" in page and "Recaptured" in page and "SYBUNT" in page
    assert "/admin/reports/lybunt.csv?year=2026" in page
    assert "Gave in a year" in page
    bad = staff_client.get("/admin/retention?year=soon")
    assert bad.status_code == 200 and "Could not show that year" in bad.get_data(as_text=True)
