"""Staff pages for campaigns: list, create, edit (which also schedules), end."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from membership.admin.audit import changes, record_staff_action
from membership.admin.blueprint import bp
from membership.campaigns import services
from membership.campaigns.forms import CampaignForm, form_data
from membership.campaigns.models import Campaign
from membership.errors import form_status
from membership.extensions import db
from membership.forms import PostOnlyForm
from membership.types import utcnow


@bp.get("/campaigns")
def campaigns():
    now = utcnow()
    campaigns = services.all_campaigns()
    return render_template("admin/campaigns.html", campaigns=campaigns, now=now,
                           progress=services.progress,
                           clashes=services.featured_clashes(campaigns, now))


@bp.route("/campaigns/new", methods=["GET", "POST"])
def new_campaign():
    return _campaign_form(CampaignForm(taken_slugs=services.slug_taken), None)


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
def edit_campaign(campaign_id: int):
    campaign = db.get_or_404(Campaign, campaign_id)
    form = CampaignForm(data=form_data(campaign) if request.method == "GET" else None)
    form.slug.data = campaign.slug  # the address never changes: links to it are out there
    return _campaign_form(form, campaign)


def _campaign_form(form: CampaignForm, campaign: Campaign | None):
    """Save a valid form (and its audit entry) and go back to the list, or show it
    again with its errors."""
    if form.validate_on_submit():
        values = form.values()
        before = {name: getattr(campaign, name) for name in values} if campaign else {}
        campaign = services.save_campaign(values, campaign)
        record_staff_action("campaign.edit" if before else "campaign.create",
                            f"campaign {campaign.slug}", **changes(before, values))
        db.session.commit()
        flash(_("Campaign “%(title)s” saved.", title=campaign.title), "success")
        return redirect(url_for("admin.campaigns"))
    return render_template("admin/campaign_form.html", form=form,
                           campaign=campaign), form_status(form)


@bp.get("/campaigns/<int:campaign_id>/end")
def confirm_end_campaign(campaign_id: int):
    """Ending is for good: staff confirm it on a page of its own (no script needed)."""
    campaign = db.get_or_404(Campaign, campaign_id)
    return render_template("admin/campaign_end.html", campaign=campaign,
                           state=services.progress(campaign, utcnow()),
                           form=PostOnlyForm(formdata=None))


@bp.post("/campaigns/<int:campaign_id>/end")
def end_campaign(campaign_id: int):
    campaign = db.get_or_404(Campaign, campaign_id)
    if not PostOnlyForm().validate_on_submit():
        abort(400)
    if services.end_campaign(campaign, utcnow()):
        record_staff_action("campaign.end", f"campaign {campaign.slug}",
                            ends_at=campaign.ends_at.isoformat())
        db.session.commit()
        flash(_("Campaign “%(title)s” has ended.", title=campaign.title), "success")
    else:
        flash(_("Only a running campaign can be ended; change a scheduled one's dates."),
              "error")
    return redirect(url_for("admin.campaigns"))
