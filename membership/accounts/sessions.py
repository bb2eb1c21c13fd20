"""Sign-ins kept on the server: a cookie names a `LoginSession`, and only the server decides
whether it still stands (logout, password change and reset end it for good)."""

from __future__ import annotations

import hashlib
import secrets
from typing import NamedTuple

from flask import current_app, g, request, session
from flask_login import current_user
from sqlalchemy import bindparam, delete, select

from membership.accounts.models import LoginSession, User
from membership.extensions import db
from membership.sql import read_rows
from membership.types import utcnow


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User, remember: bool = False) -> None:
    """A new sign-in for `user`, lasting as long as the cookie that will carry it; sets
    `user.login_token` for Flask-Login to put in the cookies. Flushes."""
    config = current_app.config
    lifetime = (config["REMEMBER_COOKIE_DURATION"] if remember
                else config["PERMANENT_SESSION_LIFETIME"])
    token = secrets.token_urlsafe(24)
    # Sign-ins whose cookies expired anyway go as new ones come: the table stays small.
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id,
                                                  LoginSession.expires_at <= utcnow()))
    db.session.add(LoginSession(user_id=user.id, token_hash=_hash(token),
                                expires_at=utcnow() + lifetime))
    db.session.flush()
    user.login_token = token


class SignIn(NamedTuple):
    """What a page shows of its signed-in reader, read without loading the account: a page
    kept in memory (membership.page_cache) needs no more, and is served without it."""

    id: int
    email: str
    name: str
    language: str | None
    is_staff: bool
    verified: bool


# Built once, values bound per request: a sign-in is checked on every reader's request,
# and building the statement anew cost 0.15 ms each time (measured), more than the query.
_SIGN_IN = (
    select(User.id, User.email, User.name, User.language, User.is_staff,
           User.email_verified_at.is_not(None))
    .join(LoginSession, LoginSession.user_id == User.id)
    .where(User.id == bindparam("user_id"), LoginSession.token_hash == bindparam("token_hash"),
           LoginSession.expires_at > bindparam("now")))


def _split(cookie_id: str) -> tuple[int, str] | None:
    raw_id, _, token = cookie_id.partition(":")
    if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 10 and token):
        return None
    return int(raw_id), token


def _signed_in(cookie_id: str) -> SignIn | None:
    """The sign-in a cookie's `id:token` names, while it stands."""
    parts = _split(cookie_id)
    if parts is None:
        return None
    rows = read_rows(_SIGN_IN, {"user_id": parts[0], "token_hash": _hash(parts[1]),
                                "now": utcnow()})
    return SignIn(*rows[0]) if rows else None


def current_sign_in() -> SignIn | None:
    """This request's sign-in (the one its session cookie names), checked once a request:
    again only if the request signs in or out meanwhile."""
    cookie_id = session.get("_user_id")
    kept = g.get("_sign_in")
    if kept is None or kept[0] != cookie_id:
        kept = g._sign_in = (cookie_id, _signed_in(cookie_id) if cookie_id else None)
    return kept[1]


def checked_account_id() -> int | None:
    """The account id of this request's sign-in if it was checked already; never a query
    (the request log asks, through `observability.logs.ACCOUNT_ID_KEY`)."""
    kept = g.get("_sign_in")
    return kept[1].id if kept is not None and kept[1] is not None else None


def reader_language() -> str | None:
    """The language the signed-in reader chose, from their sign-in rather than their
    account: a page kept in memory is served without loading it. A reader known only by
    the remember-me cookie is signed in from it first (Flask-Login then names them in the
    session). Handed to `i18n.select_locale` through `i18n.READER_LANGUAGE_KEY`."""
    remembered = current_app.config["REMEMBER_COOKIE_NAME"] in request.cookies
    if "_user_id" not in session and not (remembered and current_user.is_authenticated):
        return None
    sign_in = current_sign_in()
    return sign_in.language if sign_in is not None else None


def load_session_user(cookie_id: str) -> User | None:
    """The account a cookie's `id:token` names, while its sign-in stands."""
    own = cookie_id == session.get("_user_id")
    sign_in = current_sign_in() if own else _signed_in(cookie_id)
    user = db.session.get(User, sign_in.id) if sign_in is not None else None
    if user is not None:
        user.login_token = cookie_id.partition(":")[2]
    if own:
        # The account as loaded, which the page shows: another request may have changed
        # it since the sign-in was read (a page kept under the sign-in checks they agree).
        g._sign_in = (cookie_id, _sign_in_of(user) if user is not None else None)
    return user


def _sign_in_of(user: User) -> SignIn:
    return SignIn(user.id, user.email, user.name, user.language, user.is_staff,
                  user.is_verified)


def end_session(user: User) -> None:
    """Log out: the sign-in this request runs under is gone. Flushes."""
    if user.login_token:
        db.session.execute(delete(LoginSession).where(
            LoginSession.token_hash == _hash(user.login_token)))


def end_other_sessions(user: User) -> None:
    """Every sign-in of `user` but this request's (password change); all of them when
    there is none (password reset from a link). Flushes."""
    statement = delete(LoginSession).where(LoginSession.user_id == user.id)
    if user.login_token:
        statement = statement.where(LoginSession.token_hash != _hash(user.login_token))
    db.session.execute(statement)

