"""Public pages kept in memory for a second: when a newsletter or a launch sends readers
in, each page is rendered once a second per URL and language (and, for a signed-in reader,
per reader), not once a visit.

What is kept is the page cut where its CSRF token stands: every form must carry the
visitor's own token (the contract), so each answer joins the parts with it. A page is
kept only when it flashed nothing and answered 200; a visitor with flash messages to see
is served afresh. A reader's change shows on their next page view: each POST by a
signed-in session moves the session's `page_stamp`, which is part of that reader's keys;
anything else (staff edits, a gift raising a campaign's figures) shows within the second
(`PAGE_CACHE_SECONDS`). The memory is bounded (`PAGE_CACHE_SIZE` pages per process)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps

from cachetools import TTLCache
from flask import Flask, Response, current_app, g, make_response, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from membership.i18n import current_language

EXTENSION = "page_cache"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
STAMP = "page_stamp"


class PageCache:
    def __init__(self, size: int, seconds: float):
        self.pages: TTLCache = TTLCache(maxsize=size, ttl=seconds)
        self.lock = threading.Lock()

    def get(self, key: tuple) -> list[str] | None:
        with self.lock:
            return self.pages.get(key)

    def put(self, key: tuple, parts: list[str]) -> None:
        with self.lock:
            self.pages[key] = parts


def init_page_cache(app: Flask) -> None:
    seconds = app.config["PAGE_CACHE_SECONDS"]
    app.extensions[EXTENSION] = PageCache(app.config["PAGE_CACHE_SIZE"], seconds) \
        if seconds > 0 else None

    @app.before_request
    def note_a_change() -> None:
        # A signed-in reader's POST may change what their pages show (a topic followed,
        # the newsletter joined): their kept pages are theirs no more.
        if request.method not in SAFE_METHODS and "_user_id" in session:
            session[STAMP] = session.get(STAMP, 0) + 1


def _visitor() -> tuple | None:
    """Whose page this is, for the key: () for a visitor not signed in, (account id,
    stamp) for a reader; None when the page is not to be kept (flash messages to show,
    a remember-me cookie that would sign the visitor in while rendering)."""
    if session.get("_flashes"):
        return None
    if "_user_id" in session:
        return (current_user.get_id(), session.get(STAMP, 0)) \
            if current_user.is_authenticated else None
    if current_app.config["REMEMBER_COOKIE_NAME"] in request.cookies:
        return None
    return ()


def public_page(view: Callable) -> Callable:
    """Serve the view's GET answer from memory for a second (see the module's docstring)."""

    @wraps(view)
    def kept(*args, **kwargs):
        cache: PageCache | None = current_app.extensions[EXTENSION]
        if cache is None or request.method != "GET":
            return view(*args, **kwargs)
        visitor = _visitor()
        if visitor is None:
            return view(*args, **kwargs)
        key = (request.endpoint, request.full_path, current_language(), visitor)
        parts = cache.get(key)
        if parts is not None:
            return _page(parts)
        response = make_response(view(*args, **kwargs))
        if response.status_code == 200 and response.mimetype == "text/html" \
                and not session.get("_flashes") and not response.headers.getlist("Set-Cookie"):
            token = g.get("csrf_token")
            html = response.get_data(as_text=True)
            cache.put(key, html.split(token) if token else [html])
        return response

    return kept


def _page(parts: list[str]) -> Response:
    # The visitor's own token, where the page had the one it was rendered with; a token
    # is long and random, so nothing else on a page can be mistaken for it.
    return Response(generate_csrf().join(parts) if len(parts) > 1 else parts[0],
                    mimetype="text/html")
