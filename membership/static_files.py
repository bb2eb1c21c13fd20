"""Static files under fingerprinted URLs: `url_for('static', filename=…)` adds `v=`, a hash
of the file's content, and an answer to such a URL may be kept for a year (a changed file
has another URL). Without `v`, or with an old one, the file is served as before: revalidated
by its ETag."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Flask, Response, request

YEAR = 365 * 24 * 3600


def init_static_files(app: Flask) -> None:
    folder = Path(app.static_folder)
    # In development a file edited while the app runs gets a new fingerprint at once.
    edited = app.config["MEMBERSHIP_ENV"] == "development"

    @cache
    def content_hash(filename: str, _modified: int) -> str | None:
        path = folder / filename
        if not path.is_file() or not path.resolve().is_relative_to(folder.resolve()):
            return None
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]

    def fingerprint(filename: str) -> str | None:
        if not edited:
            return content_hash(filename, 0)
        try:
            return content_hash(filename, (folder / filename).stat().st_mtime_ns)
        except OSError:
            return None

    @app.url_defaults
    def _fingerprint(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "v" not in values:
            version = fingerprint(values.get("filename", ""))
            if version:
                values["v"] = version

    @app.after_request
    def _keep_for_a_year(response: Response) -> Response:
        if request.endpoint == "static" and response.status_code == 200 \
                and request.args.get("v") == fingerprint(request.view_args["filename"]):
            response.cache_control.public = True
            response.cache_control.max_age = YEAR
            response.cache_control.immutable = True
            response.cache_control.no_cache = None
        return response
