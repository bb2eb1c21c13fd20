"""The one blueprint every staff area registers its views on, behind the same guard."""

from __future__ import annotations

from flask import Blueprint, request

from membership.admin.access import staff_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@staff_required
def _guard_every_admin_page() -> None:
    """Runs before every view of this blueprint, so no admin page can forget the check."""


def pager_args() -> dict:
    """The query string of a listing, without its page: the pager's links keep filters."""
    return {key: value for key, value in request.args.items() if key != "page"}
