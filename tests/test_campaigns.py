"""Campaigns: progress maths, status by date, the pages, progress.json, the banner and the
gift form's campaign rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from membership.campaigns.models import Campaign
from membership.campaigns.services import (
    progress,
    recount,
    recounted_totals,
    save_campaign,
)
from membership.donations.models import Checkout, RecurringGift
from membership.donations.recording import Payment, record_one_time_payment
from membership.donations.recurring import record_recurring_payment
from membership.extensions import db
from membership.types import utcnow
from tests.builders import give, make_campaign, refund_or_dispute, settle

CONTRACT_FIELDS = {"slug", "currency", "goal_cents", "raised_cents", "donations", "donors",
                   "starts_at", "ends_at", "status"}


def totals(campaign: Campaign) -> tuple[int, int, int]:
    db.session.refresh(campaign)
    return campaign.raised_cents, campaign.donations, campaign.donors


# Progress maths ---------------------------------------------------------------------------

def test_gifts_add_up_and_each_donor_counts_once(app):
    campaign = make_campaign()
    give(5000, "amina@example.org")
    give(2500, "amina@example.org")
    give(1000, "omar@example.org")
    assert totals(campaign) == (8500, 3, 2)


def test_refunds_count_net_and_a_fully_refunded_donor_no_longer_counts(app):
    campaign = make_campaign()
    first = give(5000, "amina@example.org")
    second = give(3000, "omar@example.org")
    settle(first, refunded=2000)
    assert totals(campaign) == (6000, 2, 2)
    settle(second, refunded=3000)
    assert totals(campaign) == (3000, 1, 1)
    # Stripe repeats itself: the same refund again changes nothing.
    settle(second, refunded=3000)
    assert totals(campaign) == (3000, 1, 1)


def test_a_lost_dispute_takes_the_gift_out_and_a_won_one_keeps_it(app):
    campaign = make_campaign()
    lost = give(5000, "amina@example.org")
    won = give(3000, "omar@example.org")
    settle(lost, dispute="needs_response")
    settle(won, dispute="needs_response")
    assert totals(campaign) == (8000, 2, 2)  # open disputes: money still held
    settle(lost, dispute="lost")
    settle(won, dispute="won")
    assert totals(campaign) == (3000, 1, 1)


def test_a_refund_that_arrives_before_its_payment_is_counted_once(app):
    campaign = make_campaign()
    early = Payment(amount_cents=4000, currency="usd", paid_at=utcnow(),
                    email="early@example.org", campaign=campaign.slug,
                    payment_intent_id="pi_early", charge_id="ch_early")
    settle(early, refunded=1500)
    assert totals(campaign) == (0, 0, 0)
    record_one_time_payment(early)
    db.session.commit()
    assert totals(campaign) == (2500, 1, 1)


def test_only_gifts_inside_the_window_in_the_campaign_currency_count(app):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = datetime(2026, 4, 1, tzinfo=UTC)
    campaign = make_campaign(starts_at=start, ends_at=end)
    make_campaign("other-appeal")
    give(100, at=start - timedelta(microseconds=1))  # a moment too early
    give(200, at=start)  # the first moment counts
    give(400, at=end - timedelta(microseconds=1))  # the last moment counts
    give(800, at=end)  # the end is not part of the campaign
    give(1600, at=start + timedelta(days=1), currency="eur")  # another currency
    give(3200, at=start + timedelta(days=1), campaign="other-appeal")
    give(6400, at=start + timedelta(days=1), campaign=None)
    assert totals(campaign) == (600, 2, 1)
    assert recounted_totals(campaign) == (600, 2, 1)


def test_each_payment_of_a_recurring_gift_counts(app):
    campaign = make_campaign()
    gift = RecurringGift(stripe_subscription_id="sub_camp", amount_cents=1800, currency="usd",
                         frequency="monthly", campaign=campaign.slug, status="active")
    db.session.add(gift)
    db.session.flush()
    for month in range(3):
        record_recurring_payment(Payment(
            amount_cents=1800, currency="usd", email="monthly@example.org",
            paid_at=utcnow() - timedelta(days=20 - 7 * month), invoice_id=f"in_camp{month}",
            payment_intent_id=f"pi_camp{month}", frequency="monthly"), gift, utcnow())
    db.session.commit()
    assert totals(campaign) == (5400, 3, 1)


def test_matching_counts_toward_the_goal_until_the_cap(app):
    campaign = make_campaign(goal=100_000, sponsor_name="Friends", match_sponsor_part=1,
                             match_gift_part=1, match_cap_cents=30_000)
    give(20_000)
    state = progress(campaign, utcnow())
    assert (state.raised_cents, state.matched_cents, state.percent) == (20_000, 20_000, 40)
    assert state.match_available
    give(25_000, "second@example.org")
    state = progress(campaign, utcnow())
    assert (state.raised_cents, state.matched_cents, state.total_cents) == (45_000, 30_000, 75_000)
    assert state.percent == 75
    assert not state.match_available  # the pledge is used up



def test_the_page_shows_the_total_the_percentage_is_of(client):
    """Issue 15: Raised and Matched, and their total, which "Reached" is computed from."""
    make_campaign(goal=100_000, sponsor_name="Friends", match_sponsor_part=1,
                  match_gift_part=1, match_cap_cents=30_000)
    give(20_000)
    page = client.get("/campaigns/20th-anniversary").get_data(as_text=True)
    assert '<dt>Total</dt><dd data-field="total">$400</dd>' in page
    assert 'aria-valuetext="$400 of $1,000 (40%)"' in page
    assert 'data-valuetext="{value} of $1,000 ({percent}%)"' in page


def test_a_two_to_one_match_and_refunds_shrink_the_match_too(app):
    campaign = make_campaign(sponsor_name="Friends", match_sponsor_part=2, match_gift_part=1,
                             match_cap_cents=1_000_000)
    gift = give(10_000)
    assert progress(campaign, utcnow()).matched_cents == 20_000
    settle(gift, refunded=10_000)
    db.session.refresh(campaign)
    assert progress(campaign, utcnow()).matched_cents == 0


def test_a_donors_goal_counts_people_and_milestones_follow_the_goal_unit(app):
    campaign = make_campaign(goal_type="donors", goal=4, milestones=[
        {"at": 2, "label": "Two readers"}, {"at": 4, "label": "Four readers"}])
    give(1000, "a@example.org")
    give(1000, "a@example.org")
    give(1000, "b@example.org")
    db.session.refresh(campaign)
    state = progress(campaign, utcnow())
    assert (state.donors, state.percent) == (2, 50)
    assert [m["label"] for m in state.milestones_reached] == ["Two readers"]


def test_status_and_days_left_follow_the_clock(app):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    campaign = make_campaign(starts_at=start, ends_at=start + timedelta(days=10))
    assert progress(campaign, start - timedelta(seconds=1)).status == "upcoming"
    assert progress(campaign, start).status == "active"
    assert progress(campaign, start).days_left == 10
    assert progress(campaign, start + timedelta(days=9, hours=1)).days_left == 1
    assert progress(campaign, start + timedelta(days=10) - timedelta(seconds=1)).status == "active"
    assert progress(campaign, start + timedelta(days=10)).status == "ended"
    assert progress(campaign, start + timedelta(days=10)).days_left == 0


def test_changing_the_dates_recounts_and_creating_a_campaign_counts_earlier_gifts(app):
    now = utcnow()
    give(1000, at=now - timedelta(days=50), campaign="late-appeal")
    give(2000, at=now - timedelta(days=5), campaign="late-appeal")
    campaign = make_campaign("late-appeal", starts_at=now - timedelta(days=10))
    assert totals(campaign) == (2000, 1, 1)
    values = {column: getattr(campaign, column) for column in (
        "slug", "title", "appeal", "story", "goal_type", "goal", "currency", "starts_at",
        "ends_at", "featured", "suggested_amounts", "milestones", "sponsor_name",
        "match_sponsor_part", "match_gift_part", "match_cap_cents")}
    save_campaign({**values, "starts_at": now - timedelta(days=60)}, campaign)
    db.session.commit()
    assert totals(campaign) == (3000, 2, 1)


# The kept totals against a full recount ------------------------------------------------------

STEP = st.one_of(
    st.tuples(st.just("give"), st.sampled_from(["a", "b", "c", "d"]),
              st.sampled_from([500, 1800, 3600]), st.integers(-3, 40)),
    st.tuples(st.just("refund"), st.integers(0, 30), st.sampled_from([0.25, 0.5, 1.0])),
    st.tuples(st.just("dispute"), st.integers(0, 30),
              st.sampled_from(["needs_response", "won", "lost"])),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=25))
def test_kept_totals_always_equal_a_full_recount(app, steps):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == "prop"))
    if campaign is None:
        campaign = make_campaign("prop", starts_at=start, ends_at=start + timedelta(days=30))
    payments: list[Payment] = []
    for step in steps:
        if step[0] == "give":
            _, who, amount, day = step
            payments.append(give(amount, f"{who}@example.org", campaign="prop",
                                 at=start + timedelta(days=day)))
        else:
            refund_or_dispute(payments, step)
        assert totals(campaign) == recounted_totals(campaign)
    kept = totals(campaign)
    recount(campaign)
    assert totals(campaign) == kept


# Pages and progress.json -------------------------------------------------------------------

def test_progress_json_has_the_contract_shape(client):
    campaign = make_campaign(goal=500_000)
    give(5000, "amina@example.org")
    give(2500, "omar@example.org")
    response = client.get("/campaigns/20th-anniversary/progress.json")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) >= CONTRACT_FIELDS
    assert body["slug"] == "20th-anniversary"
    assert (body["currency"], body["goal_cents"], body["raised_cents"]) == ("usd", 500_000, 7500)
    assert (body["donations"], body["donors"], body["status"]) == (2, 2, "active")
    assert datetime.fromisoformat(body["starts_at"]) == campaign.starts_at
    assert datetime.fromisoformat(body["ends_at"]) == campaign.ends_at
    assert datetime.fromisoformat(body["ends_at"]).utcoffset() == timedelta(0)


def test_unknown_campaigns_are_404(client):
    assert client.get("/campaigns/no-such-thing").status_code == 404
    assert client.get("/campaigns/no-such-thing/progress.json").status_code == 404


def test_campaign_page_shows_progress_supporters_and_the_donate_button(client):
    make_campaign(sponsor_name="The Founding Readers", match_sponsor_part=1, match_gift_part=1,
                  match_cap_cents=50_000, story="Twenty **years**.<script>alert(1)</script>")
    give(5000, "amina@example.org", name="Amina Rahimi")
    give(2500, "secret@example.org", name="Hidden Person", anonymous=True)
    give(1000, "omar@example.org", name="Omar Haddad", dedication=("memory", "Hamid"))
    html = client.get("/campaigns/20th-anniversary").get_data(as_text=True)
    assert 'role="progressbar"' in html and 'aria-valuetext="$170 of $10,000 (1%)"' in html
    assert "<strong>years</strong>" in html and "<script>alert" not in html
    assert "Every gift is matched by <bdi>The Founding Readers</bdi>" in html
    assert ">Amina<" in html and "Rahimi" not in html  # first names only
    assert ">Anonymous<" in html and "Hidden" not in html
    assert "in memory of <bdi>Hamid</bdi>" in html
    assert 'href="/donate?campaign=20th-anniversary&amp;currency=usd"' in html


def test_upcoming_and_ended_campaigns_say_so(client):
    now = utcnow()
    make_campaign("next-year", starts_at=now + timedelta(days=3),
                  ends_at=now + timedelta(days=30))
    make_campaign("last-year", starts_at=now - timedelta(days=60),
                  ends_at=now - timedelta(days=30))
    upcoming = client.get("/campaigns/next-year").get_data(as_text=True)
    assert "This campaign opens on" in upcoming and 'role="progressbar"' not in upcoming
    ended = client.get("/campaigns/last-year").get_data(as_text=True)
    assert "The final result" in ended and "This campaign has ended." in ended
    assert "Thank you to the 0 readers" not in ended  # issue 15
    assert "Give to this campaign" not in ended
    assert client.get("/campaigns/last-year/progress.json").get_json()["status"] == "ended"


def test_the_banner_points_to_the_featured_campaign_while_it_runs(client):
    assert "campaign-banner" not in client.get("/").get_data(as_text=True)
    make_campaign(featured=True, appeal="Mark twenty years with us.")
    home = client.get("/").get_data(as_text=True)
    assert "campaign-banner" in home and "Mark twenty years with us." in home
    assert 'id="campaign-heading"' in home  # the home page's campaign panel
    assert "campaign-banner" in client.get("/donate").get_data(as_text=True)


@pytest.mark.parametrize("shift", ["upcoming", "ended", "not featured"])
def test_no_banner_for_campaigns_not_running_or_not_featured(client, shift):
    now = utcnow()
    dates = {"upcoming": (now + timedelta(days=1), now + timedelta(days=9)),
             "ended": (now - timedelta(days=9), now - timedelta(days=1)),
             "not featured": (now - timedelta(days=1), now + timedelta(days=9))}[shift]
    make_campaign(featured=shift != "not featured", starts_at=dates[0], ends_at=dates[1])
    assert "campaign-banner" not in client.get("/").get_data(as_text=True)


# The gift form and campaigns ------------------------------------------------------------------

GIFT = {"amount": "36", "frequency": "once", "email": "donor@example.org", "currency": "usd"}


def test_a_gift_to_a_running_campaign_is_tagged_and_suggests_its_amounts(forms, client):
    make_campaign(suggested_amounts=[2000, 5050])
    page = client.get("/donate?campaign=20th-anniversary").get_data(as_text=True)
    assert "Twenty years" in page
    assert 'data-amount="20"' in page and 'data-amount="50.5"' in page
    response = forms.post("/donate", {**GIFT, "campaign": "20th-anniversary"})
    assert response.status_code == 303
    assert db.session.scalar(select(Checkout.campaign)) == "20th-anniversary"


@pytest.mark.parametrize(("dates", "currency", "error"), [
    (None, "usd", "This campaign does not exist."),
    ((1, 9), "usd", "This campaign opens on"),
    ((-9, -1), "usd", "This campaign has ended."),
    ((-1, 9), "eur", "Gifts to this campaign are made in USD."),
])
def test_gifts_to_campaigns_that_cannot_take_them_are_refused(app, forms, dates, currency,
                                                              error):
    app.config["DONATION_CURRENCIES"] = ["usd", "eur"]
    if dates:
        now = utcnow()
        make_campaign(starts_at=now + timedelta(days=dates[0]),
                      ends_at=now + timedelta(days=dates[1]))
    response = forms.post("/donate", {**GIFT, "currency": currency,
                                      "campaign": "20th-anniversary"})
    assert response.status_code == 422
    assert error in response.get_data(as_text=True)
    assert db.session.scalar(select(Checkout)) is None


def test_the_campaign_page_says_its_last_day_its_total_and_counts_people(client):
    """Issue 15: "Through December 24" for a campaign ending at midnight, the total of
    raised and matched, 1,000 with its separator, one reader in the singular."""
    from datetime import UTC, datetime

    from membership.extensions import db as database

    now = utcnow()
    midnight = datetime(now.year + 1, 12, 25, tzinfo=UTC)
    campaign = make_campaign("through", ends_at=midnight, goal_type="donors", goal=1000)
    page = client.get("/campaigns/through").get_data(as_text=True)
    assert f"Through December 24, {now.year + 1} (UTC)" in page
    assert "of 1,000 donors" in page
    ended = make_campaign("ended-one", starts_at=now - timedelta(days=60),
                          ends_at=now - timedelta(days=30), title="Ended with one")
    ended.donors = 1
    database.session.commit()
    assert "Thank you to the reader who made this possible" in client.get(
        "/campaigns/ended-one").get_data(as_text=True)
    assert campaign.last_day.day == 24
