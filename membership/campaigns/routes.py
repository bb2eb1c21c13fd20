from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template

from membership.campaigns import services
from membership.campaigns.models import Campaign, CampaignStatus
from membership.page_cache import public_page
from membership.types import utcnow

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")


def _campaign_or_404(slug: str) -> Campaign:
    campaign = services.campaign_for_display(slug)
    if campaign is None:
        abort(404)
    return campaign


@bp.get("/")
def index():
    now = utcnow()
    by_status = {CampaignStatus.ACTIVE: [], CampaignStatus.UPCOMING: [], CampaignStatus.ENDED: []}
    for campaign in services.all_campaigns():
        by_status[campaign.status(now)].append(campaign)
    return render_template("campaigns/index.html", by_status=by_status, now=now,
                           progress=services.progress)


@bp.get("/<slug>")
@public_page
def page(slug: str):
    campaign = _campaign_or_404(slug)
    now = utcnow()
    return render_template(
        "campaigns/campaign.html", campaign=campaign, now=now,
        progress=services.progress(campaign, now),
        story=services.render_story(campaign.story),
        supporters=services.recent_supporters(campaign),
    )


@bp.get("/<slug>/progress.json")
def progress_json(slug: str):
    response = jsonify(services.progress_document(_campaign_or_404(slug), utcnow()))
    # Live figures: any cache may keep them for a second, no longer (the contract's age).
    response.cache_control.public = True
    response.cache_control.max_age = 1
    return response

