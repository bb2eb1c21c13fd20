"""Small builders: each test creates exactly what it needs."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import count

from sqlalchemy import event, select

from membership.accounts.models import User
from membership.accounts.services import hash_password
from membership.campaigns.models import Campaign
from membership.campaigns.services import save_campaign
from membership.donations.charges import apply_charge_state
from membership.donations.checkout import GiftChoice, start_checkout
from membership.donations.donors import get_or_create_donor
from membership.donations.models import RecurringGift
from membership.donations.recording import Payment, record_one_time_payment
from membership.donations.recurring import record_recurring_payment
from membership.extensions import db
from membership.mail.models import OutboxMessage
from membership.mail.services import render_message
from membership.types import utcnow


def make_user(email: str, password: str, name: str = "", staff: bool = False,
              verified: bool = True) -> User:
    user = User(email=email, name=name, password_hash=hash_password(password), is_staff=staff,
                email_verified_at=utcnow() if verified else None)
    db.session.add(user)
    db.session.commit()
    return user


def outbox(recipient: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if recipient:
        query = query.where(OutboxMessage.recipient == recipient)
    return list(db.session.scalars(query))


def last_link(recipient: str) -> str:
    """The path of the last link mailed to `recipient`."""
    messages = outbox(recipient)
    assert messages, f"no mail to {recipient}"
    urls = re.findall(r"https?://[^\s\"<]+", render_message(messages[-1]).text_body)
    assert urls, "no link in the mail"
    return re.sub(r"^https?://[^/]+", "", urls[-1])


def make_campaign(slug: str = "20th-anniversary", **overrides) -> Campaign:
    """A campaign running now (from 30 days ago for 30 days more), committed."""
    now = utcnow()
    values = {
        "slug": slug, "title": "Twenty years", "appeal": "Mark the anniversary.",
        "story": "Our *story*.", "goal_type": "amount", "goal": 1_000_000,
        "currency": "usd", "starts_at": now - timedelta(days=30),
        "ends_at": now + timedelta(days=30), "featured": False, "suggested_amounts": [],
        "milestones": [], "sponsor_name": None, "match_sponsor_part": None,
        "match_gift_part": None, "match_cap_cents": None,
        **overrides,
    }
    campaign = save_campaign(values)
    db.session.commit()
    return campaign


_gifts = count(1)


def give(amount_cents: int, email: str = "donor@example.org", *,
         campaign: str | None = "20th-anniversary", at: datetime | None = None,
         currency: str = "usd", name: str = "Dana Donor", anonymous: bool = False,
         dedication: tuple[str, str] | None = None) -> Payment:
    """Record a paid one-time gift through the same service the webhook uses; returns
    the payment, whose ids refund and dispute it. Anonymous or dedicated gifts go
    through the gift form's checkout, which carries those choices."""
    serial = next(_gifts)
    checkout = None
    if anonymous or dedication:
        kind, person = dedication or (None, None)
        checkout = start_checkout(GiftChoice(
            email=email, name=name, amount_cents=amount_cents, currency=currency,
            frequency="once", campaign=campaign, anonymous=anonymous,
            dedication_kind=kind, dedication_name=person))
    payment = Payment(amount_cents=amount_cents, currency=currency, paid_at=at or utcnow(),
                      email=email, name=name, campaign=campaign,
                      gift_public_id=checkout.public_id if checkout else None,
                      payment_intent_id=f"pi_gift{serial}", charge_id=f"ch_gift{serial}")
    record_one_time_payment(payment)
    db.session.commit()
    return payment


def recurring(amount_cents: int, frequency: str, email: str, started: datetime, *,
              campaign: str | None = None, currency: str = "usd") -> RecurringGift:
    """A running recurring gift, as its first Stripe events leave it; `pay` records its
    payments."""
    serial = next(_gifts)
    gift = RecurringGift(stripe_subscription_id=f"sub_gift{serial}", amount_cents=amount_cents,
                         currency=currency, frequency=frequency, campaign=campaign,
                         status="active", started_at=started, created_at=started)
    db.session.add(gift)
    db.session.flush()
    gift.donor = get_or_create_donor(email)
    db.session.commit()
    return gift


def pay(gift: RecurringGift, at: datetime) -> Payment:
    """One paid invoice of a recurring gift."""
    serial = next(_gifts)
    payment = Payment(amount_cents=gift.amount_cents, currency=gift.currency, paid_at=at,
                      email=gift.donor.email, frequency=gift.frequency,
                      invoice_id=f"in_gift{serial}", payment_intent_id=f"pi_gift{serial}",
                      charge_id=f"ch_gift{serial}", billing_reason="subscription_cycle")
    record_recurring_payment(payment, gift, at)
    db.session.commit()
    return payment


def settle(payment: Payment, *, refunded: int | None = None, dispute: str | None = None,
           at: datetime | None = None) -> None:
    """Stripe reports a refund of `refunded` in total, or a dispute's new status."""
    apply_charge_state(payment.charge_id, payment.payment_intent_id, at or utcnow(),
                       amount_refunded=refunded, dispute_status=dispute)
    db.session.commit()


def refund_or_dispute(payments: list[Payment], step: tuple) -> None:
    """A property test's ("refund", index, fraction) or ("dispute", index, status) step,
    applied to one of the payments made so far."""
    if not payments:
        return
    kind, index, value = step
    payment = payments[index % len(payments)]
    if kind == "refund":
        settle(payment, refunded=int(payment.amount_cents * value))
    else:
        settle(payment, dispute=value)


@contextmanager
def refusing_statements(refuse: Callable[[str], bool],
                        message: str = "injected database failure") -> Iterator[None]:
    """Make the database raise on every statement for which `refuse(sql)` is true."""

    def check(conn, cursor, statement, parameters, context, executemany):
        if refuse(statement.lstrip().upper()):
            raise RuntimeError(message)

    event.listen(db.engine, "before_cursor_execute", check)
    try:
        yield
    finally:
        event.remove(db.engine, "before_cursor_execute", check)


def failing_inserts(table: str, times: int = 1):
    """The next `times` inserts into `table` fail."""
    left = [times]

    def refuse(sql: str) -> bool:
        if sql.startswith(f"INSERT INTO {table.upper()} ") and left[0]:
            left[0] -= 1
            return True
        return False

    return refusing_statements(refuse, f"injected failure writing {table}")


def flaky_database(fraction: float, seed: int):
    """About `fraction` of the statements that write fail."""
    chance = random.Random(seed)
    return refusing_statements(
        lambda sql: sql.startswith(("INSERT", "UPDATE")) and chance.random() < fraction)


def at(year: int, month: int = 6, day: int = 15) -> datetime:
    """Noon UTC of a day: a moment well inside its year, for histories built by hand."""
    return datetime(year, month, day, 12, tzinfo=UTC)


def new_year(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)
