from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from membership.admin.access import staff_required
from membership.admin.audit import record_staff_action
from membership.admin.forms import EventFilterForm, ReplayForm
from membership.extensions import db
from membership.inputs import page_number
from membership.mail.models import OutboxMessage
from membership.mail.services import render_for_staff
from membership.payments.models import StripeEvent
from membership.payments.webhook import UNREADABLE, replay_event

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@staff_required
def _guard_every_admin_page() -> None:
    """Runs before every view of this blueprint, so no admin page can forget the check."""


@bp.get("/outbox")
def outbox():
    page = db.paginate(
        select(OutboxMessage).order_by(OutboxMessage.id.desc()),
        page=page_number(),
        per_page=50,
    )
    return render_template("admin/outbox.html", page=page)


@bp.get("/outbox/<int:message_id>")
def outbox_message(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    text = render_for_staff(message)
    # Reading a reader's mail is itself on the record.
    record_staff_action("outbox.view", f"message {message.id}", recipient=message.recipient)
    db.session.commit()
    return render_template("admin/outbox_message.html", message=message, text=text)


# Stripe's event log -----------------------------------------------------------------------------

@bp.get("/events")
def events():
    filters = EventFilterForm(request.args, meta={"csrf": False})
    query = select(StripeEvent).order_by(StripeEvent.created.desc(), StripeEvent.id.desc())
    if filters.validate():
        if filters.type.data:
            query = query.where(StripeEvent.type == filters.type.data)
        if filters.status.data:
            query = query.where(StripeEvent.status == filters.status.data)
        if filters.day.data:
            start = datetime.combine(filters.day.data, time.min, UTC)
            query = query.where(StripeEvent.created >= start,
                                StripeEvent.created < start + timedelta(days=1))
    page = db.paginate(query, page=page_number(), per_page=50,
                       error_out=False)
    types = db.session.scalars(select(StripeEvent.type).distinct().order_by(StripeEvent.type))
    pager_args = {key: value for key, value in request.args.items() if key != "page"}
    return render_template("admin/events.html", page=page, filters=filters, types=list(types),
                           pager_args=pager_args)


@bp.get("/events/<stripe_id>")
def event_detail(stripe_id: str):
    event = db.first_or_404(select(StripeEvent).where(StripeEvent.stripe_id == stripe_id))
    payload = json.dumps(json.loads(event.payload), indent=2, sort_keys=True)
    return render_template("admin/event.html", event=event, payload=payload,
                           replay_form=ReplayForm(formdata=None))


@bp.post("/events/<stripe_id>/replay")
def replay(stripe_id: str):
    if not ReplayForm().validate_on_submit():
        abort(400)
    outcome = replay_event(stripe_id)
    if outcome.http_status == 404:
        abort(404)
    record_staff_action("stripe_event.replay", f"event {stripe_id}",
                        outcome=outcome.body.get("status") or outcome.body.get("error"))
    db.session.commit()
    if outcome.http_status == 200:
        flash(_("Event %(id)s: %(status)s.", id=stripe_id,
                status=outcome.body["status"].replace("_", " ")), "success")
    elif outcome.body.get("status") == UNREADABLE:
        flash(_("Event %(id)s: Stripe could not be read (%(reason)s); it will be read "
                "again.", id=stripe_id, reason=outcome.body["reason"]), "error")
    else:
        flash(_("Event %(id)s failed again; the error is shown below.", id=stripe_id), "error")
    return redirect(url_for("admin.event_detail", stripe_id=stripe_id))


# The other staff areas register their views on this blueprint, behind the same guard.
from membership.admin import campaigns, dashboard, people, topics  # noqa: E402, F401
