"""Settings, read from the environment once, when the app is built.

`MEMBERSHIP_ENV` picks the profile. Production fails fast when a secret is missing rather
than starting with a guessable key; development and testing get safe local defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import click

ENVIRONMENTS = ("production", "development", "testing")


class ConfigError(click.ClickException, RuntimeError):
    """The environment does not describe a runnable app. A click error, so that every
    command prints it as one line ("Error: …") instead of a traceback."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _csv(value: str | None, default: str) -> list[str]:
    raw = value if value and value.strip() else default
    return [part.strip().lower() for part in raw.split(",") if part.strip()]


def parse_site_url(value: str) -> str:
    """`value` as a base URL without a trailing slash, or ValueError with the reason."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("SITE_URL must be an http:// or https:// address with a host name, "
                         f"such as https://members.example.org (not {value!r})")
    if parts.query or parts.fragment or parts.username:
        raise ValueError(f"SITE_URL must not carry a query, fragment or user ({value!r})")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


# Stripe's fixed fee per card payment where its standard pricing publishes one; elsewhere
# only the percentage is added unless DONATION_FEE_FIXED names the currency.
DEFAULT_FIXED_FEES = "usd:0.30,cad:0.30,aud:0.30,nzd:0.30,chf:0.30,eur:0.25,gbp:0.20,jpy:0"


def per_currency(value: str, setting: str, bare: str = "") -> dict[str, Decimal]:
    """`usd:0.30,eur:0.25` as {"usd": Decimal("0.30"), …}, or ConfigError with the reason.
    A figure without a currency (`0.30`, as this setting once was) is `bare`'s."""
    amounts = {}
    for part in filter(None, (piece.strip() for piece in value.split(","))):
        code, _, amount = part.rpartition(":") if ":" in part else (bare, "", part)
        try:
            figure = Decimal(amount.strip())
        except ArithmeticError:
            figure = None
        code = code.strip().lower()
        if not (len(code) == 3 and code.isascii() and code.isalpha()) or figure is None \
                or not figure.is_finite() or figure < 0:
            raise ConfigError(f"{setting} must look like usd:0.30,eur:0.25 (not {part!r})")
        amounts[code] = figure
    return amounts


def _whole(env: Mapping[str, str], name: str, default: int, lowest: int, highest: int) -> int:
    value = env.get(name, "").strip() or str(default)
    if not (value.isascii() and value.isdigit() and lowest <= int(value) <= highest):
        raise ConfigError(f"{name} must be a whole number from {lowest} to {highest}, "
                          f"not {value!r}")
    return int(value)


def _seconds(env: Mapping[str, str], name: str, default: str) -> float:
    value = env.get(name, "").strip() or default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise ConfigError(f"{name} must be a number of seconds from 0 to 3600, not {value!r}")
    return seconds


def load_config(instance_path: str, environ: Mapping[str, str] | None = None) -> dict:
    """Build the settings dict for `MEMBERSHIP_ENV` from `environ` (default: os.environ)."""
    env = os.environ if environ is None else environ
    name = env.get("MEMBERSHIP_ENV", "production").strip().lower() or "production"
    if name not in ENVIRONMENTS:
        raise ConfigError(f"MEMBERSHIP_ENV must be one of {', '.join(ENVIRONMENTS)}, not {name!r}")
    production = name == "production"

    secret_key = env.get("SECRET_KEY", "")
    if not secret_key:
        if production:
            raise ConfigError("SECRET_KEY must be set in production")
        secret_key = f"insecure-{name}-key"

    stripe_secret = env.get("STRIPE_SECRET_KEY", "")
    gateway = env.get("PAYMENTS_GATEWAY", "").strip().lower()
    if not gateway:
        gateway = "sandbox" if name == "development" and not stripe_secret else "stripe"
    if gateway not in ("stripe", "sandbox"):
        raise ConfigError("PAYMENTS_GATEWAY must be 'stripe' or 'sandbox'")
    if gateway == "sandbox" and production:
        raise ConfigError("PAYMENTS_GATEWAY=sandbox is only allowed in development and testing")
    if production:
        missing = [
            key
            for key in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET")
            if not env.get(key)
        ]
        if missing:
            raise ConfigError(f"{', '.join(missing)} must be set in production")

    database_url = env.get("DATABASE_URL") or "sqlite:///" + str(
        Path(instance_path) / "membership.sqlite3"
    )

    site_url = env.get("SITE_URL", "").strip()
    if not site_url:
        if production:
            raise ConfigError("SITE_URL must be set in production (the public base URL that "
                              "links in e-mails point to, e.g. https://members.example.org)")
        site_url = f"http://127.0.0.1:{env.get('PORT', '5000')}"
    try:
        site_url = parse_site_url(site_url)
    except ValueError as error:
        raise ConfigError(str(error)) from error

    redis_url = env.get("REDIS_URL", "")
    return {
        "MEMBERSHIP_ENV": name,
        "DEBUG": name == "development",
        "TESTING": name == "testing",
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Forms and Stripe's events are small; anything larger is refused with 413.
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        # Cookies: never readable from JavaScript, never sent cross-site on a POST,
        # and only over HTTPS outside local development.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_NAME": "remember_token",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_DURATION": timedelta(days=30),
        "PERMANENT_SESSION_LIFETIME": timedelta(days=14),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "STRIPE_SECRET_KEY": stripe_secret,
        "STRIPE_PUBLISHABLE_KEY": env.get("STRIPE_PUBLISHABLE_KEY", ""),
        # The sandbox gateway signs its events too; locally it needs no real secret.
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET")
        or ("" if production else "whsec_local_development_only"),
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE", ""),
        "PAYMENTS_GATEWAY": gateway,
        # Seconds the sandbox waits before delivering its events, as Stripe does after the
        # redirect (0: at once, before the redirect; what most tests want).
        "SANDBOX_DELIVERY_DELAY": float(env.get("SANDBOX_DELIVERY_DELAY",
                                                "1" if name == "development" else "0")),
        "DONATION_CURRENCIES": _csv(env.get("DONATION_CURRENCIES"), "usd"),
        # Seconds the analytics page may show figures computed before (flask reports
        # refresh computes them every ten minutes); 0 computes them on every view.
        "ANALYTICS_MAX_AGE": int(env.get("ANALYTICS_MAX_AGE",
                                         "0" if name == "testing" else "900")),
        "MAIL_URL": env.get("MAIL_URL", ""),
        "MAIL_FROM": env.get("MAIL_FROM", "Membership <members@localhost>"),
        "MAIL_MAX_ATTEMPTS": int(env.get("MAIL_MAX_ATTEMPTS", "8")),
        "REDIS_URL": redis_url,
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_AUTH_PER_IP": env.get("RATELIMIT_AUTH_PER_IP", "20 per minute;200 per hour"),
        "RATELIMIT_AUTH_PER_ACCOUNT": env.get(
            "RATELIMIT_AUTH_PER_ACCOUNT", "5 per minute;30 per hour"
        ),
        "RATELIMIT_MAIL_PER_ACCOUNT": env.get("RATELIMIT_MAIL_PER_ACCOUNT",
                                              "3 per 15 minutes;10 per day"),
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "0")),
        # One JSON object per line for log collectors in production; plain text locally.
        "LOG_FORMAT": env.get("LOG_FORMAT", "").strip().lower() or (
            "json" if production else "text"),
        "LOG_LEVEL": env.get("LOG_LEVEL", "").strip().upper() or "INFO",
        # Prometheus scrapes /metrics with this bearer token; without one, /metrics is off.
        "METRICS_TOKEN": env.get("METRICS_TOKEN", "").strip(),
        "EMAIL_TOKEN_MAX_AGE": int(env.get("EMAIL_TOKEN_MAX_AGE", str(3 * 24 * 3600))),
        "RESET_TOKEN_MAX_AGE": int(env.get("RESET_TOKEN_MAX_AGE", "3600")),
        "SIGN_IN_TOKEN_MAX_AGE": int(env.get("SIGN_IN_TOKEN_MAX_AGE", "900")),
        # Public pages kept in memory (membership/page_cache.py): for how many seconds
        # (0: never; tests see every change at once) and how many pages per process.
        "PAGE_CACHE_SECONDS": _seconds(env, "PAGE_CACHE_SECONDS",
                                       "0" if name == "testing" else "1"),
        "PAGE_CACHE_SIZE": _whole(env, "PAGE_CACHE_SIZE", 1024, 1, 1_000_000),
        # What any cache may keep (Cache-Control: public), kept in front of the app
        # (membership/edge_cache.py) for at most this many seconds; 0: never.
        "EDGE_CACHE_SECONDS": _seconds(env, "EDGE_CACHE_SECONDS",
                                       "0" if name == "testing" else "1"),
        "MANAGE_LINK_MAX_AGE": int(env.get("MANAGE_LINK_MAX_AGE", str(60 * 24 * 3600))),
        # How many times Stripe tries a renewal (Billing > Revenue recovery > Retries; the
        # first charge counts): the mail before the last try says it is the last.
        "PAYMENT_RETRY_ATTEMPTS": _whole(env, "PAYMENT_RETRY_ATTEMPTS", 8, 1, 25),
        # The month a fiscal year starts in (1: the calendar year). Statements cover one,
        # named by the calendar year it starts in.
        "FISCAL_YEAR_START_MONTH": _whole(env, "FISCAL_YEAR_START_MONTH", 1, 1, 12),
        "ORGANIZATION_NAME": env.get("ORGANIZATION_NAME", "Meridian News Agency"),
        "ORGANIZATION_ADDRESS": env.get("ORGANIZATION_ADDRESS",
                                        "1 Example Street, Washington, DC 20001, USA"),
        "ORGANIZATION_TAX_ID": env.get("ORGANIZATION_TAX_ID", "00-0000000"),
        "DONATION_MIN_AMOUNT": Decimal(env.get("DONATION_MIN_AMOUNT", "1.00")),
        # Per currency, over DONATION_MIN_AMOUNT and Stripe's own minimums (e.g. jpy:500).
        "DONATION_MIN_AMOUNTS": per_currency(env.get("DONATION_MIN_AMOUNTS", ""),
                                             "DONATION_MIN_AMOUNTS"),
        "DONATION_MAX_AMOUNT": Decimal(env.get("DONATION_MAX_AMOUNT", "25000.00")),
        "DONATION_FEE_PERCENT": Decimal(env.get("DONATION_FEE_PERCENT", "2.9")),
        "DONATION_FEE_FIXED": {
            **per_currency(DEFAULT_FIXED_FEES, "DONATION_FEE_FIXED"),
            **per_currency(env.get("DONATION_FEE_FIXED", ""), "DONATION_FEE_FIXED",
                           bare=_csv(env.get("DONATION_CURRENCIES"), "usd")[0]),
        },
        "DONATION_SUGGESTED_AMOUNTS": {
            "once": _csv(env.get("DONATION_SUGGESTED_ONCE"), "36,100,250"),
            "monthly": _csv(env.get("DONATION_SUGGESTED_MONTHLY"), "10,18,36"),
            "yearly": _csv(env.get("DONATION_SUGGESTED_YEARLY"), "120,250,500"),
        },
        "RATELIMIT_DONATE_PER_IP": env.get("RATELIMIT_DONATE_PER_IP",
                                           "10 per minute;60 per hour"),
        "SITE_URL": site_url,
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
    }
