"""URL helpers shared by the blueprints."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, url_for


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL for links that leave the site (e-mails, Stripe's redirects):
    under SITE_URL when set, else under the current request's host."""
    base = current_app.config["SITE_URL"]
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def safe_next_url(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None (blocks open redirects such as
    `//evil.example`, `https://evil.example` or `/\\evil.example`)."""
    if not target:
        return None
    target = target.strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(char) < 32 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
