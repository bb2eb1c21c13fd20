from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from membership.admin.access import staff_required
from membership.extensions import db
from membership.mail.models import OutboxMessage

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@staff_required
def _guard_every_admin_page() -> None:
    """Runs before every view of this blueprint, so no admin page can forget the check."""


@bp.get("/")
def home():
    return render_template("admin/home.html")


@bp.get("/outbox")
def outbox():
    page = db.paginate(
        select(OutboxMessage).order_by(OutboxMessage.id.desc()),
        page=request.args.get("page", 1, type=int),
        per_page=50,
    )
    return render_template("admin/outbox.html", page=page)


@bp.get("/outbox/<int:message_id>")
def outbox_message(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    return render_template("admin/outbox_message.html", message=message)
