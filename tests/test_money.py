from __future__ import annotations

from decimal import Decimal

import pytest

from membership.config import ConfigError, load_config
from membership.donations.checkout import fee_for
from membership.donations.forms import check_amount
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
    ("12.34", "kwd", 12340),
    ("12.340", "kwd", 12340),  # Stripe wants three-decimal amounts ending in 0
    ("500", "isk", 50000),  # ISK and UGX: whole amounts, sent in hundredths
    ("2000", "ugx", 200000),
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
    ("1.2345", "kwd", "at most 2 decimals"),
    ("12.345", "kwd", "at most 2 decimals"),
    ("500.50", "isk", "ISK amounts have no decimals"),
    ("10.5", "huf", "HUF amounts have no decimals"),
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


@pytest.mark.parametrize(("amount", "currency", "fixed", "multiple"), [
    (12340, "kwd", "0.100", 10), (50000, "isk", "0", 100), (100000, "huf", "85", 100),
    (200000, "ugx", "0", 100),
])
def test_the_fee_grosses_up_to_an_amount_stripe_accepts(amount, currency, fixed, multiple):
    fee = cover_fee(amount, currency, Decimal("2.9"), Decimal(fixed))
    assert (amount + fee) % multiple == 0
    assert fee > 0


@pytest.mark.parametrize(("currency", "typed", "message"), [
    ("jpy", "1", "¥50"), ("usd", "0.75", "$1"), ("gbp", "0.50", "£1"), ("isk", "50", "ISK"),
])
def test_the_smallest_gift_follows_the_currency(app, currency, typed, message):
    with pytest.raises(AmountError, match="The smallest gift we can accept is") as refused:
        check_amount(typed, currency)
    assert message in str(refused.value)


def test_a_currency_can_have_its_own_minimum(app):
    app.config["DONATION_MIN_AMOUNTS"] = {"jpy": Decimal("500")}
    with pytest.raises(AmountError, match="¥500"):
        check_amount("300", "jpy")
    assert check_amount("500", "jpy") == 500


def test_the_fixed_fee_is_the_currencys_own(app):
    assert fee_for(5000, "jpy") == cover_fee(5000, "jpy", Decimal("2.9"), Decimal("0"))
    assert fee_for(3600, "eur") == cover_fee(3600, "eur", Decimal("2.9"), Decimal("0.25"))
    assert fee_for(3600, "usd") == 139


def test_fixed_fees_and_minimums_are_read_per_currency_from_the_environment(tmp_path):
    config = load_config(str(tmp_path), {"MEMBERSHIP_ENV": "testing",
                                         "DONATION_FEE_FIXED": "ils:1.20,usd:0.35",
                                         "DONATION_MIN_AMOUNTS": "jpy:500"})
    assert config["DONATION_FEE_FIXED"]["ils"] == Decimal("1.20")
    assert config["DONATION_FEE_FIXED"]["usd"] == Decimal("0.35")
    assert config["DONATION_FEE_FIXED"]["eur"] == Decimal("0.25")  # the default stays
    assert config["DONATION_MIN_AMOUNTS"] == {"jpy": Decimal("500")}
    bare = load_config(str(tmp_path), {"MEMBERSHIP_ENV": "testing", "DONATION_FEE_FIXED": "0.35",
                                       "DONATION_CURRENCIES": "eur,usd"})
    assert bare["DONATION_FEE_FIXED"]["eur"] == Decimal("0.35")  # the reporting currency's
    assert bare["DONATION_FEE_FIXED"]["usd"] == Decimal("0.30")
    with pytest.raises(ConfigError, match=r"usd:0\.30"):
        load_config(str(tmp_path), {"MEMBERSHIP_ENV": "testing", "DONATION_FEE_FIXED": "us:x"})


@pytest.mark.parametrize(("minor", "currency", "text"), [
    (3650, "usd", "$36.50"), (3600, "usd", "$36"), (5000, "jpy", "¥5,000"),
    (123456, "eur", "€1,234.56"),
])
def test_format_money(minor, currency, text):
    assert format_money(minor, currency) == text
