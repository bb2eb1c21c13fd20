"""The one blueprint every staff area registers its views on, behind the same guard."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from membership.admin.access import staff_required
from membership.reports.retention import parse_year
from membership.reports.windows import ReportError, refuse_unknown

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@staff_required
def _guard_every_admin_page() -> None:
    """Runs before every view of this blueprint, so no admin page can forget the check."""


def report_year() -> int:
    """The `year` a report is asked for, or ReportError (YearError) saying why; any other
    parameter is refused, so a misspelt one cannot silently report something else."""
    refuse_unknown(request.args.keys(), ("year",))
    return parse_year(request.args.get("year"))


def page_year(this_year: int) -> tuple[int, str | None]:
    """The year a report page shows: the one asked for, or this year with the reason the
    one asked for could not be shown (the page says it, next to the year picker)."""
    try:
        return parse_year(request.args.get("year") or str(this_year)), None
    except ReportError as error:
        return this_year, str(error)


def bad_request(error: ReportError):
    """A report's JSON answer to parameters that make no sense: 400, with the reason."""
    return jsonify(error="Bad Request", reason=str(error)), 400


def pager_args() -> dict:
    """The query string of a listing, without its page: the pager's links keep filters."""
    return {key: value for key, value in request.args.items() if key != "page"}
