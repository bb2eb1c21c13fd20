from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from membership.campaigns.models import Campaign
from membership.campaigns.services import featured_campaign, progress
from membership.extensions import csrf, db, limiter
from membership.i18n import LANGUAGE_COOKIE, LANGUAGE_COOKIE_AGE, known_language
from membership.newsletter.routes import newsletter_form
from membership.observability.readiness import readiness_problem
from membership.page_cache import public_page
from membership.types import utcnow
from membership.urls import safe_next_url

bp = Blueprint("site", __name__)


@bp.get("/")
@public_page
def home():
    now = utcnow()
    featured = featured_campaign(now)
    # The banner's copy may be half a minute old; the figures on the home page are not.
    campaign = db.session.get(Campaign, featured.id) if featured else None
    return render_template("site/home.html", campaign=campaign,
                           progress=progress(campaign, now) if campaign else None,
                           newsletter=newsletter_form(formdata=None))


@bp.post("/language")
@csrf.exempt  # it only changes how pages are shown, and it sits on pages kept in a cache
def choose_language():
    """The language switch on every page: remembered in a cookie, and on the account."""
    language = known_language(request.form.get("language"))
    response = redirect(safe_next_url(request.form.get("next")) or "/", code=303)
    if language is None:
        return response
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=LANGUAGE_COOKIE_AGE,
                        secure=request.is_secure, httponly=True, samesite="Lax")
    if current_user.is_authenticated and current_user.language != language:
        current_user.language = language
        db.session.commit()
    return response


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
