"""Public pages kept in memory for a second: when a newsletter or a launch sends readers
in, each page is rendered once a second per URL and language, and for signed-in readers
once per what the page shows of them, not once a visit.

What is kept is the page cut where its CSRF token stands: every form must carry the
visitor's own token (the contract), so each answer joins the parts with it. A page is
kept only when it flashed nothing and answered 200; a visitor with flash messages to see
is served afresh.

A signed-in reader's page is kept under what it shows of them, which each view names
(`public_page(reader=…)`, given the reader's sign-in; by default `frame`, what every
page's header shows): readers alike share one, and a reader's own change (a topic
followed) changes the key, so it shows on their very next page. What is each reader's
alone (their address and name in the gift form) a view puts on the page with
`readers_own`: the page is kept with a mark there, and each reader is served it with
their own. Anything else (staff edits, a gift raising a campaign's figures) shows within
PAGE_CACHE_SECONDS. The memory is bounded (PAGE_CACHE_SIZE pages a process)."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Hashable
from functools import partial, wraps

from cachetools import TTLCache
from flask import Flask, Response, current_app, g, make_response, request, session
from flask_wtf.csrf import generate_csrf
from markupsafe import escape

from membership.accounts.sessions import SignIn, current_sign_in
from membership.i18n import current_language

EXTENSION = "page_cache"


class PageCache:
    def __init__(self, size: int, seconds: float):
        self.pages: TTLCache = TTLCache(maxsize=size, ttl=seconds)
        self.lock = threading.Lock()

    def get(self, key: tuple) -> list[bytes] | None:
        with self.lock:
            return self.pages.get(key)

    def put(self, key: tuple, parts: list[bytes]) -> None:
        with self.lock:
            self.pages[key] = parts


def init_page_cache(app: Flask) -> None:
    seconds = app.config["PAGE_CACHE_SECONDS"]
    app.extensions[EXTENSION] = PageCache(app.config["PAGE_CACHE_SIZE"], seconds) \
        if seconds > 0 else None


def frame(reader: SignIn) -> tuple:
    """What base.html shows of a signed-in reader: the staff link, and the address to
    confirm while it is not."""
    return (reader.is_staff, None if reader.verified else reader.email)


def _visitor(reader: Callable[[SignIn], Hashable]) -> tuple | None:
    """Whose page this is, for the key: () for a visitor not signed in, ("reader", …) for
    a reader; None when the page is not to be kept (flash messages to show, a session or
    remember-me cookie that names nobody signed in now). A reader's account is not loaded:
    their sign-in tells what the page shows of them."""
    if session.get("_flashes"):
        return None
    if "_user_id" in session:
        sign_in = current_sign_in()
        return ("reader", reader(sign_in)) if sign_in is not None else None
    if current_app.config["REMEMBER_COOKIE_NAME"] in request.cookies:
        return None
    return ()


def public_page(view: Callable | None = None, *,
                reader: Callable[[SignIn], Hashable] = frame) -> Callable:
    """Serve the view's GET answer from memory (see the module's docstring); `reader`
    names what the page shows of a signed-in reader, all of it but what the view puts on
    the page with `readers_own`."""
    if view is None:
        return partial(public_page, reader=reader)

    @wraps(view)
    def kept(*args, **kwargs):
        cache: PageCache | None = current_app.extensions[EXTENSION]
        if cache is None or request.method != "GET":
            return view(*args, **kwargs)
        visitor = _visitor(reader)
        if visitor is None:
            return view(*args, **kwargs)
        key = (request.endpoint, request.full_path, current_language(), visitor)
        parts = cache.get(key)
        if parts is not None:
            return Response(_joined(parts), mimetype="text/html")
        g._page_marks = {}
        try:
            response = make_response(view(*args, **kwargs))
        finally:
            marks = g.pop("_page_marks")
        if response.mimetype != "text/html":
            return response
        # Kept as bytes: an answer is not encoded again (Arabic and Hebrew pages are
        # twice their length in UTF-8).
        parts = _cut(response.get_data(), g.get("csrf_token"), marks)
        # Kept only under what it shows: the account as the page loaded it must still be
        # the sign-in the key was made of (another request may have changed it between).
        if response.status_code == 200 and not session.get("_flashes") \
                and not response.headers.getlist("Set-Cookie") and _visitor(reader) == visitor:
            cache.put(key, parts)
        if marks:
            response.set_data(_joined(parts))
        return response

    return kept


def readers_own(field: str, value: str) -> str:
    """`value`, the signed-in reader's own `field` of their sign-in (`SignIn`), as a kept
    view puts it on the page: while the page is rendered to be kept for every reader
    alike, a mark that each reader's own value, escaped, replaces whenever it is served."""
    marks = g.get("_page_marks")
    if marks is None:
        return value
    mark = f"reader-{field}-{secrets.token_hex(12)}"
    marks[mark] = field
    return mark


_CSRF_SLOT = "csrf"  # not a field of SignIn


def _cut(html: bytes, token: str | None, marks: dict[str, str]) -> list[bytes | str]:
    """The page as text between slots, each slot named where it stood: the CSRF token
    (long and random, so nothing else on a page can be mistaken for it) and the marks."""
    slots = dict(marks)
    if token:
        slots[token] = _CSRF_SLOT
    if not slots:
        return [html]
    pattern = re.compile(b"(" + b"|".join(re.escape(slot.encode()) for slot in slots) + b")")
    pieces = pattern.split(html)
    # re.split puts each slot it cut at between the text before and after it.
    return [piece if n % 2 == 0 else slots[piece.decode()] for n, piece in enumerate(pieces)]


def _joined(parts: list[bytes | str]) -> bytes:
    if len(parts) == 1:
        return parts[0]  # type: ignore[return-value]
    # Worked out once a page: the topic catalogue has a form, and so a token, per topic.
    values = {_CSRF_SLOT: generate_csrf().encode()} if _CSRF_SLOT in parts else {}
    sign_in = current_sign_in() if "_user_id" in session else None
    for field in SignIn._fields:
        if field in parts:
            values[field] = str(escape(getattr(sign_in, field))).encode()
    return b"".join(part if isinstance(part, bytes) else values[part] for part in parts)
