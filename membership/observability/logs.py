"""Structured logs: one line per request, per Stripe event and per command run.

Every line goes through the app's logger (`membership`, and its children `membership.request`,
`membership.webhook`, `membership.command`) to stderr: one JSON object per line
(python-json-logger with orjson) when `LOG_FORMAT=json`, plain text when `LOG_FORMAT=text`.
Loggers belong to the process, not to an app, so configuring them again (tests build many
apps) replaces our handler instead of adding a second one."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Callable
from functools import update_wrapper
from typing import Any

import click
from flask import Flask, current_app, g, has_request_context, request
from flask.logging import default_handler
from pythonjsonlogger.orjson import OrjsonFormatter
from werkzeug.local import LocalProxy

from membership.config import ConfigError

LOG_FORMATS = ("json", "text")
REQUEST_ID_HEADER = "X-Request-ID"
# The signed-in account's id when only the sign-in was checked (a page served from memory),
# asked of accounts without importing it; set when the app is built.
ACCOUNT_ID_KEY = "logs.account_id"
# A request id a proxy hands us is kept only if it is visible ASCII of a bounded length:
# it is copied into every log line and into the response's headers.
_SANE_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")

request_log = logging.getLogger("membership.request")
webhook_log = logging.getLogger("membership.webhook")
command_log = logging.getLogger("membership.command")


class _StderrHandler(logging.StreamHandler):
    """Writes to `sys.stderr` as it is when the record comes, not as it was when the app was
    built (test runners and click's CliRunner swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class _RequestIdFilter(logging.Filter):
    """Stamps every record logged during a request with its id, so that an error logged
    deep inside a view can be matched with the request's own line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context():
            request_id = g.get("request_id")
            if request_id is not None:
                record.request_id = request_id
        return True


def _formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        # orjson writes a line several times faster than the json module: a request line
        # was a third of a cached page's time.
        return OrjsonFormatter(["levelname", "name", "message"], timestamp="time",
                               rename_fields={"levelname": "level", "name": "logger"})
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(app: Flask) -> None:
    """Send the app logger's records to stderr, once each, in the format `LOG_FORMAT` names."""
    log_format = app.config["LOG_FORMAT"]
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, "
                          f"not {log_format!r}")
    logger = app.logger
    try:
        logger.setLevel(app.config["LOG_LEVEL"])
    except ValueError as error:
        raise ConfigError(f"LOG_LEVEL: {error}") from error
    for handler in list(logger.handlers):
        if handler is default_handler or isinstance(handler, _StderrHandler):
            logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(_formatter(log_format))
    handler.addFilter(_RequestIdFilter())
    logger.addHandler(handler)
    # Our handler writes each record; the root logger's (alembic's logging configuration adds
    # one during `db upgrade`, gunicorn may add others) would write it a second time.
    logger.propagate = False


# Requests ---------------------------------------------------------------------------------

def request_id(trusted_proxies: int) -> str:
    """The id of the current request: the one a trusted proxy sent, when it is sane, else
    a new one."""
    if trusted_proxies:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        if _SANE_REQUEST_ID.fullmatch(offered):
            return offered
    return uuid.uuid4().hex


def _printable(text: str) -> str:
    # A decoded path may hold line breaks (%0A); plain-text lines must stay one line each.
    return text if text.isprintable() else ascii(text)


def signed_in_account_id() -> int | None:
    """The signed-in account's id, if this request already loaded it or its sign-in: logging
    never costs a query. (Flask-Login keeps the loaded user in `g._login_user`; it has no
    public way to ask whether it did. A page served from memory checks only the sign-in.)"""
    user = g.get("_login_user")
    if user is None:
        checked = current_app.extensions.get(ACCOUNT_ID_KEY)
        return checked() if checked else None
    # `login_user(current_user)` stores the proxy itself, which then points at itself: a log
    # line must never be what breaks the request, so such a request goes without the id.
    if isinstance(user, LocalProxy) or not user.is_authenticated:
        return None
    return user.id


def log_request(status: int, seconds: float) -> None:
    duration_ms = round(seconds * 1000, 2)
    request_log.info("%s %s %s %.1f ms", request.method, _printable(request.path), status,
                     duration_ms, extra={
                         "request_id": g.get("request_id"),
                         "method": request.method,
                         "path": request.path,
                         "status": status,
                         "duration_ms": duration_ms,
                         "account_id": signed_in_account_id(),
                         "remote_addr": request.remote_addr,
                     })


# Stripe events ----------------------------------------------------------------------------

def log_webhook_event(event_id: str | None, event_type: str | None, outcome: str,
                      seconds: float, reason: str | None = None) -> None:
    duration_ms = round(seconds * 1000, 2)
    fields: dict[str, Any] = {"event_id": event_id, "event_type": event_type,
                              "outcome": outcome, "duration_ms": duration_ms}
    if reason:
        fields["reason"] = reason
    level = {"rejected": logging.WARNING, "failed": logging.ERROR,
             "store_failed": logging.ERROR}.get(outcome, logging.INFO)
    webhook_log.log(level, "stripe event %s %s: %s in %.1f ms", event_id or "-",
                    event_type or "-", outcome, duration_ms, extra=fields)


# Commands ---------------------------------------------------------------------------------

def _exit_code(error: BaseException) -> int:
    if isinstance(error, click.exceptions.Exit):
        return error.exit_code
    if isinstance(error, click.ClickException):
        return error.exit_code
    if isinstance(error, SystemExit):
        if error.code is None:
            return 0
        return error.code if isinstance(error.code, int) else 1
    return 1  # click.Abort, KeyboardInterrupt, any other exception


def _log_command(name: str, exit_code: int, seconds: float) -> None:
    duration_ms = round(seconds * 1000, 2)
    outcome = "ok" if exit_code == 0 else "error"
    command_log.log(logging.INFO if exit_code == 0 else logging.ERROR,
                    "command %s: %s (exit %d) in %.1f ms", name, outcome, exit_code, duration_ms,
                    extra={"command": name, "outcome": outcome, "exit_code": exit_code,
                           "duration_ms": duration_ms})


def _logged(name: str, callback: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args, **kwargs):
        started = time.perf_counter()
        try:
            result = callback(*args, **kwargs)
        except BaseException as error:
            _log_command(name, _exit_code(error), time.perf_counter() - started)
            raise
        _log_command(name, 0, time.perf_counter() - started)
        return result

    update_wrapper(run, callback)
    run.logged_command = True  # type: ignore[attr-defined]
    return run


def log_commands(group: click.Group, path: tuple[str, ...] = ()) -> None:
    """Make every command under `group` log one line per run.

    Blueprints' command groups are module-level objects shared by every app built in the
    process, so a command already wrapped is left as it is."""
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            log_commands(command, (*path, name))
        elif command.callback is not None and not getattr(command.callback, "logged_command",
                                                          False):
            command.callback = _logged(" ".join((*path, name)), command.callback)
