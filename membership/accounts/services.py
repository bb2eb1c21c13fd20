"""Account operations as plain functions: they flush, the caller commits."""

from __future__ import annotations

import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from membership import tokens
from membership.accounts.models import User, new_session_token
from membership.accounts.sessions import end_other_sessions
from membership.accounts.signals import (
    account_closing,
    account_deleting,
    account_exporting,
    email_verified,
)
from membership.extensions import db
from membership.i18n import current_language
from membership.mail.services import forget_recipient, queue_mail
from membership.sql import insert_or_ignore
from membership.types import isoformat, utcnow
from membership.urls import external_url

_hasher = PasswordHasher()
# Compared against when the e-mail is unknown, so a failed log-in takes as long either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
_COMMON_PASSWORDS = frozenset(FREQUENCY_LISTS["passwords"])

VERIFY_EMAIL = "verify-email"
# A token purpose, not a secret (bandit and ruff take the name for one).
RESET_PASSWORD = "reset-password"  # noqa: S105  # nosec B105
CHANGE_EMAIL = "change-email"
SIGN_IN_LINK = "sign-in-link"
MIN_PASSWORD_LENGTH = 10
# No argon2 hash starts with "!": nothing typed ever matches it (the reader can set a
# password by resetting it).
UNUSABLE_PASSWORD = "!sign-in-by-link"  # noqa: S105  # nosec B105


class AccountError(Exception):
    """A rule stopped the operation; the message is safe to show to the reader."""


class EmailTaken(AccountError):
    pass


class InvalidToken(AccountError):
    pass


class WrongPassword(AccountError):
    pass


def normalize_email(email: str) -> str:
    """One spelling per address: trimmed and lower-cased (no mail provider we serve
    treats the local part case-sensitively, and readers type it every which way)."""
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_problem(password: str, email: str = "", name: str = "") -> str | None:
    """Why `password` is not acceptable, or None when it is."""
    minimum = MIN_PASSWORD_LENGTH
    if len(password) < minimum:
        return _("Use at least %(n)d characters.", n=minimum)
    lowered = password.lower()
    if lowered in _COMMON_PASSWORDS or lowered.strip("0123456789!") in _COMMON_PASSWORDS:
        return _("This password is one of the most common ones. Please choose another.")
    local_part = normalize_email(email).partition("@")[0]
    personal = {value for value in (local_part, name.strip().lower()) if len(value) >= 4}
    if any(value in lowered for value in personal):
        return _("Your password should not contain your name or e-mail address.")
    return None


def email_exists(email: str) -> bool:
    return db.session.scalar(
        select(func.count()).select_from(User).where(User.email == normalize_email(email))
    ) > 0


def get_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def create_user(email: str, password: str, name: str = "", is_staff: bool = False) -> User:
    """Create an unverified account and queue its verification mail."""
    email = normalize_email(email)
    taken = EmailTaken(_("An account with this e-mail address already exists."))
    if email_exists(email):
        raise taken
    # ON CONFLICT, not the check above alone: a double click sends two sign-ups at once.
    user_id = insert_or_ignore(User, {"email": email, "name": name.strip(),
                                      "password_hash": hash_password(password),
                                      "is_staff": is_staff, "language": current_language()},
                              conflict=["email"])
    if user_id is None:
        raise taken
    user = db.session.get(User, user_id)
    send_verification(user)
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user with these credentials, or None. Upgrades outdated hashes on the way."""
    user = get_user_by_email(email)
    if user is None:
        _check_password(_DUMMY_HASH, password)
        return None
    if not _check_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db.session.flush()
    return user


def _check_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:
        return False
    except InvalidHashError:
        # No usable password (sign-in by link only): the same work as a wrong one, so
        # the time a log-in takes does not tell which accounts these are.
        _check_password(_DUMMY_HASH, password)
        return False


def ensure_staff(email: str, password: str) -> tuple[User, bool]:
    """Create a verified staff account, or make an existing account staff with this
    password. Returns the account and whether it was created."""
    user = get_user_by_email(email)
    created = user is None
    if user is None:
        user = User(email=normalize_email(email), name="",
                             password_hash=hash_password(password))
        db.session.add(user)
    else:
        user.password_hash = hash_password(password)
    user.is_staff = True
    user.email_verified_at = user.email_verified_at or utcnow()
    db.session.flush()
    return user, created


# Tokens -------------------------------------------------------------------------------

def make_token(purpose: str, payload: dict[str, Any]) -> str:
    return tokens.make(f"accounts.{purpose}", payload)


def read_token(purpose: str, token: str, max_age: int) -> dict[str, Any]:
    try:
        payload = tokens.read(f"accounts.{purpose}", token, max_age)
    except tokens.ExpiredToken as error:
        raise InvalidToken(_("This link has expired. Please ask for a new one.")) from error
    except tokens.BadToken as error:
        raise InvalidToken(_("This link is not valid.")) from error
    if not isinstance(payload, dict):
        raise InvalidToken(_("This link is not valid."))
    return payload


def _account_for_token(purpose: str, token: str, max_age_setting: str) -> tuple[User, dict]:
    """The account a valid token names, with the token's payload."""
    payload = read_token(purpose, token, current_app.config[max_age_setting])
    user = db.session.get(User, payload.get("user"))
    if user is None:
        raise InvalidToken(_("This link is not valid."))
    return user, payload


# E-mail verification ------------------------------------------------------------------

def send_verification(user: User) -> None:
    token = make_token(VERIFY_EMAIL, {"user": user.id, "email": user.email})
    queue_mail(
        user.email,
        "accounts/verify_email",
        _l("Confirm your e-mail address"),
        language=user.language,
        name=user.name,
        link=external_url("accounts.verify_email", token=token),
    )


def verify_email(token: str) -> User:
    """Mark the address in `token` verified, if it is still the account's address."""
    user, payload = _account_for_token(VERIFY_EMAIL, token, "EMAIL_TOKEN_MAX_AGE")
    if user.email != payload.get("email"):
        raise InvalidToken(_("This link is not valid."))
    if not user.is_verified:
        user.email_verified_at = utcnow()
        db.session.flush()
        email_verified.send(user)
    return user


# Password reset -----------------------------------------------------------------------

def request_password_reset(email: str) -> None:
    """Mail a reset link if the account exists, and otherwise a note that no account uses
    the address: both answers take the same work, so the time the page takes does not
    tell a stranger which addresses have accounts."""
    user = get_user_by_email(email)
    if user is None:
        queue_mail(normalize_email(email), "accounts/reset_unknown", _l("Reset your password"),
                   signup_link=external_url("accounts.signup"))
        return
    # The session token is rotated by every reset, which makes each link single-use.
    token = make_token(RESET_PASSWORD, {"user": user.id, "session": user.session_token})
    queue_mail(
        user.email,
        "accounts/reset_password",
        _l("Reset your password"),
        language=user.language,
        link=external_url("accounts.reset_password", token=token),
        minutes=current_app.config["RESET_TOKEN_MAX_AGE"] // 60,
    )


def user_for_reset_token(token: str) -> User:
    user, payload = _account_for_token(RESET_PASSWORD, token, "RESET_TOKEN_MAX_AGE")
    if user.session_token != payload.get("session"):
        raise InvalidToken(_("This link has already been used or is no longer valid."))
    return user


# Sign-in by e-mailed link ---------------------------------------------------------------

def request_sign_in_link(email: str, next_path: str | None) -> None:
    """Mail a link that signs the account in once, within SIGN_IN_TOKEN_MAX_AGE; a newer
    link replaces it. An unknown address gets a note instead, for the same work."""
    user = get_user_by_email(email)
    if user is None:
        queue_mail(normalize_email(email), "accounts/sign_in_unknown", _l("Your sign-in link"),
                   signup_link=external_url("accounts.signup"))
        return
    user.sign_in_nonce = secrets.token_urlsafe(16)
    db.session.flush()
    token = make_token(SIGN_IN_LINK, {"user": user.id, "email": user.email,
                                      "nonce": user.sign_in_nonce, "next": next_path})
    queue_mail(user.email, "accounts/sign_in_link", _l("Your sign-in link"),
               language=user.language,
               link=external_url("accounts.sign_in_with_link", token=token),
               minutes=current_app.config["SIGN_IN_TOKEN_MAX_AGE"] // 60)


def use_sign_in_link(token: str) -> tuple[User, str | None]:
    """The account the link signs in, and the page it was asked from. Once: the nonce is
    compared and cleared in one statement, so two clicks at once sign in one."""
    user, payload = _account_for_token(SIGN_IN_LINK, token, "SIGN_IN_TOKEN_MAX_AGE")
    if payload.get("email") != user.email:  # mailed to an address the account left since
        raise InvalidToken(_("This link has already been used or is no longer valid."))
    used = db.session.execute(
        update(User).where(User.id == user.id, User.sign_in_nonce.is_not(None),
                           User.sign_in_nonce == str(payload.get("nonce")))
        .values(sign_in_nonce=None).execution_options(synchronize_session=False))
    if used.rowcount != 1:
        raise InvalidToken(_("This link has already been used or is no longer valid."))
    db.session.refresh(user)
    user.last_login_at = utcnow()
    if not user.is_verified:
        # The inbox's owner takes the address over: a password chosen before by whoever
        # signed up with it (perhaps not them) stops working, and so do its sign-ins.
        user.password_hash = UNUSABLE_PASSWORD
        user.session_token = new_session_token()  # an address change asked before dies too
        user.name, user.language = "", current_language()
        end_other_sessions(user)
        user.email_verified_at = utcnow()
        db.session.flush()
        email_verified.send(user)
    db.session.flush()
    return user, payload.get("next") if isinstance(payload.get("next"), str) else None


def reset_password(token: str, new_password: str) -> User:
    user = user_for_reset_token(token)
    _set_password(user, new_password)
    # Following the link proves the reader reads this mailbox.
    if not user.is_verified:
        user.email_verified_at = utcnow()
        email_verified.send(user)
    db.session.flush()
    return user


def _set_password(user: User, new_password: str) -> None:
    """A new password ends every other sign-in and every reset link already sent."""
    user.password_hash = hash_password(new_password)
    user.session_token = new_session_token()
    end_other_sessions(user)


# Self-service -------------------------------------------------------------------------

def update_profile(user: User, name: str) -> None:
    user.name = name.strip()
    db.session.flush()


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not _check_password(user.password_hash, current_password):
        raise AccountError(_("Your current password is not correct."))
    _set_password(user, new_password)
    db.session.flush()


def request_email_change(user: User, new_email: str, password: str) -> None:
    """Mail a confirmation link to the new address; the change happens when it is followed."""
    if not _check_password(user.password_hash, password):
        raise WrongPassword(_("Your password is not correct."))
    new_email = normalize_email(new_email)
    if new_email == user.email:
        raise AccountError(_("This is already your e-mail address."))
    if email_exists(new_email):
        raise EmailTaken(_("An account with this e-mail address already exists."))
    # The session token too: a takeover of the address (use_sign_in_link) or a password
    # reset rotates it, and a change asked before then must not go through after.
    token = make_token(CHANGE_EMAIL, {"user": user.id, "old": user.email, "new": new_email,
                                      "session": user.session_token})
    queue_mail(
        new_email,
        "accounts/change_email",
        _l("Confirm your new e-mail address"),
        language=user.language,
        new_email=new_email,
        link=external_url("accounts.confirm_email_change", token=token),
    )


def confirm_email_change(token: str) -> User:
    user, payload = _account_for_token(CHANGE_EMAIL, token, "EMAIL_TOKEN_MAX_AGE")
    if user.email != payload.get("old") or user.session_token != payload.get("session"):
        raise InvalidToken(_("This link has already been used or is no longer valid."))
    new_email = payload["new"]
    if email_exists(new_email):
        raise EmailTaken(_("An account with this e-mail address already exists."))
    old_email = user.email
    user.email = new_email
    user.email_verified_at = utcnow()
    db.session.flush()
    queue_mail(
        old_email,
        "accounts/email_changed",
        _l("Your e-mail address was changed"),
        language=user.language,
        new_email=new_email,
    )
    email_verified.send(user)
    return user


def export_user_data(user: User) -> dict[str, Any]:
    """Everything we keep about the reader, as JSON-ready data."""
    data: dict[str, Any] = {
        "account": {
            "email": user.email,
            "name": user.name,
            "email_verified_at": isoformat(user.email_verified_at),
            "created_at": isoformat(user.created_at),
            "last_login_at": isoformat(user.last_login_at),
            "is_staff": user.is_staff,
        }
    }
    for _receiver, section in account_exporting.send(user):
        if section:
            name, value = section
            data[name] = value
    return data


def delete_account(user: User, password: str) -> list[str]:
    """Delete the account and the personal data other domains keep about it. First,
    outside services stop what would outlive it (`account_closing`, which may commit on
    its own); returns what they stopped, for the confirmation page and the goodbye mail."""
    if not _check_password(user.password_hash, password):
        raise AccountError(_("Your password is not correct."))
    stopped = [sentence for _receiver, sentences in account_closing.send(user)
               for sentence in sentences or ()]
    email, proven, language = user.email, user.is_verified, user.language
    account_deleting.send(user)
    db.session.delete(user)
    db.session.flush()
    # An unverified address may be a stranger's: their mail stays, and they get none.
    if proven:
        forget_recipient(email)
        queue_mail(email, "accounts/account_deleted", _l("Your account has been deleted"),
                   language=language, stopped=stopped)
    return stopped
