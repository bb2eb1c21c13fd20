"""Reading Stripe's payloads with their types checked, at the boundary.

A signed event can still be malformed (an old or broken integration, a hand-made event in
the dashboard): every value a handler reads goes through one of these, so that a text
amount or a metadata list is refused with a reason (`MalformedEvent`, answered with 400
and kept for staff) instead of being stored or breaking a page later."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from membership.donations.recurring import Card

# Ids and codes go into 255-character columns; Stripe's own are far shorter.
MAX_TEXT = 255
# Epoch seconds between 2000 and 2999: outside, a time is a typo, not an event of ours.
EARLIEST, LATEST = 946_684_800, 32_503_680_000
# Amounts in minor units go into 32-bit columns (Stripe's own largest charge is 99,999,999).
MAX_AMOUNT = 2**31 - 1
# The oldest API version whose objects the handlers read correctly: basil moved an
# invoice's subscription to `parent.subscription_details` and its payments to the
# Invoice Payments API. Versions are dated, so they compare as text.
OLDEST_API_VERSION = "2025-03-31.basil"


class MalformedEvent(ValueError):
    """A signed event whose content is not what Stripe sends; the message says where."""


def _get(obj: dict, key: str) -> Any:
    if not isinstance(obj, dict):
        raise MalformedEvent(f"expected an object holding {key!r}")
    return obj.get(key)


def text(obj: dict, key: str, required: bool = False, max_length: int = MAX_TEXT) -> str | None:
    value = _get(obj, key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value) or len(value) > max_length \
            or "\x00" in value:
        raise MalformedEvent(f"{key!r} must be text of at most {max_length} characters")
    return value


def amount(obj: dict, key: str, required: bool = False) -> int | None:
    value = _get(obj, key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT:
        raise MalformedEvent(f"{key!r} must be a whole amount in minor units")
    return value


def currency(obj: dict, key: str, required: bool = False) -> str | None:
    value = text(obj, key, required, max_length=3)
    if value is not None and not (len(value) == 3 and value.isascii() and value.isalpha()):
        raise MalformedEvent(f"{key!r} must be a three-letter currency code")
    return value


def mapping(obj: dict, key: str) -> dict:
    """A nested object; a missing or null one reads as empty."""
    value = _get(obj, key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedEvent(f"{key!r} must be an object")
    return value


def metadata(obj: dict) -> dict[str, str]:
    values = mapping(obj, "metadata")
    if not all(isinstance(value, str) and len(value) <= 500 for value in values.values()):
        raise MalformedEvent("'metadata' values must be text")
    return values


def items(obj: dict, key: str) -> list[dict]:
    """The `data` of a list object such as `items` or `refunds`; missing reads as empty."""
    data = mapping(obj, key).get("data")
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise MalformedEvent(f"{key!r} must be a list of objects")
    return data


def object_id(obj: dict, key: str) -> str | None:
    """An id, or the id of an object Stripe expanded in its place."""
    value = _get(obj, key)
    if isinstance(value, dict):
        return text(value, "id")
    return text(obj, key)


def moment(obj: dict, key: str) -> datetime | None:
    value = _get(obj, key)
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not EARLIEST <= value <= LATEST:
        raise MalformedEvent(f"{key!r} must be a time in seconds since 1970")
    return datetime.fromtimestamp(value, UTC)


def card(payment_method: dict) -> Card | None:
    """The card of a payment method object (brand, last four digits, expiry); None for a
    payment method that is not a card or is only named by its id."""
    if not isinstance(payment_method, dict) or payment_method.get("type", "card") != "card":
        return None
    details = mapping(payment_method, "card")
    if not details:
        return None
    last4 = text(details, "last4", required=True, max_length=4)
    month, year = details.get("exp_month"), details.get("exp_year")
    if not (last4.isascii() and last4.isdigit() and len(last4) == 4):
        raise MalformedEvent("'last4' must be four digits")
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in (month, year)) \
            or not 1 <= month <= 12 or not 2000 <= year <= 2999:
        raise MalformedEvent("a card's 'exp_month' and 'exp_year' must be a month and a year")
    return Card(brand=text(details, "brand", max_length=32) or "card", last4=last4,
                exp_month=month, exp_year=year)


def envelope_problem(event: dict) -> str | None:
    """Why a signed event's envelope cannot be applied, or None."""
    created = event.get("created")
    if isinstance(created, bool) or not isinstance(created, int) \
            or not EARLIEST <= created <= LATEST:
        return "'created' must be a time in seconds since 1970"
    version = event.get("api_version")
    if version is not None and not isinstance(version, str):
        return "'api_version' must be text"
    if version and version[:10] < OLDEST_API_VERSION[:10]:
        return (f"the event is rendered in API version {version}, older than "
                f"{OLDEST_API_VERSION}, the oldest one read here: set the webhook endpoint's "
                f"API version to {OLDEST_API_VERSION} or newer")
    return None
