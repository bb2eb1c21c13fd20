"""One signing scheme for every link (membership/tokens.py), and the links mailed before
it that must go on working."""

from __future__ import annotations

import pytest
from itsdangerous import Signer, URLSafeSerializer

from membership import tokens
from membership.donations.giving import RECEIPT_LINK, donation_for_receipt_token
from membership.newsletter.services import SUBSCRIBER_LINK, subscribe, subscriber_for_link
from tests.builders import give


def test_a_token_reads_back_only_for_its_own_purpose(app):
    token = tokens.make("accounts.verify", {"user": 7})
    assert tokens.read("accounts.verify", token, max_age=60) == {"user": 7}
    with pytest.raises(tokens.BadToken):
        tokens.read("accounts.reset", token, max_age=60)
    with pytest.raises(tokens.BadToken):
        tokens.read("accounts.verify", token[:-2] + "xx", max_age=60)


def test_an_old_token_is_expired_not_merely_bad(app):
    token = tokens.make("accounts.verify", {"user": 7})
    with pytest.raises(tokens.ExpiredToken):
        tokens.read("accounts.verify", token, max_age=-1)


def test_receipt_and_unsubscribe_links_mailed_before_the_one_scheme_still_work(app):
    """Receipts were URLSafeSerializer tokens and subscriber links plain Signer ones; the
    mails that carry them never expire."""
    from membership.donations.models import Donation
    from membership.extensions import db

    give(3600)
    donation = db.session.query(Donation).one()
    key = app.config["SECRET_KEY"]
    old_receipt = URLSafeSerializer(key, salt=RECEIPT_LINK).dumps(donation.id)
    assert donation_for_receipt_token(old_receipt) == donation
    subscriber = subscribe("reader@example.org", "203.0.113.7")
    db.session.commit()
    old_link = Signer(key, salt=SUBSCRIBER_LINK).sign(subscriber.public_id).decode()
    assert subscriber_for_link(old_link) == subscriber
    # Not for another purpose, and not forged.
    assert donation_for_receipt_token(
        URLSafeSerializer(key, salt="accounts.verify").dumps(donation.id)) is None
    assert donation_for_receipt_token(
        URLSafeSerializer("another key", salt=RECEIPT_LINK).dumps(donation.id)) is None
