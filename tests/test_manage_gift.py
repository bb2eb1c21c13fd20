"""A recurring gift's own page, reached from the mails about it: a guest donor fixes the
card, changes, pauses or cancels the gift without an account; the link expires and can be
disabled."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from membership.donations.models import RecurringGift
from membership.extensions import db
from tests.builders import last_link, outbox
from tests.conftest import Browserless

GUEST = {"email": "guest@example.org", "currency": "usd", "frequency": "monthly",
         "amount": "18"}


@pytest.fixture
def failed_gift(forms):
    """A guest's monthly gift whose first renewal failed (the sandbox plays it)."""
    response = forms.post("/donate", GUEST)
    forms.post(response.headers["Location"], {"action": "pay_then_fail"})
    db.session.rollback()
    return db.session.scalar(select(RecurringGift))


def gift(gift_id: int) -> RecurringGift:
    db.session.rollback()
    return db.session.get(RecurringGift, gift_id)


def test_the_failure_mail_leads_a_guest_to_fix_the_card(client, forms, failed_gift):
    assert failed_gift.status == "past_due"
    failure = [m for m in outbox("guest@example.org") if m.template == "donations/payment_failed"]
    assert len(failure) == 1
    link = last_link("guest@example.org")
    assert link.startswith("/giving/manage/")
    page = client.get(link)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "payment failed, retrying" in html and "guest@example.org" in html
    assert "Create an account" in html  # offered, not required
    # Each charge with its outcome, newest first: the failed renewal, the first payment.
    text = " ".join(html.split())
    assert text.index('$18 · <span class="error">failed (try 1)') < text.index("$18 · paid")

    portal = forms.post(f"{link}/card", page=link)
    assert portal.status_code == 303 and "/sandbox/update-card/" in portal.headers["Location"]
    back = forms.post(portal.headers["Location"], {"action": "update_card"},
                      page=portal.headers["Location"])
    assert back.headers["Location"] == link  # Stripe's portal returns to the gift's page
    assert gift(failed_gift.id).status == "active"


def test_the_link_pauses_changes_and_cancels_without_an_account(client, forms, failed_gift):
    link = last_link("guest@example.org")
    forms.post(f"{link}/pause", {"months": "1"}, page=link)
    assert gift(failed_gift.id).collection_paused
    forms.post(f"{link}/resume", page=link)
    assert not gift(failed_gift.id).collection_paused
    forms.post(f"{link}/amount", {"amount": "25"}, page=link)
    assert gift(failed_gift.id).amount_cents == 2500
    forms.post(f"{link}/cancel", {"reason": "Moving abroad", "when": "now"}, page=link)
    ended = gift(failed_gift.id)
    assert ended.status == "canceled" and ended.cancel_reason == "Moving abroad"


def test_a_disabled_an_altered_or_an_old_link_opens_nothing(app, client, forms, failed_gift):
    link = last_link("guest@example.org")
    assert client.get(link[:-3] + "abc").status_code == 404
    assert client.get(f"{link}x/").status_code == 404
    assert forms.post(f"{link}/explode", page=link).status_code == 404
    app.config["MANAGE_LINK_MAX_AGE"] = -1
    assert client.get(link).status_code == 404
    app.config["MANAGE_LINK_MAX_AGE"] = 3600
    forms.post(f"{link}/revoke", page=link)
    assert client.get(link).status_code == 404
    assert gift(failed_gift.id).manage_version == 1


def test_another_donor_cannot_use_a_gifts_link_to_reach_their_own(app, client, forms,
                                                                  failed_gift):
    other = Browserless(app.test_client())
    response = other.post("/donate", {**GUEST, "email": "other@example.org"})
    other.post(response.headers["Location"], {"action": "pay"})
    mine = last_link("guest@example.org")
    theirs = db.session.scalar(select(RecurringGift).where(RecurringGift.id != failed_gift.id))
    # The token names one gift: the page and its actions act on that gift only.
    forms.post(f"{mine}/pause", {"months": "2"}, page=mine)
    assert gift(failed_gift.id).collection_paused and not gift(theirs.id).collection_paused


def test_a_monthly_receipt_carries_the_gifts_link(forms):
    response = forms.post("/donate", GUEST)
    forms.post(response.headers["Location"], {"action": "pay"})
    [thanks] = [m for m in outbox("guest@example.org") if m.template == "donations/thank_you"]
    assert thanks.context["manage_link"].split("/giving/manage/", 1)[1]


def test_a_deleted_account_or_an_ended_gift_takes_no_changes_from_old_links(
        app, client, forms, failed_gift):
    """Found in review: after the donor deleted their account, the links in their old
    mails still opened the gift and its card page."""
    link = last_link("guest@example.org")
    forms.post(f"{link}/cancel", {"reason": "", "when": "now"}, page=link)
    assert gift(failed_gift.id).status == "canceled"
    for action, data in (("pause", {"months": "1"}), ("amount", {"amount": "30"}),
                         ("keep", {})):
        forms.post(f"{link}/{action}", data, page=link)
    ended = gift(failed_gift.id)
    assert not ended.collection_paused and ended.amount_cents == 1800

    forms.post("/account/signup", {"email": "guest@example.org",
                                   "password": "a sturdy passphrase"})
    client.get(last_link("guest@example.org"))  # confirms the address: the gifts join it
    forms.post("/account/delete", {"password": "a sturdy passphrase", "confirm": "y"},
               page="/account")
    assert client.get(link).status_code == 404


def test_taking_a_cancellation_back_forgets_its_reason(forms, failed_gift):
    link = last_link("guest@example.org")
    forms.post(f"{link}/cancel", {"reason": "Too expensive"}, page=link)
    assert gift(failed_gift.id).cancel_reason == "Too expensive"
    forms.post(f"{link}/keep", page=link)
    kept = gift(failed_gift.id)
    assert kept.cancel_reason is None and not kept.cancel_at_period_end
