from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from membership.campaigns.models import Campaign
from membership.campaigns.services import featured_campaign, progress
from membership.extensions import db, limiter
from membership.newsletter.routes import newsletter_form
from membership.observability.readiness import readiness_problem
from membership.types import utcnow

bp = Blueprint("site", __name__)


@bp.get("/")
def home():
    now = utcnow()
    featured = featured_campaign(now)
    # The banner's copy may be half a minute old; the figures on the home page are not.
    campaign = db.session.get(Campaign, featured.id) if featured else None
    return render_template("site/home.html", campaign=campaign,
                           progress=progress(campaign, now) if campaign else None,
                           newsletter=newsletter_form(formdata=None))


@bp.get("/healthz")
@limiter.exempt
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="error", reason="database unavailable"), 503
    return jsonify(status="ok")


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """Readiness (for the load balancer): the database answers and its schema is at the
    migrations' head. /healthz stays the liveness probe."""
    problem = readiness_problem()
    if problem:
        return jsonify(status="error", reason=problem), 503
    return jsonify(status="ready")
