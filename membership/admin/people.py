"""Staff pages for donors, donations and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import render_template, request
from sqlalchemy import func, or_, select

from membership.accounts.models import User
from membership.admin.forms import DonationFilterForm, DonorSearchForm
from membership.admin.models import AuditEntry
from membership.admin.routes import bp
from membership.donations.models import Donation, Donor, RecurringGift
from membership.extensions import db
from membership.inputs import page_number
from membership.mail.models import OutboxMessage
from membership.newsletter.services import status_of as newsletter_status
from membership.topics.services import followed_topics

PER_PAGE = 50


def _pager_args() -> dict:
    return {key: value for key, value in request.args.items() if key != "page"}


@bp.get("/donors")
def donors():
    form = DonorSearchForm(request.args, meta={"csrf": False})
    query = select(Donor).order_by(Donor.id.desc())
    if form.validate() and form.q.data:
        pattern = f"%{form.q.data.strip().lower()}%"
        query = query.where(or_(Donor.email.like(pattern), func.lower(Donor.name).like(pattern)))
    page = db.paginate(query, page=page_number(), per_page=PER_PAGE,
                       error_out=False)
    ids = [donor.id for donor in page.items]
    given = dict(db.session.execute(
        select(Donation.donor_id, func.count()).where(Donation.donor_id.in_(ids))
        .group_by(Donation.donor_id)).all()) if ids else {}
    return render_template("admin/donors.html", page=page, form=form, given=given,
                           pager_args=_pager_args())


@bp.get("/donors/<int:donor_id>")
def donor(donor_id: int):
    person = db.get_or_404(Donor, donor_id)
    account = db.session.get(User, person.user_id) if person.user_id else None
    gifts = db.session.scalars(select(Donation).where(Donation.donor_id == person.id)
                               .order_by(Donation.created_at.desc()).limit(500)).all()
    recurring = db.session.scalars(select(RecurringGift).where(
        RecurringGift.donor_id == person.id).order_by(RecurringGift.started_at.desc())).all()
    mails = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.recipient == person.email).order_by(OutboxMessage.id.desc())
        .limit(100)).all()
    totals: dict[str, int] = {}
    for gift in gifts:
        totals[gift.currency] = totals.get(gift.currency, 0) + gift.net_cents
    topics = followed_topics(account.id) if account else []
    return render_template("admin/donor.html", donor=person, account=account, gifts=gifts,
                           recurring=recurring, mails=mails, totals=totals, topics=topics,
                           newsletter=newsletter_status(person.email))


@bp.get("/donations")
def donations():
    form = DonationFilterForm(request.args, meta={"csrf": False})
    query = select(Donation).join(Donor).order_by(Donation.created_at.desc(),
                                                  Donation.id.desc())
    if form.validate():
        if form.start.data:
            query = query.where(Donation.created_at >= datetime.combine(
                form.start.data, time.min, UTC))
        if form.end.data:
            query = query.where(Donation.created_at < datetime.combine(
                form.end.data + timedelta(days=1), time.min, UTC))
        if form.campaign.data:
            query = query.where(Donation.campaign == form.campaign.data)
        if form.frequency.data:
            query = query.where(Donation.frequency == form.frequency.data)
        if form.status.data:
            query = query.where(Donation.status == form.status.data)
    page = db.paginate(query, page=page_number(), per_page=PER_PAGE,
                       error_out=False)
    return render_template("admin/donations.html", page=page, form=form,
                           pager_args=_pager_args())


@bp.get("/audit")
def audit():
    page = db.paginate(select(AuditEntry).order_by(AuditEntry.id.desc()),
                       page=page_number(), per_page=PER_PAGE,
                       error_out=False)
    return render_template("admin/audit.html", page=page)
