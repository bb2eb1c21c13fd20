"""Guards on what a request may carry, applied once for every route instead of in each view.

PostgreSQL refuses a NUL character in text and an integer beyond its column's range with
an error, and both databases overflow on huge offsets: hostile input of this kind gets a
4xx with the reason here, before any view or query sees it."""

from __future__ import annotations

from flask import Flask, abort, request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

# Ids are 32-bit integer columns on PostgreSQL.
MAX_ID = 2**31 - 1
# Far past the last page of any list staff or readers page through; beyond it, a 404.
MAX_PAGE = 100_000
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` that matches only what an id column can hold: a larger number is a 404
    like any id that does not exist, never a database error."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _has_nul(values) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))


def refuse_nul_characters() -> None:
    """No text a person types contains NUL: refuse it in the path, the query and forms."""
    if "\x00" in request.path or _has_nul(request.args) or (
            request.mimetype in _FORM_TYPES and _has_nul(request.form)):
        abort(400, _("The request contains a NUL character, which no field accepts."))


def page_number() -> int:
    """The `?page=` of a list: 1 by default; out of range or not a number is a 404."""
    page = request.args.get("page", 1, type=int)
    if not 1 <= page <= MAX_PAGE:
        abort(404)
    return page


def register_input_guards(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(refuse_nul_characters)
