"""Synthetic gifts for demos, reports and benchmarks (`flask seed-demo --donations N`).

Deterministic (seeded), spread over donors, campaigns, frequencies, currencies and the
last three years, with a few refunds, disputes and failed renewals, and written in bulk so
a million rows take minutes, not hours. Re-running tops up to N; it never duplicates."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select

from membership.donations.models import (
    CancelFeedback,
    CancellationReason,
    Donation,
    DonationStatus,
    Donor,
    Frequency,
    PaymentFailure,
    RecurringGift,
    SubscriptionStatus,
)
from membership.donations.money import to_major, to_minor
from membership.extensions import db
from membership.sql import insert_or_ignore
from membership.types import utcnow

DEMO_DOMAIN = "donors.example.net"
CAMPAIGNS = ("20th-anniversary", "new-year-appeal")
BATCH = 5000
ONE_TIME_AMOUNTS = (1000, 1800, 2500, 3600, 5000, 10000, 18000, 25000, 50000, 100000)
MONTHLY_AMOUNTS = (500, 1000, 1800, 2500, 3600, 5000)
YEARLY_AMOUNTS = (5000, 12000, 18000, 25000, 50000)
GIFT_COLUMNS = (RecurringGift.id, RecurringGift.donor_id, RecurringGift.amount_cents,
                RecurringGift.currency, RecurringGift.frequency, RecurringGift.campaign,
                RecurringGift.started_at, RecurringGift.ended_at)


def demo_donation_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Donation).where(
        Donation.stripe_payment_intent_id.like("pi_demo_%")))


def seed_demo_donations(target: int, currencies: list[str], seed: int = 20) -> int:
    """Add synthetic donations until there are `target` of them. Returns how many it added.
    Commits in batches (it is a bulk loader, not a request's unit of work)."""
    existing = demo_donation_count()
    if existing >= target:
        return 0
    # Repeatable demo data, not secrets: a seeded generator on purpose.
    rng = random.Random(seed + existing)  # noqa: S311  # nosec B311
    now = utcnow().replace(microsecond=0)
    donor_ids = _demo_donors(max(50, target // 8), now)
    gifts = _recurring_gifts(rng, donor_ids, currencies, now, existing)
    rows: list[dict] = []
    added = 0
    serial = existing
    while existing + added < target:
        serial += 1
        if gifts and rng.random() < 0.35:
            row = _renewal(rng, rng.choice(gifts), serial, now)
        else:
            row = _one_time(rng, rng.choice(donor_ids), currencies, serial, now)
        rows.append(row)
        added += 1
        if len(rows) == BATCH:
            _flush_rows(rows)
    _flush_rows(rows)
    _failed_renewals(rng, gifts, now)
    db.session.commit()
    return added


def _demo_donors(count: int, now: datetime) -> list[int]:
    present = db.session.scalar(select(func.count()).select_from(Donor).where(
        Donor.email.like(f"%@{DEMO_DOMAIN}")))
    new = [{"email": f"donor{n:06d}@{DEMO_DOMAIN}", "name": _demo_name(n),
            "created_at": now - timedelta(days=3 * 365)} for n in range(present, count)]
    for start in range(0, len(new), BATCH):
        db.session.execute(insert(Donor), new[start:start + BATCH])
    db.session.commit()
    return list(db.session.scalars(
        select(Donor.id).where(Donor.email.like(f"%@{DEMO_DOMAIN}")).order_by(Donor.id)))


FIRST_NAMES = ("Amina", "Omar", "Noa", "Farid", "Layla", "Yusuf", "Sara", "Bilal", "Maya",
               "Hamid", "Rania", "David", "Zainab", "Karim", "Tamar", "Imran", "Hana",
               "Samir", "Nadia", "Ali", "Ruth", "Mariam", "Tariq", "Leila")
LAST_NAMES = ("Rahimi", "Haddad", "Levi", "Qureshi", "Nasser", "Karimi", "Cohen", "Ahmadi",
              "Khalil", "Shapiro", "Baloch", "Mansour", "Hussaini", "Farouk", "Stein")


def _demo_name(n: int) -> str:
    return f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {LAST_NAMES[(n // 7) % len(LAST_NAMES)]}"


def _recurring_gifts(rng: random.Random, donor_ids: list[int], currencies: list[str],
                     now: datetime, existing: int) -> list[dict]:
    """About one donor in five gives every month or year."""
    present = set(db.session.scalars(select(RecurringGift.donor_id).where(
        RecurringGift.stripe_subscription_id.like("sub_demo_%"))))
    new = []
    for donor_id in donor_ids[::5]:
        if donor_id in present:
            continue
        frequency = Frequency.MONTHLY if rng.random() < 0.8 else Frequency.YEARLY
        started = now - timedelta(days=rng.randint(30, 3 * 365))
        ended = rng.random() < 0.25
        new.append({
            "donor_id": donor_id, "stripe_subscription_id": f"sub_demo_{donor_id}",
            "amount_cents": rng.choice(MONTHLY_AMOUNTS if frequency == Frequency.MONTHLY
                                       else YEARLY_AMOUNTS),
            "fee_cents": 0, "currency": currencies[0], "frequency": frequency,
            "campaign": rng.choice((None, None, CAMPAIGNS[0])), "anonymous": False,
            "status": SubscriptionStatus.CANCELED if ended else SubscriptionStatus.ACTIVE,
            "cancel_at_period_end": False,
            "started_at": started, "created_at": started,
            "ended_at": started + (now - started) * rng.random() if ended else None,
            "current_period_end": None if ended else now + timedelta(days=rng.randint(1, 30)),
            # Most ended gifts were cancelled by the donor; the rest Stripe gave up on.
            "ended_because": (None if not ended else CancellationReason.PAYMENT_FAILED
                              if rng.random() < 0.3 else CancellationReason.CANCELLATION_REQUESTED),
            # The reason a cancelling donor picked (some pick none).
            "cancel_feedback": rng.choice((None, *CancelFeedback)) if ended else None,
            **_demo_card(rng, donor_id, now),
        })
    if new:
        db.session.execute(insert(RecurringGift), new)
        db.session.commit()
    return [dict(row._mapping) for row in db.session.execute(
        select(*GIFT_COLUMNS).where(RecurringGift.stripe_subscription_id.like("sub_demo_%")))]


def _demo_card(rng: random.Random, donor_id: int, now: datetime) -> dict:
    """A card for the gift; about one in twenty expires this month or the next (the
    reminders' demo)."""
    months_left = rng.randint(0, 1) if rng.random() < 0.05 else rng.randint(2, 60)
    year, month = divmod(now.year * 12 + now.month - 1 + months_left, 12)
    return {"stripe_payment_method_id": f"pm_demo_{donor_id}",
            "card_brand": rng.choice(("visa", "visa", "mastercard", "amex")),
            "card_last4": f"{rng.randint(0, 9999):04d}", "card_exp_month": month + 1,
            "card_exp_year": year, "card_as_of": now}


def _when(rng: random.Random, start: datetime, now: datetime) -> datetime:
    return start + timedelta(seconds=rng.randint(0, max(int((now - start).total_seconds()), 1)))


def _settle(rng: random.Random, row: dict) -> dict:
    """A few gifts are refunded (in part or whole) or disputed."""
    roll = rng.random()
    if roll < 0.01:
        row.update(refunded_cents=row["amount_cents"], status=DonationStatus.REFUNDED)
    elif roll < 0.02:
        row.update(refunded_cents=row["amount_cents"] // 2,
                   status=DonationStatus.PARTIALLY_REFUNDED)
    elif roll < 0.025:
        row.update(dispute_status="lost", status=DonationStatus.REVERSED)
    return row


def _one_time(rng: random.Random, donor_id: int, currencies: list[str], serial: int,
              now: datetime) -> dict:
    currency = currencies[1] if len(currencies) > 1 and rng.random() < 0.05 else currencies[0]
    created = _when(rng, now - timedelta(days=3 * 365), now)
    campaign = None
    if created > now - timedelta(days=60) and rng.random() < 0.5:
        campaign = CAMPAIGNS[0]
    elif rng.random() < 0.1:
        campaign = CAMPAIGNS[1]
    amount = rng.choice(ONE_TIME_AMOUNTS)
    fee = (amount * 3 + 30) // 100 if rng.random() < 0.3 else 0
    return _settle(rng, _row(donor_id, None, amount + fee, fee, currency, Frequency.ONCE,
                             campaign, created, serial, None, currencies[0], now))


def _renewal(rng: random.Random, gift: dict, serial: int, now: datetime) -> dict:
    created = _when(rng, gift["started_at"], gift["ended_at"] or now)
    return _settle(rng, _row(gift["donor_id"], gift["id"], gift["amount_cents"], 0,
                             gift["currency"], gift["frequency"], gift["campaign"], created,
                             serial, "subscription_cycle", gift["currency"], now))


# Demo gifts settle in the first currency (another one at this rate) less Stripe's card
# fee, two days after they were given, as Stripe pays them out.
DEMO_RATE, SETTLES_AFTER = Decimal("1.08"), timedelta(days=2)


def _row(donor_id: int, gift_id: int | None, amount: int, fee: int, currency: str,
         frequency: str, campaign: str | None, created: datetime, serial: int,
         billing_reason: str | None, settlement: str, now: datetime) -> dict:
    settled = None
    if created < now - SETTLES_AFTER:
        settled = amount if currency == settlement else to_minor(
            to_major(amount, currency) * DEMO_RATE, settlement)
    return {
        "settled_currency": settlement if settled is not None else None,
        "settled_amount_cents": settled,
        "settled_fee_cents": None if settled is None else (settled * 29 + 500) // 1000 + 30,
        "donor_id": donor_id, "recurring_gift_id": gift_id, "amount_cents": amount,
        "fee_cents": fee, "currency": currency, "frequency": frequency, "campaign": campaign,
        "anonymous": serial % 9 == 0, "status": DonationStatus.SUCCEEDED, "refunded_cents": 0,
        "dispute_status": None, "billing_reason": billing_reason, "created_at": created,
        "stripe_payment_intent_id": f"pi_demo_{serial}",
        "stripe_invoice_id": f"in_demo_{serial}" if gift_id else None,
    }


def _flush_rows(rows: list[dict]) -> None:
    if rows:
        db.session.execute(insert(Donation), rows)
        db.session.commit()
        rows.clear()


def _failed_renewals(rng: random.Random, gifts: list[dict], now: datetime) -> None:
    """One recurring gift in ten had a declined renewal."""
    for gift in gifts[::10]:
        insert_or_ignore(PaymentFailure, {
            "recurring_gift_id": gift["id"], "attempt_count": 1,
            "stripe_invoice_id": f"in_demo_failed_{gift['id']}",
            "amount_cents": gift["amount_cents"], "currency": gift["currency"],
            "created_at": _when(rng, gift["started_at"], gift["ended_at"] or now),
        })
