"""Signed tokens for the links we send: one scheme for every purpose.

A token is itsdangerous's URL-safe timed serialization of a small JSON value, signed with
SECRET_KEY and salted with its purpose, so a token made for one purpose (confirming an
address, say) is refused for any other (resetting a password). Links that never expire
(receipts, unsubscribing) are read without a maximum age.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import (
    BadSignature,
    SignatureExpired,
    Signer,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)


class BadToken(ValueError):
    """Not a token we made for this purpose: altered, cut short, or for another link."""


class ExpiredToken(BadToken):
    """A token we made, older than the link it is for may be."""


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose)


def make(purpose: str, value: Any) -> str:
    return _serializer(purpose).dumps(value)


def read(purpose: str, token: str, max_age: int | None = None) -> Any:
    """The value a token for `purpose` carries, if it is younger than `max_age` seconds."""
    try:
        return _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as error:
        raise ExpiredToken(purpose) from error
    except BadSignature as error:
        earlier = _EARLIER_SCHEMES.get(purpose) if max_age is None else None
        if earlier is not None:
            try:
                return earlier(current_app.config["SECRET_KEY"], purpose, token)
            except (BadSignature, ValueError):
                pass
        raise BadToken(purpose) from error


# Links that never expire, mailed before December 2026, were signed in the schemes below:
# an unsubscribe link or a receipt must go on working however old the mail is.
def _earlier_receipt(key: str, purpose: str, token: str) -> Any:
    return URLSafeSerializer(key, salt=purpose).loads(token)


def _earlier_subscriber_link(key: str, purpose: str, token: str) -> str:
    return Signer(key, salt=purpose).unsign(token).decode()


_EARLIER_SCHEMES = {"donations.receipt": _earlier_receipt,
                    "newsletter.subscriber": _earlier_subscriber_link}
