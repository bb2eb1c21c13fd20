"""The demo campaigns `flask seed-demo` keeps: the 20th-anniversary appeal, running, and
last winter's New Year appeal, ended. Original copy written for this project."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from membership.campaigns.models import Campaign, GoalType
from membership.campaigns.services import campaign_by_slug, recount, save_campaign
from membership.extensions import db

ANNIVERSARY_STORY = """\
Twenty years ago two reporters and an editor sent their first dispatch from a borrowed
office, with a promise: no advertisers, no owner, no party line. Just careful reporting
from places that too many newsrooms only visit when the worst has already happened.

Since then our correspondents have filed from Kabul and Kandahar, from Gaza City and
Khan Younis, from Jerusalem, Ramallah, Lahore and Abu Dhabi. They have covered elections
and earthquakes, ceasefires and the long months between them.

**What your anniversary gift pays for**

- a year of a local stringer's fees in a district no one else covers;
- translation, so every story reaches readers in the languages of the region;
- safety training and insurance for the people who take the risks.

For this anniversary, a group of long-time readers has pledged to **match every gift
one for one**, up to $50,000. Help us start the next twenty years on solid ground.
"""

NEW_YEAR_STORY = """\
Our New Year appeal asked readers for one thing: to make sure the newsroom could keep its
bureaus open through the winter. Thousands answered. Thank you: the bureaus stayed open.
"""


def seed_demo_campaigns(now: datetime) -> None:
    """Create the demo campaigns if missing; existing ones, maybe edited, are left alone."""
    if campaign_by_slug("20th-anniversary") is None:
        save_campaign({
            "slug": "20th-anniversary",
            "title": "Twenty years of independent reporting",
            "appeal": "Mark our 20th anniversary with a gift: it is matched one for one "
                      "while the sponsors' pledge lasts.",
            "story": ANNIVERSARY_STORY,
            "goal_type": GoalType.AMOUNT, "goal": 20_000_000, "currency": "usd",
            "starts_at": _midnight(now - timedelta(days=60)),
            "ends_at": _midnight(now + timedelta(days=30)),
            "featured": True,
            "suggested_amounts": [2000, 5000, 10000, 20000],
            "milestones": [
                {"at": 2_000_000, "label": "A stringer in Helmand for a year"},
                {"at": 10_000_000, "label": "Translation of every story into Arabic, "
                                           "Dari, Pashto, Hebrew and Urdu"},
                {"at": 20_000_000, "label": "20 years, fully funded"},
            ],
            "sponsor_name": "The Founding Readers Circle",
            "match_sponsor_part": 1, "match_gift_part": 1, "match_cap_cents": 5_000_000,
        })
    if campaign_by_slug("new-year-appeal") is None:
        last_winter = _midnight(now.replace(month=12, day=1) - timedelta(days=365))
        save_campaign({
            "slug": "new-year-appeal",
            "title": "Keep the bureaus open this winter",
            "appeal": "Our New Year appeal: 1,000 readers to carry the newsroom through "
                      "the winter.",
            "story": NEW_YEAR_STORY,
            "goal_type": GoalType.DONORS, "goal": 1000, "currency": "usd",
            "starts_at": last_winter, "ends_at": last_winter + timedelta(days=45),
            "featured": False, "suggested_amounts": [], "milestones": [],
            "sponsor_name": None, "match_sponsor_part": None, "match_gift_part": None,
            "match_cap_cents": None,
        })


def recount_all() -> None:
    """After bulk-loaded gifts (which bypass the per-gift bookkeeping)."""
    for campaign in db.session.scalars(select(Campaign)):
        recount(campaign)


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)
