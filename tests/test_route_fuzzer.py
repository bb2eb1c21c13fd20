"""The route fuzzer (issue 12): every route in the URL map, every method it answers, as a
visitor, a reader and staff, with hostile path values, query strings and form bodies.

Whatever is sent, the answer is never a 5xx, and another reader's account, gifts,
subscription and follows stay exactly as they were. Each hostile value goes to every route at
once; `FUZZ_EXAMPLES` sets how many random values each role sends on top of the fixed ones
(default 10), so that `make test` stays quick on both databases."""

from __future__ import annotations

import os
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from wtforms import Form
from wtforms.fields.core import UnboundField

from membership.accounts.models import User
from membership.donations.models import Donation, Donor, RecurringGift
from membership.extensions import db
from membership.newsletter.models import Subscriber, SubscriberStatus
from membership.newsletter.services import subscribe
from membership.topics.models import Topic, TopicFollow
from membership.topics.services import follow, seed_topics
from tests.builders import give, make_campaign, make_user, recurring
from tests.conftest import Browserless

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
VICTIM = "victim@example.org"

HOSTILE = [
    "", " ", "1", "0", "-1", "2147483648", "9" * 30, "1e309", "NaN", "-inf", "0x10",
    "a\x00b", "\x00", "\u202egnp.exe", "\u202bשלום\u202c abc", "غزة \u200f123\u200e", "🇵🇸🇮🇱",
    "x" * 5000, "é" * 400, "²", "٣٦٫٥", "３６", "\r\nSet-Cookie: x=y", "<script>alert(1)</script>",
    "' OR 1=1 --", "../../etc/passwd", "%00", "%", "=cmd|' /C calc'!A0", "true", "[]", "{}",
    "9999-12-31", "0001-01-01", "10000-01-01", "2026-02-30", "2026-W01-1", "20260101",
    "2026-13-01T25:61", "9999-12-31T23:59", "once", "monthly", "usd", "jpy", "kwd", "y",
    "honor", "20th-anniversary", "gaza", "https://evil.example/", "//evil.example", VICTIM,
    "reader@example.org",
]
# Hostile text, often grafted onto a value that passes a field's own rules, so that it
# reaches the queries behind the form and not only its first check.
PLAUSIBLE = ["reader@example.org", "36", "2026-01-01", "gaza", "monthly", "Rana", "1"]
GRAFTS = ["\x00", "\u202e", "9" * 30, "x" * 400, "'", "\r\n", "²", "\ud7ff"]
values = st.one_of(
    st.sampled_from(HOSTILE),
    st.builds(lambda base, graft: base + graft, st.sampled_from(PLAUSIBLE),
              st.sampled_from(GRAFTS)),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)

# A valid request for each route that takes one: the fuzzer changes a few of its values.
CAMPAIGN = {"slug": "fuzzed", "title": "Fuzzed", "appeal": "Give.", "goal_type": "amount",
            "goal": "50000", "currency": "usd", "starts_at": "2099-01-01T00:00",
            "ends_at": "2099-02-01T00:00", "milestones": "100: A hundred"}
BASELINES = {
    "/account/signup": {"email": "new.reader@example.org", "password": "a sturdy passphrase",
                        "name": "New"},
    "/account/login": {"email": "reader@example.org", "password": "a sturdy passphrase"},
    "/account/forgot-password": {"email": "reader@example.org"},
    "/account/profile": {"name": "Rana"},
    "/account/email": {"email": "other@example.org", "password": "a sturdy passphrase"},
    "/account/password": {"current_password": "a sturdy passphrase",
                          "password": "a new sturdy passphrase"},
    "/newsletter": {"email": "subscriber@example.org", "consent": "y"},
    "/donate": {"amount": "36", "frequency": "once", "email": "giver@example.org",
                "currency": "usd", "campaign": "20th-anniversary", "name": "Giver",
                "dedication_kind": "honor", "dedication": "Someone", "cover_fees": "y"},
    "/admin/campaigns/new": CAMPAIGN,
    "/admin/campaigns/<int:campaign_id>/edit": CAMPAIGN,
    "/admin/topics": {"slug": "fuzzed", "name": "Fuzzed", "kind": "region"},
    "/admin/topics/<int:topic_id>/edit": {"name": "Renamed"},
    "/admin/donors": {"q": "victim"},
    "/admin/donations": {"start": "2026-01-01", "end": "2026-12-31", "campaign": "20th-anniversary",
                         "frequency": "once", "status": "succeeded"},
    "/admin/events": {"type": "invoice.paid", "status": "processed", "day": "2026-01-01"},
    "/admin/": {"start": "2026-01-01", "end": "2026-12-31", "campaign": "20th-anniversary"},
    "/admin/reports/summary.json": {"start": "2026-01-01", "end": "2026-12-31"},
    "/admin/reports/donations.csv": {"start": "2026-01-01", "end": "2026-12-31"},
    "/account/giving/recurring/<int:gift_id>/amount": {"amount": "20"},
    "/account/giving/recurring/<int:gift_id>/cancel": {"reason": "Too much"},
}


def _form_field_names() -> list[str]:
    """Every field name of every form the app defines."""
    names, pending = set(), list(Form.__subclasses__())
    while pending:
        form = pending.pop()
        pending.extend(form.__subclasses__())
        names.update(name for name in dir(form)
                     if isinstance(getattr(form, name, None), UnboundField))
    return sorted(names)


QUERY_NAMES = ["page", "start", "end", "preset", "campaign", "amount", "frequency",
               "currency", "next", "year", "type", "status", "day", "gift", "welcome", "q"]


def _routes(app) -> list[tuple[str, str]]:
    return sorted((rule.rule, method) for rule in app.url_map.iter_rules()
                  for method in rule.methods - {"HEAD", "OPTIONS"})


def _path(rule: str, value: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?[^>]+>", lambda _: quote(value, safe=""), rule)


def _victim() -> None:
    """Another reader: verified, with a gift, a monthly gift, a subscription and follows."""
    seed_topics()
    make_campaign()
    user = make_user(VICTIM, "the victim's passphrase", name="Victim", verified=True)
    give(5000, VICTIM, dedication=("honor", "Grandmother"))
    recurring(1800, "monthly", VICTIM, started=user.created_at)
    subscribe(VICTIM, "203.0.113.9")
    victim = db.session.scalar(select(Subscriber).where(Subscriber.email == VICTIM))
    victim.status = SubscriberStatus.CONFIRMED
    follow(user, db.session.scalar(select(Topic).where(Topic.slug == "gaza")))
    db.session.commit()


def _victim_state() -> tuple:
    db.session.rollback()
    user = db.session.scalar(select(User).where(User.email == VICTIM))
    donor = db.session.scalar(select(Donor).where(Donor.email == VICTIM))
    return (
        user and (user.id, user.name, user.password_hash, user.session_token, user.is_staff,
                  user.email_verified_at),
        donor and (donor.id, donor.name, donor.user_id),
        [(d.id, d.amount_cents, d.refunded_cents, d.status, d.dedication_name)
         for d in db.session.scalars(select(Donation).order_by(Donation.id))],
        [(g.id, g.status, g.amount_cents, g.cancel_reason)
         for g in db.session.scalars(select(RecurringGift).order_by(RecurringGift.id))],
        db.session.scalar(select(Subscriber.status).where(Subscriber.email == VICTIM)),
        sorted(db.session.scalars(select(TopicFollow.topic_id).where(
            TopicFollow.user_id == (user.id if user else None)))),
    )


@pytest.fixture
def app_overrides():
    return {"RATELIMIT_ENABLED": False}


@pytest.fixture(params=["visitor", "reader", "staff"])
def role(request, app, client):
    _victim()
    forms = Browserless(client)
    if request.param == "reader":
        make_user("reader@example.org", "a sturdy passphrase", verified=True)
        forms.login("reader@example.org", "a sturdy passphrase")
    elif request.param == "staff":
        make_user("editor@example.org", "another sturdy passphrase", staff=True)
        forms.login("editor@example.org", "another sturdy passphrase")
    return forms


def _send(client, rule: str, method: str, value: str, fields: list[str], token: str | None):
    """One request: `value` in every path argument and in `fields` of the route's valid
    request (its baseline), as the query of a GET or the form of a POST."""
    sent = {**BASELINES.get(rule, {}), **dict.fromkeys(fields, value)}
    url = _path(rule, value)
    if method == "GET":
        return client.get(url + ("?" + urlencode(sent) if sent else "")), sent
    if token:
        sent["csrf_token"] = token
    return client.open(url, method=method, data=sent), sent


# Every class of hostile value runs every time; Hypothesis adds its own mixes on top.
ALWAYS = ["a\x00b", "9" * 30, "2147483648", "9999-12-31", "0001-01-01", "x" * 5000,
          "\u202egnp.exe \u202bשלום", "²"]


def test_no_route_answers_hostile_input_with_a_5xx_or_touches_another_reader(app, role):
    routes, fields = _routes(app), sorted(set(_form_field_names() + QUERY_NAMES))
    before = _victim_state()
    token = role.token("/donate")

    def every_route(value: str, chosen: list[str], with_token: bool) -> None:
        for rule, method in routes:
            names = [name for name in chosen if name in BASELINES.get(rule, {})] or chosen
            response, sent = _send(role.client, rule, method, value, names,
                                   token if with_token else None)
            assert response.status_code < 500, (method, rule, sent, response.status_code)
            assert _victim_state() == before, (method, rule, sent)

    for value in ALWAYS:
        for chosen in (["email", "name", "amount", "goal", "q", "start"], ["slug", "password",
                       "campaign", "milestones", "end", "reason", "match_cap", "day"]):
            every_route(value, chosen, with_token=True)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(value=values, chosen=st.lists(st.sampled_from(fields), min_size=1, max_size=4),
           with_token=st.integers(0, 5).map(bool))
    def random_mix(value, chosen, with_token):
        every_route(value, chosen, with_token)

    random_mix()
