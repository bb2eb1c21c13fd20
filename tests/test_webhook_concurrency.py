"""The same events posted by several threads at once through a real threaded server:
exactly one effect each (run on PostgreSQL by CI, and on SQLite)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest
from sqlalchemy import func, select

from membership.donations.models import Donation, Donor, PaymentFailure, RecurringGift
from membership.extensions import db
from membership.mail.models import OutboxMessage
from membership.payments.models import StripeEvent
from tests import stripe_payloads as sp
from tests.conftest import serving

THREADS = 8


@pytest.fixture
def app_overrides(stripe_settings):
    return stripe_settings


def post(url: str, body: bytes, signature: str) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Stripe-Signature": signature})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def deliver_at_once(base_url: str, bodies: list[str], secret: str) -> Counter[int]:
    """Post every body from a thread of its own, all released at the same moment; the
    answers' statuses, counted."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(len(bodies))

    def deliver(body):
        barrier.wait()
        status = post(f"{base_url}/stripe/webhook", body.encode(), sp.sign(body, secret))
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=deliver, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def test_concurrent_duplicate_deliveries_have_exactly_one_effect(app, database_url,
                                                                 stripe_settings, fake_stripe):
    secret = app.config["STRIPE_WEBHOOK_SECRET"]
    customer, sub_id = sp.fresh_id("cus"), sp.fresh_id("sub")
    fake_stripe.customers[customer] = "monthly@example.org"
    events = [sp.event("checkout.session.completed",
                       sp.checkout_session(amount=1000 + n, email=f"donor{n % 3}@example.org"))
              for n in range(6)]
    renewal_failure = sp.invoice(subscription_id=sub_id, customer=customer, paid=False,
                                 email="monthly@example.org")
    events += [
        sp.event("customer.subscription.created", sp.subscription(sub_id, customer=customer)),
        sp.event("invoice.paid", sp.invoice(subscription_id=sub_id, customer=customer,
                                            email="monthly@example.org",
                                            billing_reason="subscription_create")),
        # The renewal fails a period later, not in the same second as the first payment.
        sp.event("invoice.payment_failed", renewal_failure, int(time.time()) + 60),
    ]
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    with serving(database_url, RATELIMIT_ENABLED=False, **stripe_settings) as base_url:
        for evt in events:
            body = json.dumps(evt).encode()
            signature = sp.sign(body.decode(), secret)
            barrier = threading.Barrier(THREADS)

            def deliver(body=body, signature=signature, barrier=barrier):
                barrier.wait()
                status = post(f"{base_url}/stripe/webhook", body, signature)
                with lock:
                    statuses[status] += 1

            threads = [threading.Thread(target=deliver) for _ in range(THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)

    assert statuses == {200: THREADS * len(events)}
    db.session.rollback()

    def count(model):
        return db.session.scalar(select(func.count()).select_from(model))

    assert count(StripeEvent) == len(events)
    assert count(Donation) == 7
    assert count(RecurringGift) == 1
    assert count(PaymentFailure) == 1
    assert count(Donor) == 4
    templates = Counter(db.session.scalars(select(OutboxMessage.template)))
    assert templates == {"donations/thank_you": 7, "donations/payment_failed": 1}
    assert set(db.session.scalars(select(StripeEvent.status))) == {"processed"}


def test_concurrent_gifts_keep_every_running_total_exact(app, database_url, stripe_settings):
    """Different gifts to one campaign, several by the same donors, all at once: the
    campaign's, the day's and each donor's kept figures equal a recount."""
    from membership.campaigns.services import recounted_totals
    from membership.reports.kept import daily_totals_from_donations
    from membership.reports.models import DailyTotal, DonorGap
    from tests.builders import make_campaign

    campaign = make_campaign("20th-anniversary")
    secret = app.config["STRIPE_WEBHOOK_SECRET"]
    bodies = [json.dumps(sp.event("checkout.session.completed", sp.checkout_session(
        amount=1000 + n, email=f"donor{n % 3}@example.org",
        metadata={**sp.DONATION, "campaign": "20th-anniversary"}))) for n in range(12)]
    with serving(database_url, RATELIMIT_ENABLED=False, **stripe_settings) as base_url:
        statuses = deliver_at_once(base_url, bodies, secret)
    assert statuses == {200: len(bodies)}
    db.session.rollback()
    db.session.refresh(campaign)
    kept = (campaign.raised_cents, campaign.donations, campaign.donors)
    assert kept == recounted_totals(campaign) == (12_000 + sum(range(12)), 12, 3)
    rows = {(r.day, r.currency, r.frequency, r.campaign): (r.donations, r.gross_cents,
                                                           r.net_cents)
            for r in db.session.scalars(select(DailyTotal))}
    assert rows == {tuple(r[:4]): tuple(r[4:])
                    for r in db.session.execute(daily_totals_from_donations())}
    assert db.session.scalar(select(func.count()).select_from(DonorGap)) == 0
    assert all(donor.first_donation_at and donor.last_donation_at
               for donor in db.session.scalars(select(Donor)))


def test_one_donors_refunds_and_gifts_at_once_keep_retention_exact(app, database_url,
                                                                  stripe_settings):
    """Refunds of one donor's gifts in two years and two currencies, and new gifts of
    theirs, all at the same moment: every delivery answers 200 (no deadlock), and the
    donor-years, the years' retention counts and the donor's first year equal a recount
    (each change to a donor's kept rows waits for the one before)."""
    from datetime import UTC, datetime

    from membership.reports.kept import (
        donor_years_from_donations,
        retention_years_from_donor_years,
    )
    from membership.reports.models import DonorYear, RetentionYear
    from tests.builders import give

    secret = app.config["STRIPE_WEBHOOK_SECRET"]
    email = "often@example.org"
    for round_ in range(3):
        gifts = [give(1000, email, campaign=None, at=datetime(2023 + n % 2, 6, 1, tzinfo=UTC),
                      currency=("usd", "eur")[n // 2]) for n in range(4)]
        bodies = [json.dumps(sp.event("charge.refunded", sp.charge(
            payment_intent=gift.payment_intent_id, amount=1000, amount_refunded=1000,
            charge_id=gift.charge_id))) for gift in gifts]
        bodies += [json.dumps(sp.event("checkout.session.completed", sp.checkout_session(
            amount=500 + n, email=email))) for n in range(2)]
        with serving(database_url, RATELIMIT_ENABLED=False, **stripe_settings) as base_url:
            statuses = deliver_at_once(base_url, bodies, secret)
        assert statuses == {200: len(bodies)}, round_
        db.session.rollback()
        years = {(r.donor_id, r.year, r.currency): (r.gifts, r.net_cents)
                 for r in db.session.scalars(select(DonorYear))}
        assert years == {tuple(r[:3]): tuple(r[3:])
                         for r in db.session.execute(donor_years_from_donations())}
        counts = {r.year: (r.donors, r.retained, r.new_donors)
                  for r in db.session.scalars(select(RetentionYear)) if r.donors}
        assert counts == {r[0]: tuple(r[1:])
                          for r in db.session.execute(retention_years_from_donor_years())}
        donor = db.session.scalar(select(Donor).where(Donor.email == email))
        assert donor.first_counted_year == min(year for _, year, _ in years)
