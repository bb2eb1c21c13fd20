"""A shared cache in front of the app, as a CDN's would be, for what says it may be shared.

It keeps a GET's answer when the answer says any cache may keep it (`Cache-Control:
public` with a `max-age`), sets no cookie and varies on nothing, and serves it again for
at most EDGE_CACHE_SECONDS (never longer than its max-age) to requests without
credentials (RFC 9111: a cookie does not make an answer that does not vary on it
private). Such an answer is the same for everyone (progress.json), so
serving it again without running the app changes nothing but the cost: a campaign page's
progress bar, polled by every open page, costs one request a second per URL.

Answers served from here are counted (`edge_cache_hits_total`), not logged one per line,
as a CDN's would not be; each still gets its own request id."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable

from cachetools import TTLCache
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.datastructures import ResponseCacheControl
from werkzeug.http import parse_cache_control_header

from membership.observability.logs import REQUEST_ID_HEADER
from membership.observability.metrics import EDGE_CACHE_HITS

Kept = tuple[float, str, list[tuple[str, str]], bytes]  # until, status, headers, body


class EdgeCache:
    def __init__(self, app: Callable, seconds: float, size: int):
        self.app = app
        self.seconds = seconds
        self.answers: TTLCache = TTLCache(maxsize=size, ttl=seconds)
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or "HTTP_AUTHORIZATION" in environ:
            return self.app(environ, start_response)
        key = (environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
        with self.lock:
            kept: Kept | None = self.answers.get(key)
        if kept is not None and kept[0] > time.monotonic():
            EDGE_CACHE_HITS.inc()
            start_response(kept[1], [*kept[2], (REQUEST_ID_HEADER, uuid.uuid4().hex)])
            return [kept[3]]
        return self._answer_and_keep(key, environ, start_response)

    def _answer_and_keep(self, key: tuple, environ: dict,
                         start_response: Callable) -> Iterable[bytes]:
        answer: dict = {}

        def remember(status: str, headers: list[tuple[str, str]], exc_info=None):
            answer["status"], answer["headers"] = status, headers
            return start_response(status, headers, exc_info)

        result = self.app(environ, remember)
        seconds = self._shareable_for(answer.get("status", ""), answer.get("headers", []))
        if not seconds:
            return result
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        headers = [(name, value) for name, value in answer["headers"]
                   if name.lower() != REQUEST_ID_HEADER.lower()]
        with self.lock:
            self.answers[key] = (time.monotonic() + seconds, answer["status"], headers, body)
        return [body]

    def _shareable_for(self, status: str, headers: list[tuple[str, str]]) -> float:
        """How long the answer may be served again from here; 0: not at all."""
        if not status.startswith("200 "):
            return 0
        names = {name.lower(): value for name, value in headers}
        if "set-cookie" in names or "vary" in names:
            return 0
        control = parse_cache_control_header(names.get("cache-control", ""),
                                             cls=ResponseCacheControl)
        if not control.public or control.private or control.no_store or control.no_cache \
                or not control.max_age:
            return 0
        return min(float(control.max_age), self.seconds)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except that an answer saying it is public is left
    alone when the session did not change: no refreshed cookie and no `Vary: Cookie`
    (Flask-Login looks into every session for its remember flag, which marks the session
    read, which would make every answer vary on the cookie).

    The same signatures, made faster: OpenSSL's SHA-1 (Flask's own wrapper of it sends
    `hmac` down its pure-Python path) and one serializer per app, not one per request.
    Every new visitor's page signs a session."""

    digest_method = staticmethod(hashlib.sha1)

    def __init__(self) -> None:
        self._serializers: dict[int, tuple[object, URLSafeTimedSerializer | None]] = {}

    def get_signing_serializer(self, app) -> URLSafeTimedSerializer | None:
        # Keyed by the app and checked against its key: tests build many apps.
        kept = self._serializers.get(id(app))
        if kept is None or kept[0] is not app.secret_key:
            kept = (app.secret_key, super().get_signing_serializer(app))
            self._serializers[id(app)] = kept
        return kept[1]

    def save_session(self, app, session, response) -> None:
        if response.cache_control.public and not session.modified:
            return
        super().save_session(app, session, response)
