"""Campaign rules as plain functions: they flush, the caller commits."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache

import nh3
from cachetools import TTLCache
from flask import current_app, has_app_context
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import bindparam, delete, event, func, insert, select
from sqlalchemy.orm import Session

from membership.campaigns.models import Campaign, CampaignStatus, CampaignSupporter, GoalType
from membership.donations.checkout import CampaignOffer
from membership.donations.models import Donation, Donor
from membership.donations.signals import DonationChange
from membership.extensions import db
from membership.sql import upsert_insert


def campaign_by_slug(slug: str) -> Campaign | None:
    return db.session.scalar(select(Campaign).where(Campaign.slug == slug))


def all_campaigns() -> list[Campaign]:
    """Every campaign, the latest to start first."""
    return list(db.session.scalars(select(Campaign).order_by(Campaign.starts_at.desc())))


def slug_taken(slug: str) -> bool:
    return db.session.scalar(select(Campaign.id).where(Campaign.slug == slug)) is not None


# Staff changes --------------------------------------------------------------------------

COUNTED_FIELDS = ("slug", "currency", "starts_at", "ends_at")  # what decides which gifts count


def save_campaign(values: dict, campaign: Campaign | None = None) -> Campaign:
    """Create a campaign, or change one; the totals are recounted when the change decides
    differently which gifts count. The row is locked first, so no gift is recorded
    between the recount and the commit."""
    if campaign is None:
        campaign = Campaign(**values)
        db.session.add(campaign)
        db.session.flush()
        recount(campaign)
    else:
        db.session.refresh(campaign, with_for_update=True)
        recounts = any(getattr(campaign, name) != values[name] for name in COUNTED_FIELDS)
        for name, value in values.items():
            setattr(campaign, name, value)
        if recounts:
            recount(campaign)
    db.session.flush()
    _forget_at_commit(campaign.slug, featured=True)
    return campaign


def end_campaign(campaign: Campaign, now: datetime) -> bool:
    """End a running campaign now: gifts from now on no longer count. False if it was
    not running (a scheduled one is rescheduled by editing its dates)."""
    db.session.refresh(campaign, with_for_update=True)
    if campaign.status(now) != CampaignStatus.ACTIVE:
        return False
    campaign.ends_at = now
    recount(campaign)
    _forget_at_commit(campaign.slug, featured=True)
    return True


# Progress -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Progress:
    """Where a campaign stands at one moment, from its kept totals alone."""

    status: str
    raised_cents: int
    matched_cents: int
    donations: int
    donors: int
    percent: int  # toward the goal, may pass 100
    days_left: int
    match_available: bool  # the sponsor still matches new gifts
    milestones_reached: list[dict]

    @property
    def total_cents(self) -> int:
        return self.raised_cents + self.matched_cents


def matched_cents(campaign: Campaign, raised_cents: int) -> int:
    """The sponsor's part: `sponsor:gift` of what readers gave, up to the cap."""
    if not campaign.has_match or raised_cents <= 0:
        return 0
    share = raised_cents * campaign.match_sponsor_part // campaign.match_gift_part
    return min(share, campaign.match_cap_cents)


def progress(campaign: Campaign, now: datetime) -> Progress:
    status = campaign.status(now)
    matched = matched_cents(campaign, campaign.raised_cents)
    # The matched amount counts toward an amount goal; a donors goal counts people.
    measured = (campaign.raised_cents + matched if campaign.goal_type == GoalType.AMOUNT
                else campaign.donors)
    days_left = math.ceil((campaign.ends_at - now).total_seconds() / 86400) if (
        status == CampaignStatus.ACTIVE) else 0
    return Progress(
        status=status,
        raised_cents=campaign.raised_cents,
        matched_cents=matched,
        donations=campaign.donations,
        donors=campaign.donors,
        percent=measured * 100 // campaign.goal,
        days_left=days_left,
        match_available=(status != CampaignStatus.ENDED and campaign.has_match
                         and matched < campaign.match_cap_cents),
        milestones_reached=[m for m in campaign.milestones or () if m["at"] <= measured],
    )


def progress_document(campaign: Campaign, now: datetime) -> dict:
    """progress.json: the contract's fields first, then what the page's script uses."""
    state = progress(campaign, now)
    amount_goal = campaign.goal_type == GoalType.AMOUNT
    return {
        "slug": campaign.slug,
        "currency": campaign.currency,
        "goal_cents": campaign.goal if amount_goal else None,
        "raised_cents": state.raised_cents,
        "donations": state.donations,
        "donors": state.donors,
        "starts_at": campaign.starts_at.isoformat(),
        "ends_at": campaign.ends_at.isoformat(),
        "status": state.status,
        "goal_type": campaign.goal_type,
        "goal_donors": None if amount_goal else campaign.goal,
        "matched_cents": state.matched_cents,
        "total_cents": state.total_cents,
        "percent": state.percent,
        "days_left": state.days_left,
    }


# Keeping the totals ---------------------------------------------------------------------

def count_donation_change(change: DonationChange) -> None:
    """Apply one donation's change to its campaign's totals, in the caller's transaction.

    The campaign row is locked first, so concurrent gifts add up one after the other and
    a staff edit of the dates (which recounts) never interleaves with a gift."""
    if not change.campaign:
        return
    campaign = db.session.scalar(
        select(Campaign).where(Campaign.slug == change.campaign).with_for_update())
    if (campaign is None or change.currency != campaign.currency
            or not campaign.includes(change.created_at)):
        return
    _forget_at_commit(campaign.slug)
    campaign.raised_cents += change.net_delta
    campaign.donations += change.counted_delta
    if change.counted_delta:
        gifts = db.session.execute(_count_supporter(db.session.get_bind().dialect.name), {
            "campaign": campaign.id, "donor": change.donor_id, "delta": change.counted_delta,
        }).scalar_one()
        if change.counted_delta > 0 and gifts == change.counted_delta:
            campaign.donors += 1
        elif change.counted_delta < 0 and gifts == 0:
            campaign.donors -= 1
    db.session.flush()


@cache
def _count_supporter(dialect: str):
    insert_ = upsert_insert(dialect)
    statement = insert_(CampaignSupporter).values(
        campaign_id=bindparam("campaign"), donor_id=bindparam("donor"),
        gifts=bindparam("delta"))
    return statement.on_conflict_do_update(
        index_elements=["campaign_id", "donor_id"],
        set_={"gifts": CampaignSupporter.gifts + statement.excluded.gifts},
    ).returning(CampaignSupporter.gifts)


def _counted_gifts(campaign: Campaign):
    """The campaign's donations that are worth something, as a subquery of
    (donor_id, net_cents)."""
    return select(Donation.donor_id, Donation.net_cents.label("net_cents")).where(
        *_counts_toward(campaign)).subquery()


def _counts_toward(campaign: Campaign) -> list:
    """What makes a donation count toward the campaign: tagged with it, in its currency,
    made between its start and end, and still worth something."""
    return [Donation.campaign == campaign.slug, Donation.currency == campaign.currency,
            Donation.created_at >= campaign.starts_at, Donation.created_at < campaign.ends_at,
            Donation.net_cents > 0]


def recounted_totals(campaign: Campaign) -> tuple[int, int, int]:
    """(raised_cents, donations, donors) summed from the donations themselves."""
    gifts = _counted_gifts(campaign)
    raised, donations, donors = db.session.execute(select(
        func.coalesce(func.sum(gifts.c.net_cents), 0), func.count(),
        func.count(gifts.c.donor_id.distinct()))).one()
    return int(raised), donations, donors


def recount(campaign: Campaign) -> None:
    """Rebuild the kept totals from the donations: after the dates, currency or slug of a
    campaign change, or when it is created for gifts already made."""
    db.session.flush()
    campaign.raised_cents, campaign.donations, campaign.donors = recounted_totals(campaign)
    db.session.execute(delete(CampaignSupporter).where(
        CampaignSupporter.campaign_id == campaign.id))
    gifts = _counted_gifts(campaign)
    db.session.execute(insert(CampaignSupporter).from_select(
        ["campaign_id", "donor_id", "gifts"],
        select(bindparam("campaign", campaign.id), gifts.c.donor_id, func.count())
        .group_by(gifts.c.donor_id)))
    db.session.flush()


# What the campaign page shows -----------------------------------------------------------

@dataclass(frozen=True)
class Supporter:
    name: str  # first name, or empty for an anonymous gift
    anonymous: bool
    amount_cents: int
    currency: str
    dedication_kind: str | None
    dedication_name: str | None
    given_at: datetime


def recent_supporters(campaign: Campaign, limit: int = 12) -> list[Supporter]:
    """The newest counted gifts, read through the (campaign, created_at) index (the cost
    does not grow with the number of gifts) and kept like the campaign's copy."""
    cache, lock = current_app.extensions[CAMPAIGN_CACHE_KEY]
    key = (SUPPORTERS, campaign.slug)
    with lock:
        supporters = cache.get(key)
    if supporters is None:
        rows = db.session.execute(
            select(Donation.anonymous, Donor.name, Donation.amount_cents, Donation.currency,
                   Donation.dedication_kind, Donation.dedication_name, Donation.created_at)
            .join(Donor, Donor.id == Donation.donor_id).where(*_counts_toward(campaign))
            .order_by(Donation.created_at.desc()).limit(limit))
        supporters = [
            Supporter(name="" if anonymous else (name or "").split(" ")[0],
                      anonymous=anonymous, amount_cents=amount, currency=currency,
                      dedication_kind=kind, dedication_name=person, given_at=given_at)
            for anonymous, name, amount, currency, kind, person, given_at in rows
        ]
        with lock:
            cache[key] = supporters
    return supporters


_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True})


@lru_cache(maxsize=64)
def render_story(text: str) -> Markup:
    """Staff write Markdown; what reaches the page is sanitized HTML, so a pasted script
    or a javascript: link cannot run."""
    html = _markdown.render(text or "")
    clean = nh3.clean(html, link_rel="noopener noreferrer nofollow",
                      url_schemes={"http", "https", "mailto"})
    # Safe markup: nh3, the sanitizer, wrote it (bandit cannot see that).
    return Markup(clean)  # noqa: S704  # nosec B704


# Read-mostly copies -----------------------------------------------------------------------
#
# On launch day the campaign page and progress.json are read thousands of times a second
# and change a few times a second. Each process keeps a detached copy of the campaign row
# for at most a second; a change recorded by this process drops its copy at commit, so a
# reader here sees their own gift at once, and other processes within the second.

FEATURED_CACHE_KEY = "campaigns.featured"
CAMPAIGN_CACHE_KEY = "campaigns.by_slug"
CAMPAIGN_COPY_SECONDS = 1
_CHANGED = "campaigns.changed"  # slugs whose copies to drop when the session commits
SUPPORTERS = "supporters"


def init_caches(app) -> None:
    app.extensions[FEATURED_CACHE_KEY] = (TTLCache(maxsize=1, ttl=30), threading.Lock())
    app.extensions[CAMPAIGN_CACHE_KEY] = (
        TTLCache(maxsize=512, ttl=CAMPAIGN_COPY_SECONDS), threading.Lock())


def campaign_for_display(slug: str) -> Campaign | None:
    """The campaign, as of at most a second ago (see above); read-only."""
    cache, lock = current_app.extensions[CAMPAIGN_CACHE_KEY]
    with lock:
        campaign = cache.get(slug)
    if campaign is None:
        campaign = campaign_by_slug(slug)
        if campaign is None:
            return None
        db.session.expunge(campaign)
        with lock:
            cache[slug] = campaign
    return campaign


def campaign_title(slug: str | None) -> str:
    """What a gift's campaign is called, for people; its slug if it is gone."""
    campaign = campaign_for_display(slug) if slug else None
    return campaign.title if campaign else (slug or "")


def _forget_at_commit(slug: str, featured: bool = False) -> None:
    """Drop this process's copies once the change is committed (not before: a reader
    could copy the old row again in between)."""
    changed = db.session.info.setdefault(_CHANGED, set())
    changed.add(slug)
    if featured:
        changed.add(FEATURED_CACHE_KEY)


@event.listens_for(Session, "after_commit")
def _drop_changed_copies(session: Session) -> None:
    changed = session.info.pop(_CHANGED, None)
    if not changed or not has_app_context():
        return
    copies, lock = current_app.extensions[CAMPAIGN_CACHE_KEY]
    with lock:
        for slug in changed:
            copies.pop(slug, None)
            copies.pop((SUPPORTERS, slug), None)
    if FEATURED_CACHE_KEY in changed:
        featured, lock = current_app.extensions[FEATURED_CACHE_KEY]
        with lock:
            featured.clear()


@event.listens_for(Session, "after_rollback")
def _keep_copies(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def featured_campaign(now: datetime) -> Campaign | None:
    """The featured campaign running now, for the banner on every page.

    The list of featured campaigns that have not ended is read at most every 30 seconds
    per process (staff edits clear it at once); whether one is running is decided now."""
    cache, lock = current_app.extensions[FEATURED_CACHE_KEY]
    with lock:
        campaigns = cache.get("featured")
    if campaigns is None:
        campaigns = list(db.session.scalars(
            select(Campaign).where(Campaign.featured.is_(True), Campaign.ends_at > now)
            .order_by(Campaign.starts_at)))
        for campaign in campaigns:
            db.session.expunge(campaign)  # kept beyond this request: detached, read-only
        with lock:
            cache["featured"] = campaigns
    return next((c for c in campaigns if c.status(now) == CampaignStatus.ACTIVE), None)


def featured_clashes(campaigns: list[Campaign], now: datetime) -> list[tuple[Campaign, Campaign]]:
    """Featured campaigns, not ended, whose dates overlap: the banner shows one at a time
    (the one that started first), so staff are told. Pairs, earlier start first."""
    featured = sorted((c for c in campaigns if c.featured and c.ends_at > now),
                      key=lambda c: c.starts_at)
    return [(first, second) for index, first in enumerate(featured)
            for second in featured[index + 1:] if second.starts_at < first.ends_at]


# What the gift form needs to know ------------------------------------------------------------

def campaign_offer(slug: str) -> CampaignOffer | None:
    # The gift form asks up to three times a request: the per-process copy answers.
    campaign = campaign_for_display(slug)
    if campaign is None:
        return None
    return CampaignOffer(slug=campaign.slug, title=campaign.title, currency=campaign.currency,
                         starts_at=campaign.starts_at, ends_at=campaign.ends_at,
                         suggested_amounts=tuple(campaign.suggested_amounts or ()))
