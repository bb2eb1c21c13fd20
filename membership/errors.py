"""Error pages: HTML for people, JSON for API clients, never a stack trace."""

from __future__ import annotations

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from membership.extensions import db

# A form that failed validation is shown again, its errors next to the fields, with this.
INVALID = 422


def form_status(form) -> int:
    return INVALID if form.errors else 200


TITLES = {
    400: _l("Bad request"),
    403: _l("Access denied"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    413: _l("Request too large"),
    429: _l("Too many requests"),
    500: _l("Something went wrong"),
}
# Said when the code that stopped the request gave no reason of its own (Werkzeug's
# default descriptions are English only).
REASONS = {
    400: _l("The request could not be understood. Please go back and try again."),
    403: _l("You do not have access to this page."),
    404: _l("There is no page at this address. The link may be mistyped, or the page may "
            "have moved."),
    405: _l("This address does not take that kind of request."),
    413: _l("What was sent is larger than this site accepts."),
}


def _wants_json() -> bool:
    if request.path.endswith(".json") or request.is_json:
        return True
    accepted = request.accept_mimetypes
    return accepted["application/json"] > accepted["text/html"]


def _render(status: int, reason: str):
    title = str(TITLES.get(status, _l("Error")))
    if _wants_json():
        return jsonify(error=title, reason=reason), status
    return render_template("errors/error.html", status=status, title=title,
                           reason=reason), status


def _http_error(error: HTTPException):
    status = error.code or 500
    if status >= 500:
        db.session.rollback()
    reason = error.description or ""
    if reason == type(error).description and status in REASONS:
        reason = str(REASONS[status])
    if status == 429:
        reason = _("You have tried this too many times. Please wait a minute and try again.")
    return _render(status, reason)


def _csrf_error(error: CSRFError):
    return _render(400, _("The form expired or was sent from another site (%(reason)s). "
                          "Please go back, reload the page and try again.",
                          reason=error.description))


def _unexpected_error(error: Exception):
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    db.session.rollback()
    return _http_error(InternalServerError(_("We could not complete your request. Nothing was "
                                             "changed. Please try again in a moment.")))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
