from __future__ import annotations

import pytest
from sqlalchemy import select

from membership.accounts.models import User
from membership.admin.models import AuditEntry
from membership.extensions import db
from membership.mail.models import OutboxMessage
from membership.mail.services import queue_mail, render_message
from tests import stripe_payloads as sp
from tests.builders import failing_inserts


def admin_routes(app) -> list[tuple[str, str]]:
    """Every (method, URL) under /admin, built with 1 for each argument."""
    adapter = app.url_map.bind("membership.test")
    routes = [
        (method, adapter.build(rule.endpoint, dict.fromkeys(rule.arguments, 1)))
        for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]
    assert len(routes) >= 6, "the admin routes were not found"
    return routes


def visit(forms, method: str, url: str):
    if method == "GET":
        return forms.client.get(url)
    # A valid CSRF token, so that only the access rule can refuse the request.
    return forms.post(url, page="/donate")


def test_every_admin_route_sends_anonymous_visitors_to_log_in(app, forms):
    for method, url in admin_routes(app):
        response = visit(forms, method, url)
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/account/login?next="), url


def test_every_admin_route_refuses_readers_who_are_not_staff(app, forms, reader):
    forms.login("reader@example.org", "a sturdy passphrase")
    for method, url in admin_routes(app):
        assert visit(forms, method, url).status_code == 403, (method, url)


def test_staff_see_the_admin_home(client, forms, staff):
    forms.login("editor@example.org", "another sturdy passphrase")
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "Admin" in response.get_data(as_text=True)


def test_staff_read_the_outbox(client, forms, staff):
    message_id = queue_mail("someone@example.org", "accounts/email_changed", "Changed address",
                            new_email="someone@example.org")
    db.session.commit()
    forms.login("editor@example.org", "another sturdy passphrase")
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert "someone@example.org" in page and "Changed address" in page
    message_page = client.get(f"/admin/outbox/{message_id}").get_data(as_text=True)
    assert "address of your Meridian News Agency account was changed to" in message_page
    assert client.get("/admin/outbox/999999").status_code == 404


@pytest.mark.parametrize("sent", [False, True])
def test_staff_see_that_a_link_was_sent_never_the_link(client, forms, staff, sent):
    reset_link = "http://membership.test/account/reset/secret-reset-token"
    message_id = queue_mail("someone@example.org", "accounts/reset_password", "Reset",
                            link=reset_link, minutes=60)
    if sent:  # once sent, the stored body holds the working link
        render_message(db.session.get(OutboxMessage, message_id))
    db.session.commit()
    forms.login("editor@example.org", "another sturdy passphrase")
    page = client.get(f"/admin/outbox/{message_id}").get_data(as_text=True)
    assert "secret-reset-token" not in page
    assert "link sent to the recipient, hidden" in page
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "outbox.view"))
    assert entry.target == f"message {message_id}"
    assert entry.actor_email == "editor@example.org"


def test_create_staff_command_creates_a_verified_staff_account(app):
    result = app.test_cli_runner().invoke(
        args=["create-staff", "Boss@Example.org", "--password", "a long staff passphrase"])
    assert result.exit_code == 0, result.output
    user = db.session.query(User).filter_by(email="boss@example.org").one()
    assert user.is_staff and user.is_verified


def test_create_staff_command_promotes_an_existing_account(app, reader):
    result = app.test_cli_runner().invoke(
        args=["create-staff", "reader@example.org", "--password", "a long staff passphrase"])
    assert result.exit_code == 0, result.output
    assert "Updated" in result.output
    db.session.expire_all()
    assert db.session.get(User, reader.id).is_staff


def test_create_staff_command_refuses_a_weak_password(app):
    result = app.test_cli_runner().invoke(args=["create-staff", "a@example.org",
                                                "--password", "password"])
    assert result.exit_code != 0
    assert db.session.query(User).count() == 0


def test_seed_demo_is_idempotent_and_prints_the_staff_login(app):
    for _ in range(2):
        result = app.test_cli_runner().invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
    assert "staff@example.org" in result.output
    assert db.session.query(User).filter_by(is_staff=True).count() == 1


# Stripe's event log ------------------------------------------------------------------------------

@pytest.fixture
def failed_event(app, client):
    """A donation event whose first delivery failed inside the database."""
    evt = sp.event("checkout.session.completed", sp.checkout_session(amount=4200))
    with failing_inserts("donations"):
        assert sp.post_event(client, app, evt).status_code == 500
    other = sp.event("customer.created", {"id": "cus_1"})
    sp.post_event(client, app, other)
    evt["other_id"] = other["id"]
    return evt


def test_staff_filter_the_event_log(client, forms, staff, failed_event):
    forms.login("editor@example.org", "another sturdy passphrase")
    page = client.get("/admin/events").get_data(as_text=True)
    assert failed_event["id"] in page and failed_event["other_id"] in page
    page = client.get("/admin/events?status=failed").get_data(as_text=True)
    assert failed_event["id"] in page and failed_event["other_id"] not in page
    page = client.get("/admin/events?type=customer.created").get_data(as_text=True)
    assert failed_event["id"] not in page
    today = failed_event["created"]
    from datetime import UTC, datetime

    day = datetime.fromtimestamp(today, UTC).date()
    assert failed_event["id"] in client.get(f"/admin/events?day={day}").get_data(as_text=True)
    assert "No events match" in client.get("/admin/events?day=2001-01-01").get_data(
        as_text=True)


def test_staff_see_the_payload_and_error_and_replay_a_failed_event(client, forms, staff,
                                                                   failed_event):
    forms.login("editor@example.org", "another sturdy passphrase")
    detail = client.get(f"/admin/events/{failed_event['id']}").get_data(as_text=True)
    assert "injected failure writing donations" in detail
    assert "&#34;amount_total&#34;: 4200" in detail or '"amount_total": 4200' in detail
    response = forms.post(f"/admin/events/{failed_event['id']}/replay",
                          page=f"/admin/events/{failed_event['id']}")
    assert response.status_code == 302
    db.session.rollback()
    from membership.donations.models import Donation

    assert db.session.query(Donation).count() == 1
    [entry] = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "stripe_event.replay"))
    assert (entry.target, entry.details) == (f"event {failed_event['id']}",
                                             {"outcome": "processed"})
    assert client.get("/admin/events/evt_nope").status_code == 404


def test_a_replay_that_fails_again_is_audited_with_its_failure(client, forms, staff,
                                                              failed_event, app):
    """The audit entry is written in the transaction that records the outcome: with the
    failure stored again when applying fails once more."""
    from membership.donations.models import Donation

    forms.login("editor@example.org", "another sturdy passphrase")
    with failing_inserts("donations"):
        forms.post(f"/admin/events/{failed_event['id']}/replay",
                   page=f"/admin/events/{failed_event['id']}")
    db.session.rollback()
    [entry] = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "stripe_event.replay"))
    assert entry.details == {"outcome": "failed"}
    assert db.session.query(Donation).count() == 0


def test_admin_lists_page_and_keep_their_filters(client, forms, staff):
    for n in range(55):
        queue_mail(f"reader{n}@example.org", "accounts/email_changed", "Changed",
                   new_email="x@example.org")
    db.session.commit()
    forms.login("editor@example.org", "another sturdy passphrase")
    first = client.get("/admin/outbox").get_data(as_text=True)
    assert "Page 1 of 2" in first and 'href="/admin/outbox?page=2"' in first
    assert "reader54@example.org" in first and "reader0@example.org" not in first
    second = client.get("/admin/outbox?page=2").get_data(as_text=True)
    assert "reader0@example.org" in second
    events = client.get("/admin/events?status=failed&page=1").get_data(as_text=True)
    assert "No events match" in events


def test_seed_demo_donations_tops_up_to_n_with_realistic_spread(app):
    from membership.donations.models import Donation, PaymentFailure, RecurringGift
    from membership.types import utcnow

    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo", "--donations", "600"])
    assert result.exit_code == 0, result.output
    assert "Synthetic donations: 600 (600 added)" in result.output
    result = runner.invoke(args=["seed-demo", "--donations", "600"])
    assert "Synthetic donations: 600 (0 added)" in result.output
    donations = db.session.query(Donation).all()
    assert len(donations) == 600
    assert {d.frequency for d in donations} == {"once", "monthly", "yearly"}
    assert {d.campaign for d in donations} >= {None, "20th-anniversary", "new-year-appeal"}
    ages = [(utcnow() - d.created_at).days for d in donations]
    assert max(ages) > 2 * 365 and min(ages) < 60 and max(ages) <= 3 * 365
    assert any(d.refunded_cents for d in donations)
    assert len({d.donor_id for d in donations}) > 50
    assert db.session.query(RecurringGift).count() > 0
    assert db.session.query(PaymentFailure).count() > 0
    assert runner.invoke(args=["seed-demo", "--donations", "-1"]).exit_code == 2
