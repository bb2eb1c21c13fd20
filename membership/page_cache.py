"""Public pages kept in memory for a second: when a newsletter or a launch sends readers
in, each page is rendered once a second per URL and language, and for signed-in readers
once per what the page shows of them, not once a visit.

What is kept is the page cut where its CSRF token stands: every form must carry the
visitor's own token (the contract), so each answer joins the parts with it. A page is
kept only when it flashed nothing and answered 200; a visitor with flash messages to see
is served afresh.

A signed-in reader's page is kept under what it shows of them, which each view names
(`public_page(reader=…)`; by default `frame`, what every page's header shows): readers
alike share one, and a reader's own change (a topic followed) changes the key, so it shows
on their very next page. Anything else (staff edits, a gift raising a campaign's figures)
shows within PAGE_CACHE_SECONDS. The memory is bounded (PAGE_CACHE_SIZE pages a process)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from functools import partial, wraps

from cachetools import TTLCache
from flask import Flask, Response, current_app, g, make_response, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

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


def frame() -> tuple:
    """What base.html shows of a signed-in reader: the staff link, and the address to
    confirm while it is not."""
    return (current_user.is_staff, None if current_user.is_verified else current_user.email)


def _visitor(reader: Callable[[], Hashable]) -> tuple | None:
    """Whose page this is, for the key: () for a visitor not signed in, ("reader", …) for
    a reader; None when the page is not to be kept (flash messages to show, a session or
    remember-me cookie that names nobody signed in now)."""
    if session.get("_flashes"):
        return None
    if "_user_id" in session:
        return ("reader", reader()) if current_user.is_authenticated else None
    if current_app.config["REMEMBER_COOKIE_NAME"] in request.cookies:
        return None
    return ()


def public_page(view: Callable | None = None, *,
                reader: Callable[[], Hashable] = frame) -> Callable:
    """Serve the view's GET answer from memory (see the module's docstring); `reader`
    names what the page shows of a signed-in reader, all of it."""
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
            return _page(parts)
        response = make_response(view(*args, **kwargs))
        if response.status_code == 200 and response.mimetype == "text/html" \
                and not session.get("_flashes") and not response.headers.getlist("Set-Cookie"):
            # Kept as bytes: an answer is not encoded again (Arabic and Hebrew pages are
            # twice their length in UTF-8).
            token = g.get("csrf_token")
            html = response.get_data()
            cache.put(key, html.split(token.encode()) if token else [html])
        return response

    return kept


def _page(parts: list[bytes]) -> Response:
    # The visitor's own token, where the page had the one it was rendered with; a token
    # is long and random, so nothing else on a page can be mistaken for it.
    return Response(generate_csrf().encode().join(parts) if len(parts) > 1 else parts[0],
                    mimetype="text/html")
