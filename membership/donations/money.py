"""Money as integer minor units plus a currency code. Parsing goes through Decimal only."""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency
from flask_babel import gettext as _

from membership.i18n import current_language

# Stripe's currencies that do not use two decimals in the API:
# https://docs.stripe.com/currencies#zero-decimal and #three-decimal
ZERO_DECIMAL = frozenset([
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
    "pyg", "rwf", "vnd", "vuv", "xaf", "xof", "xpf",
])
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
# https://docs.stripe.com/currencies#special-cases: Stripe takes these in two-decimal minor
# units but only whole amounts (ISK and UGX are zero-decimal to people, so 500 ISK is sent
# as 50000; HUF and TWD pay out in whole units).
WHOLE_UNITS = frozenset(["huf", "isk", "twd", "ugx"])

# Stripe's smallest charge per currency, in major units (docs.stripe.com/currencies#minimum-
# and-maximum-charge-amounts); elsewhere the configured minimum alone applies.
STRIPE_MINIMUMS = {
    "usd": "0.50", "aed": "2.00", "aud": "0.50", "bgn": "1.00", "brl": "0.50", "cad": "0.50",
    "chf": "0.50", "czk": "15.00", "dkk": "2.50", "eur": "0.50", "gbp": "0.30", "hkd": "4.00",
    "huf": "175", "inr": "0.50", "jpy": "50", "mxn": "10", "myr": "2", "nok": "3.00",
    "nzd": "0.50", "pln": "2.00", "ron": "2.00", "sek": "3.00", "sgd": "0.50", "thb": "10",
    # Not in Stripe's table, which asks for about USD 0.50: rounded up from 2026 rates.
    "ils": "2.00", "pkr": "150", "afn": "40", "isk": "100", "twd": "20", "ugx": "2000",
    "kwd": "0.200", "bhd": "0.200", "omr": "0.200", "jod": "0.400", "tnd": "2.000",
}

# "36", "36.5", "1,000", "1,000.50": digits with optional comma thousands and decimals.
AMOUNT_PATTERN = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$", re.ASCII)
# Readers of Arabic (and of Persian and Urdu) type their own digits and separators; no
# other script's digits are taken, so that what is charged is what the reader saw.
_WESTERN = str.maketrans(
    "".join(map(chr, range(0x0660, 0x066A))) + "".join(map(chr, range(0x06F0, 0x06FA)))
    + "\u066b\u066c",  # Arabic-Indic, Extended Arabic-Indic, decimal and thousands signs
    "0123456789" * 2 + ".,")


class AmountError(ValueError):
    """The text is not an acceptable amount; the message says why."""


def exponent(currency: str) -> int:
    """Decimals of the currency's minor unit as Stripe's API counts them."""
    currency = currency.lower()
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def step(currency: str) -> int:
    """The minor units a Stripe amount must be a multiple of: ten for three-decimal
    currencies (the last digit is 0), a hundred for the whole-unit special cases."""
    currency = currency.lower()
    if currency in THREE_DECIMAL:
        return 10
    if currency in WHOLE_UNITS:
        return 100
    return 1


def decimals_typed(currency: str) -> int:
    """How many decimals a person may type: fewer than the API's where Stripe asks so."""
    currency = currency.lower()
    if currency in WHOLE_UNITS:
        return 0
    return exponent(currency) - (1 if currency in THREE_DECIMAL else 0)


def parse_amount(text: str | None, currency: str) -> Decimal:
    """Read a major-unit amount typed by a person: `36`, ` 36.50 `, `1,000`, and the same in
    Arabic-Indic digits with the Arabic decimal separator.

    Refuses empty, signs, exponents and anything with more decimals than the currency."""
    cleaned = (text or "").strip().translate(_WESTERN)
    if not cleaned:
        raise AmountError(_("Please enter an amount."))
    if not AMOUNT_PATTERN.match(cleaned):
        raise AmountError(_("Please enter the amount as a number, like 36 or 36.50."))
    try:
        amount = Decimal(cleaned.replace(",", ""))
    except InvalidOperation as error:  # the pattern already guards; kept for safety
        raise AmountError(_("Please enter the amount as a number, like 36 or 36.50.")) from error
    decimals = -amount.as_tuple().exponent if amount.as_tuple().exponent < 0 else 0
    allowed = decimals_typed(currency)
    # A three-decimal currency's amount may be typed with its third decimal, if it is 0.
    if currency.lower() in THREE_DECIMAL and decimals == allowed + 1:
        decimals = _significant_decimals(amount)
    if decimals > allowed:
        if allowed == 0:
            raise AmountError(_("%(currency)s amounts have no decimals.",
                                currency=currency.upper()))
        raise AmountError(_("Please use at most %(n)d decimals.", n=allowed))
    if amount <= 0:
        raise AmountError(_("The amount must be more than zero."))
    return amount


def _significant_decimals(amount: Decimal) -> int:
    """`1.250` has two significant decimals: a trailing zero is typed, not meant."""
    exponent_ = amount.normalize().as_tuple().exponent
    return -exponent_ if isinstance(exponent_, int) and exponent_ < 0 else 0


def to_minor(amount: Decimal, currency: str) -> int:
    """Major units → integer minor units (exact: parse_amount already limited decimals)."""
    return int((amount * (Decimal(10) ** exponent(currency))).to_integral_value(ROUND_HALF_UP))


def to_major(minor: int, currency: str) -> Decimal:
    return Decimal(minor) / (Decimal(10) ** exponent(currency))


def format_money(minor: int, currency: str, locale: str | None = None) -> str:
    """`3650, "usd"` → `$36.50`; whole amounts without decimals (`$36`); in the language
    being rendered unless `locale` says otherwise (in Arabic `36.50 US$`, after a
    right-to-left mark)."""
    return _formatted(minor, currency, locale or current_language())


@lru_cache(maxsize=4096)  # Babel's formatting is slow and pages repeat the same amounts
def _formatted(minor: int, currency: str, locale: str) -> str:
    major = to_major(minor, currency)
    if major == major.to_integral_value():
        text = format_currency(major, currency.upper(), locale=locale,
                               format=_whole_amount_pattern(locale), currency_digits=False)
    else:
        text = format_currency(major, currency.upper(), locale=locale)
    return _LATIN_SYMBOL.sub("\\1\u200e", text)


# A symbol of letters and a sign ("US$", "CA$"): in a right-to-left sentence the sign would
# drift to the far side of the letters ("$US"); a left-to-right mark keeps it in place
# (static/js/money.js does the same).
_LATIN_SYMBOL = re.compile(r"([A-Za-z]+[^\sA-Za-z0-9\u200e\u200f]+)")


@lru_cache(maxsize=8)
def _whole_amount_pattern(locale: str) -> str:
    """The locale's own currency pattern (symbol before or after, its marks) without the
    decimals."""
    return Locale.parse(locale).currency_formats["standard"].pattern.replace(".00", "")


def format_major(major: str | Decimal, currency: str) -> str:
    """`"36", "usd"` → `$36`: an amount in major units, as format_money shows amounts."""
    return format_money(to_minor(Decimal(str(major)), currency), currency)


def cover_fee(amount_minor: int, currency: str, percent: Decimal, fixed_major: Decimal) -> int:
    """The fee to add so that, after the processor takes `percent` and `fixed`, the
    organization still receives `amount_minor`: gross = (amount + fixed) / (1 - rate),
    rounded up to the next minor unit."""
    rate = percent / Decimal(100)
    fixed_minor = to_minor_ceiling(fixed_major, currency)
    gross = ((Decimal(amount_minor) + fixed_minor) / (Decimal(1) - rate)).to_integral_value(
        ROUND_CEILING)
    # Up to the amount Stripe accepts in the currency (a multiple of ten fils, of 100 aurar).
    unit = step(currency)
    gross = -(-int(gross) // unit) * unit
    return gross - amount_minor


def to_minor_ceiling(amount: Decimal, currency: str) -> int:
    return int((amount * (Decimal(10) ** exponent(currency))).to_integral_value(ROUND_CEILING))
