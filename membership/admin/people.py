"""Staff pages for donors, donations and the audit log."""

from __future__ import annotations

from flask import render_template, request

from membership.accounts.models import User
from membership.admin import audit as audit_log
from membership.admin.blueprint import bp, pager_args
from membership.admin.forms import DonationFilterForm, DonorSearchForm
from membership.donations import records
from membership.donations.models import Donor
from membership.extensions import db
from membership.inputs import page_number
from membership.mail.services import mails_to
from membership.newsletter.services import status_of as newsletter_status
from membership.topics.services import followed_topics

PER_PAGE = 50


@bp.get("/donors")
def donors():
    form = DonorSearchForm(request.args, meta={"csrf": False})
    query = records.donor_search(form.q.data if form.validate() else None)
    page = db.paginate(query, page=page_number(), per_page=PER_PAGE, error_out=False)
    given = records.gift_counts([donor.id for donor in page.items])
    return render_template("admin/donors.html", page=page, form=form, given=given,
                           pager_args=pager_args())


@bp.get("/donors/<int:donor_id>")
def donor(donor_id: int):
    person = db.get_or_404(Donor, donor_id)
    account = person.user_id and db.session.get(User, person.user_id)
    record = records.donor_record(person)
    topics = followed_topics(account.id) if account else []
    return render_template("admin/donor.html", donor=person, account=account,
                           gifts=record.gifts, recurring=record.recurring,
                           mails=mails_to(person.email), totals=record.net_by_currency,
                           topics=topics,
                           newsletter=newsletter_status(person.email))


@bp.get("/donations")
def donations():
    form = DonationFilterForm(request.args, meta={"csrf": False})
    query = records.donations_matching(
        form.start.data, form.end.data, form.campaign.data, form.frequency.data,
        form.status.data) if form.validate() else records.donations_matching()
    page = db.paginate(query, page=page_number(), per_page=PER_PAGE, error_out=False)
    return render_template("admin/donations.html", page=page, form=form,
                           pager_args=pager_args())


@bp.get("/audit")
def audit():
    page = db.paginate(audit_log.newest_first(), page=page_number(), per_page=PER_PAGE,
                       error_out=False)
    return render_template("admin/audit.html", page=page)
