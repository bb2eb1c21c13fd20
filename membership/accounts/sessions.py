"""Sign-ins kept on the server: a cookie names a `LoginSession`, and only the server decides
whether it still stands (logout, password change and reset end it for good)."""

from __future__ import annotations

import hashlib
import secrets

from flask import current_app
from sqlalchemy import delete, select

from membership.accounts.models import LoginSession, User
from membership.extensions import db
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


def load_session_user(cookie_id: str) -> User | None:
    """The account a cookie's `id:token` names, while its sign-in stands."""
    raw_id, _, token = cookie_id.partition(":")
    if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 10 and token):
        return None
    user = db.session.scalar(
        select(User).join(LoginSession, LoginSession.user_id == User.id)
        .where(User.id == int(raw_id), LoginSession.token_hash == _hash(token),
               LoginSession.expires_at > utcnow()))
    if user is not None:
        user.login_token = token
    return user


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

