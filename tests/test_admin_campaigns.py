"""Staff create, edit, schedule and end campaigns; bad input is refused field by field and
writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from membership.campaigns.models import Campaign
from membership.extensions import db
from membership.types import utcnow
from tests.builders import give, make_campaign

VALID = {
    "slug": "new-year-2027", "title": "A new year of reporting",
    "appeal": "Start the year with a gift.", "story": "It was a **long** year.",
    "goal_type": "amount", "goal": "50,000", "currency": "usd",
    "starts_at": "2099-12-01T00:00", "ends_at": "2100-01-15T00:00",
    "suggested_amounts": "25, 50, 100",
    "milestones": "10000: Ten thousand\n25,000 = Halfway",
    "sponsor_name": "Friends of the newsroom", "match_ratio": "1:1", "match_cap": "10000",
}


@pytest.fixture
def signed_in(forms, staff):
    forms.login("editor@example.org", "another sturdy passphrase")
    return forms


def test_staff_create_a_scheduled_campaign(signed_in):
    response = signed_in.post("/admin/campaigns/new", {**VALID, "featured": "y"})
    assert response.status_code == 302
    campaign = db.session.scalar(select(Campaign))
    assert (campaign.slug, campaign.goal, campaign.currency) == ("new-year-2027", 5_000_000, "usd")
    assert campaign.starts_at == datetime(2099, 12, 1, tzinfo=UTC)
    assert campaign.suggested_amounts == [2500, 5000, 10000]
    assert campaign.milestones == [{"at": 1_000_000, "label": "Ten thousand"},
                                   {"at": 2_500_000, "label": "Halfway"}]
    assert (campaign.match_sponsor_part, campaign.match_gift_part,
            campaign.match_cap_cents) == (1, 1, 1_000_000)
    assert campaign.featured
    listing = signed_in.client.get("/admin/campaigns").get_data(as_text=True)
    assert "A new year of reporting" in listing and "scheduled" in listing


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"slug": "New Year"}, "slug", "Use lowercase letters, digits and single hyphens"),
    ({"slug": "new--year"}, "slug", "Use lowercase letters, digits and single hyphens"),
    ({"slug": "taken"}, "slug", "Another campaign already uses this address."),
    ({"ends_at": "2099-11-30T00:00"}, "ends_at", "The end must come after the start."),
    ({"ends_at": "2099-12-01T00:00"}, "ends_at", "The end must come after the start."),
    ({"starts_at": "next week"}, "starts_at", "Not a valid datetime value."),
    ({"goal": "0"}, "goal", "The amount must be more than zero."),
    ({"goal": "-5"}, "goal", "Please enter the amount as a number"),
    ({"goal": "lots"}, "goal", "Please enter the amount as a number"),
    ({"goal_type": "donors", "goal": "2.5"}, "goal",
     "Enter a number of donors from 1 to 10,000,000."),
    ({"title": ""}, "title", "This field is required."),
    ({"match_cap": ""}, "match_cap", "A match needs the sponsor, the ratio and the cap."),
    ({"match_ratio": "double"}, "match_ratio", "Write the ratio as two whole numbers"),
    ({"match_ratio": "1:0"}, "match_ratio", "Write the ratio as two whole numbers"),
    ({"milestones": "halfway there"}, "milestones", "Line 1: write the figure, a colon"),
    ({"suggested_amounts": "10, ten"}, "suggested_amounts", "Please enter the amount as a number"),
])
def test_bad_campaign_input_is_refused_next_to_the_field(signed_in, changes, field, message):
    make_campaign("taken")
    response = signed_in.post("/admin/campaigns/new", {**VALID, **changes})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = html.split(f'id="{field}-error">', 1)
    assert len(error) == 2, f"no error next to {field}"
    assert message in error[1].split("</p>", 1)[0]
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1


def test_editing_keeps_the_address_and_recounts_when_the_dates_move(signed_in):
    now = utcnow()
    campaign = make_campaign(starts_at=now - timedelta(days=5))
    give(1000, at=now - timedelta(days=20))
    give(2000, at=now - timedelta(days=1))
    db.session.refresh(campaign)
    assert campaign.raised_cents == 2000
    page = signed_in.client.get(f"/admin/campaigns/{campaign.id}/edit").get_data(as_text=True)
    assert 'value="10000"' in page  # the goal, in major units
    response = signed_in.post(f"/admin/campaigns/{campaign.id}/edit", {
        **VALID, "slug": "renamed", "goal": "10000",
        "starts_at": (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
    }, page=f"/admin/campaigns/{campaign.id}/edit")
    assert response.status_code == 302
    db.session.refresh(campaign)
    assert campaign.slug == "20th-anniversary"
    assert (campaign.raised_cents, campaign.donations) == (3000, 2)


def test_ending_a_running_campaign_is_confirmed_first(signed_in):
    """Issue 15: "End now" asks before it ends anything (a page, no script needed)."""
    campaign = make_campaign()
    listing = signed_in.client.get("/admin/campaigns").get_data(as_text=True)
    assert f'href="/admin/campaigns/{campaign.id}/end"' in listing
    assert '/end" class' not in listing and 'action="/admin/campaigns/' not in listing
    question = signed_in.client.get(f"/admin/campaigns/{campaign.id}/end")
    assert question.status_code == 200
    assert "now?" in question.get_data(as_text=True)
    assert "Keep it running" in question.get_data(as_text=True)
    db.session.refresh(campaign)
    assert campaign.ends_at > utcnow()  # asking ends nothing
    response = signed_in.post(f"/admin/campaigns/{campaign.id}/end",
                              page=f"/admin/campaigns/{campaign.id}/end")
    assert response.status_code == 302
    db.session.refresh(campaign)
    assert campaign.ends_at <= utcnow()
    assert signed_in.client.get("/campaigns/20th-anniversary/progress.json").get_json()[
        "status"] == "ended"


def test_staff_are_told_when_two_featured_campaigns_overlap(signed_in):
    """Issue 15: the banner shows one campaign; a second featured one is never seen."""
    now = utcnow()
    make_campaign("first", title="Spring", starts_at=now - timedelta(days=5),
                  ends_at=now + timedelta(days=5), featured=True)
    make_campaign("second", title="Summer", starts_at=now - timedelta(days=1),
                  ends_at=now + timedelta(days=20), featured=True)
    make_campaign("later", title="Autumn", starts_at=now + timedelta(days=30),
                  ends_at=now + timedelta(days=40), featured=True)
    page = signed_in.client.get("/admin/campaigns").get_data(as_text=True)
    assert page.count("are both featured") == 1  # Autumn starts after Summer ends
    assert "“<bdi>Spring</bdi>” and “<bdi>Summer</bdi>” are both featured" in page
    assert "“<bdi>Spring</bdi>” (it started first)" in page
