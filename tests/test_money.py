from __future__ import annotations

from decimal import Decimal

import pytest

from membership.donations.money import (
    AmountError,
    cover_fee,
    exponent,
    format_money,
    parse_amount,
    to_minor,
)


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("36", "usd", 3600),
    ("36.5", "usd", 3650),
    ("36.50", "usd", 3650),
    (" 36 ", "usd", 3600),
    ("1,000", "usd", 100000),
    ("1,000.25", "usd", 100025),
    ("19.99", "usd", 1999),  # never 1998, as float arithmetic would give
    ("0.29", "usd", 29),
    ("5000", "jpy", 5000),
    ("12.345", "kwd", 12345),
    ("036", "usd", 3600),
])
def test_accepted_amounts(text, currency, minor):
    assert to_minor(parse_amount(text, currency), currency) == minor


@pytest.mark.parametrize(("text", "currency", "message"), [
    ("", "usd", "enter an amount"),
    ("   ", "usd", "enter an amount"),
    (None, "usd", "enter an amount"),
    ("0", "usd", "more than zero"),
    ("0.00", "usd", "more than zero"),
    ("-5", "usd", "as a number"),
    ("+5", "usd", "as a number"),
    ("abc", "usd", "as a number"),
    ("1e3", "usd", "as a number"),
    ("NaN", "usd", "as a number"),
    ("Infinity", "usd", "as a number"),
    ("36.505", "usd", "at most 2 decimals"),
    ("1,00", "usd", "as a number"),
    ("1.000,50", "usd", "as a number"),
    ("$36", "usd", "as a number"),
    ("36 00", "usd", "as a number"),
    ("5000.5", "jpy", "JPY amounts have no decimals"),
    ("1.2345", "kwd", "at most 3 decimals"),
])
def test_refused_amounts(text, currency, message):
    with pytest.raises(AmountError, match=message):
        parse_amount(text, currency)


def test_currency_exponents():
    assert (exponent("usd"), exponent("JPY"), exponent("kwd")) == (2, 0, 3)


@pytest.mark.parametrize(("amount", "fee"), [
    (1800, 85),     # 18.85 - 2.9% - 0.30 = 18.00
    (3600, 139),
    (10000, 330),
    (100, 34),
    (2500000, 74697),
])
def test_cover_fee_grosses_up_so_the_organization_receives_the_gift(amount, fee):
    assert cover_fee(amount, "usd", Decimal("2.9"), Decimal("0.30")) == fee
    gross = amount + fee
    processor = Decimal(gross) * Decimal("0.029") + 30
    # What arrives after the processor's cut is never less than the intended gift,
    # and one cent less of fee would fall short.
    assert gross - processor >= amount
    assert (gross - 1) - (Decimal(gross - 1) * Decimal("0.029") + 30) < amount


def test_cover_fee_in_a_zero_decimal_currency():
    assert cover_fee(5000, "jpy", Decimal("3.6"), Decimal("0")) == 187


@pytest.mark.parametrize(("minor", "currency", "text"), [
    (3650, "usd", "$36.50"), (3600, "usd", "$36"), (5000, "jpy", "¥5,000"),
    (123456, "eur", "€1,234.56"),
])
def test_format_money(minor, currency, text):
    assert format_money(minor, currency) == text
