"""The mail outbox and Stripe's event log, with staff's replay of an event."""

from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from membership.admin.audit import record_staff_action
from membership.admin.blueprint import bp, pager_args
from membership.admin.forms import EventFilterForm
from membership.extensions import db
from membership.forms import PostOnlyForm
from membership.inputs import page_number
from membership.mail.models import OutboxMessage
from membership.mail.services import outbox_newest_first, render_for_staff
from membership.payments.log import event_by_stripe_id, event_types, events_matching
from membership.payments.webhook import UNREADABLE, replay_event


@bp.get("/outbox")
def outbox():
    page = db.paginate(outbox_newest_first(), page=page_number(), per_page=50)
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
    query = (events_matching(filters.type.data, filters.status.data, filters.day.data)
             if filters.validate() else events_matching())
    page = db.paginate(query, page=page_number(), per_page=50, error_out=False)
    return render_template("admin/events.html", page=page, filters=filters,
                           types=event_types(), pager_args=pager_args())


@bp.get("/events/<stripe_id>")
def event_detail(stripe_id: str):
    event = db.first_or_404(event_by_stripe_id(stripe_id))
    payload = json.dumps(json.loads(event.payload), indent=2, sort_keys=True)
    return render_template("admin/event.html", event=event, payload=payload,
                           replay_form=PostOnlyForm(formdata=None))


@bp.post("/events/<stripe_id>/replay")
def replay(stripe_id: str):
    if not PostOnlyForm().validate_on_submit():
        abort(400)
    outcome = replay_event(stripe_id, note=lambda status: record_staff_action(
        "stripe_event.replay", f"event {stripe_id}", outcome=status))
    if outcome.http_status == 404:
        abort(404)
    if outcome.http_status == 200:
        flash(_("Event %(id)s: %(status)s.", id=stripe_id,
                status=outcome.body["status"].replace("_", " ")), "success")
    elif outcome.body.get("status") == UNREADABLE:
        flash(_("Event %(id)s: Stripe could not be read (%(reason)s); it will be read "
                "again.", id=stripe_id, reason=outcome.body["reason"]), "error")
    else:
        flash(_("Event %(id)s failed again; the error is shown below.", id=stripe_id), "error")
    return redirect(url_for("admin.event_detail", stripe_id=stripe_id))
