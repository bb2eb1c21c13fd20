"""Hostile input (issue 12): each case a 4xx with a reason, never a 5xx or a half-written
record; then a fuzzer over every route in the URL map, as a visitor, a reader and staff."""

from __future__ import annotations

import re
import threading
from decimal import Decimal
from urllib.parse import quote, urlencode

import pytest
import requests
from sqlalchemy import func, select

from membership.accounts.models import User
from membership.campaigns.models import Campaign
from membership.donations.money import AmountError, parse_amount
from membership.extensions import db
from membership.newsletter.models import Subscriber
from tests.conftest import csrf_token_from, serving

NUL = "a\x00b"


@pytest.fixture
def as_staff(forms, staff):
    forms.login("editor@example.org", "another sturdy passphrase")
    return forms


# NUL characters ---------------------------------------------------------------------------

@pytest.mark.parametrize("url", [f"/topics?q={quote(NUL)}", f"/campaigns/{quote(NUL)}",
                                 f"/donate?campaign={quote(NUL)}"])
def test_a_nul_character_in_the_path_or_query_is_refused(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)


@pytest.mark.parametrize(("url", "data"), [
    ("/account/signup", {"email": "nul@example.org", "password": "a sturdy\x00 passphrase"}),
    ("/newsletter", {"email": "n\x00ul@example.org", "consent": "y"}),
    ("/account/login", {"email": "reader@example.org\x00", "password": "x"}),
])
def test_a_nul_character_in_a_form_is_refused_and_nothing_is_written(forms, url, data):
    response = forms.post(url, data)
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0


# Numbers past their columns -----------------------------------------------------------------

@pytest.mark.parametrize("url", ["/admin/outbox/2147483648", "/admin/outbox/99999999999999999999",
                                 "/account/giving/2147483648/receipt",
                                 "/account/giving/statement/99999999999"])
def test_an_id_past_the_column_size_is_not_found(as_staff, url):
    assert as_staff.client.get(url).status_code == 404


@pytest.mark.parametrize("page", ["0", "-1", "100001", "99999999999999999999"])
def test_a_page_out_of_range_is_not_found(as_staff, page):
    for url in ("/admin/outbox", "/admin/events", "/admin/donations", "/admin/audit"):
        assert as_staff.client.get(f"{url}?page={page}").status_code == 404


@pytest.mark.parametrize(("query", "reason"), [
    ("end=9999-12-31", "end must be between 1970-01-01 and 2999-12-31"),
    ("start=0001-01-01", "start must be between"),
    ("start=20260101", "start must be a date written YYYY-MM-DD"),
    ("start=2026-W01-1", "start must be a date written YYYY-MM-DD"),
    ("stat=2026-01-01", "unknown parameter 'stat'"),
])
@pytest.mark.parametrize("report", ["summary.json", "donations.csv"])
def test_report_dates_that_overflow_or_are_not_iso_and_unknown_parameters_are_refused(
        as_staff, query, reason, report):
    response = as_staff.client.get(f"/admin/reports/{report}?{query}")
    assert response.status_code == 400
    assert reason in response.get_json()["reason"]


def test_the_dashboard_shows_a_bad_date_as_a_problem_not_an_error(as_staff):
    response = as_staff.client.get("/admin/?end=9999-12-31")
    assert response.status_code == 200
    assert "end must be between" in response.get_data(as_text=True)


CAMPAIGN = {
    "slug": "hostile", "title": "Hostile", "appeal": "Give.", "goal_type": "amount",
    "goal": "50000", "currency": "usd", "starts_at": "2099-01-01T00:00",
    "ends_at": "2099-02-01T00:00",
}


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"goal": "99999999999999"}, "goal", "Enter at most $20,000,000"),
    ({"goal_type": "donors", "goal": "\u00b2"}, "goal", "Enter a number of donors from 1 to"),
    ({"goal_type": "donors", "goal": "99999999999"}, "goal", "Enter a number of donors"),
    ({"milestones": "9" * 30 + ": Thirty nines"}, "milestones", "Line 1: Enter at most"),
    ({"goal_type": "donors", "milestones": "\u00b2: Squared"}, "milestones", "Line 1:"),
    ({"sponsor_name": "A friend", "match_ratio": "1:1", "match_cap": "9" * 30}, "match_cap",
     "Enter at most"),
    ({"starts_at": "0001-01-01T00:00"}, "starts_at", "between the years 1970 and 2999"),
    ({"ends_at": "9999-12-31T23:59"}, "ends_at", "between the years 1970 and 2999"),
])
def test_campaign_figures_past_their_columns_are_form_errors(as_staff, changes, field, message):
    response = as_staff.post("/admin/campaigns/new", {**CAMPAIGN, **changes},
                             page="/admin/campaigns/new")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert re.search(rf'<[^>]*aria-invalid="true"[^>]*id="{field}"', page), field
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


# Amounts in the reader's own digits ---------------------------------------------------------

@pytest.mark.parametrize(("text", "amount"), [
    ("\u0663\u0666\u066b\u0665\u0660", Decimal("36.50")),  # Arabic-Indic, Arabic decimal
    ("\u06f1\u066c\u06f0\u06f0\u06f0", Decimal("1000")),   # Extended Arabic-Indic thousands
    ("36\u066b5", Decimal("36.5")),
])
def test_amounts_in_arabic_digits_and_separators_are_read(app, text, amount):
    assert parse_amount(text, "usd") == amount


@pytest.mark.parametrize("text", ["\u0969\u096c", "3\u00b2", "\uff13\uff16", "\u2463"])
def test_digits_of_other_scripts_are_refused(app, text):
    with pytest.raises(AmountError):
        parse_amount(text, "usd")


# The cached gift form -----------------------------------------------------------------------

def test_the_cached_gift_form_puts_the_token_only_in_the_token_field(client):
    bait = 'name="csrf_token" value="x" __csrf_token_placeholder__'
    url = "/donate?" + urlencode({"campaign": bait, "amount": "36"})
    client.get(url)  # fills the cache
    other = client.application.test_client()
    page = other.get(url).get_data(as_text=True)
    token = csrf_token_from(page)
    assert page.count(token) == page.count('name="csrf_token"')
    assert "__csrf_token_placeholder__" in page  # the visitor's text, shown as typed


# A double click ------------------------------------------------------------------------------

def _at_once(sends) -> list[int]:
    """Call each of `sends` in its own thread, all released at the same moment."""
    barrier, statuses = threading.Barrier(len(sends)), []

    def run(send) -> None:
        barrier.wait()
        statuses.append(send())

    threads = [threading.Thread(target=run, args=(send,)) for send in sends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


@pytest.mark.parametrize(("page", "data", "model"), [
    ("/account/signup", {"email": "twice@example.org", "password": "a sturdy passphrase"}, User),
    ("/newsletter", {"email": "twice@example.org", "consent": "y"}, Subscriber),
])
def test_a_double_click_makes_one_record_and_no_error(app, database_url, page, data, model):
    db.session.commit()
    with serving(database_url, RATELIMIT_ENABLED=False) as base:
        def browser():  # its own cookies and token, like a second tab
            session = requests.Session()
            token = csrf_token_from(session.get(base + page, timeout=10).text)
            return lambda: session.post(base + page, data={**data, "csrf_token": token},
                                        allow_redirects=False, timeout=30).status_code

        statuses = _at_once([browser() for _ in range(4)])
    assert len(statuses) == 4 and all(status < 500 for status in statuses), statuses
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(model)) == 1
