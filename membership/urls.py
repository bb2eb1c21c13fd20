"""URL helpers shared by the blueprints."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app

from membership.config import ConfigError, parse_site_url

SITE_URL_KEY = "membership.site_url_adapter"


def init_site_url(app: Flask) -> None:
    """Bind the URL map to SITE_URL once, so links can be built in commands, mail workers
    and background threads, where there is no request and no SERVER_NAME."""
    try:
        app.config["SITE_URL"] = parse_site_url(app.config["SITE_URL"])
    except ValueError as error:
        raise ConfigError(str(error)) from error
    parts = urlsplit(app.config["SITE_URL"])
    app.extensions[SITE_URL_KEY] = app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL under SITE_URL for links that leave the site (e-mails, command
    output, Stripe's redirects), the same inside and outside a request."""
    current_app.inject_url_defaults(endpoint, values)
    return current_app.extensions[SITE_URL_KEY].build(endpoint, values, force_external=True)


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
