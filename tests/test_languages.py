"""English, Arabic and Hebrew: complete catalogues, the language a reader chose on every
page, form errors in it, and mail in the recipient's language however it is sent."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from sqlalchemy import select
from werkzeug.wrappers import Response

from membership.accounts.models import User
from membership.donations.models import Checkout, Donor
from membership.extensions import db
from membership.i18n import LANGUAGES, vary_by_language
from membership.mail.services import render_message
from membership.newsletter.models import Subscriber
from membership.newsletter.services import CONSENT_TEXTS, CONSENT_VERSION
from membership.topics.models import Story
from tests.builders import last_link, make_campaign, make_user, outbox

ROOT = Path(__file__).resolve().parents[1]
TRANSLATED = [code for code in LANGUAGES if code != "en"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%%|\{\w+\}")


def catalogue(language: str):
    path = ROOT / "membership" / "translations" / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as file:
        return read_po(file, locale=language)


def strings_in_the_code() -> set[str]:
    """What `make messages` would extract now: a string marked since the catalogues were
    last updated is missing from them."""
    with (ROOT / "babel.cfg").open() as file:
        method_map, options_map = parse_mapping_cfg(file)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map,
            keywords={"_": None, "gettext": None, "ngettext": (1, 2), "_l": None,
                      "lazy_gettext": None}):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_string_is_translated_with_the_same_placeholders(language):
    messages = [message for message in catalogue(language) if message.id]
    assert len(messages) > 600
    problems = []
    for message in messages:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        texts = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {ids[0]!r}")
        if not all(texts):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        if isinstance(message.id, tuple) and len(texts) != catalogue(language).num_plurals:
            problems.append(f"{len(texts)} plural forms: {ids[0]!r}")
        wanted = set(PLACEHOLDER.findall(" ".join(ids)))
        for text in texts:
            # A plural form for exactly one or two may say the number in words.
            if set(PLACEHOLDER.findall(text)) - wanted or (
                    not isinstance(message.id, tuple) and
                    sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(ids[0]))):
                problems.append(f"placeholders differ: {ids[0]!r} → {text!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_catalogue_has_every_string_the_code_marks(language):
    known = {message.id[0] if isinstance(message.id, tuple) else message.id
             for message in catalogue(language) if message.id}
    missing = strings_in_the_code() - known
    assert not missing, f"run `make messages` and translate: {sorted(missing)[:10]}"


def test_arabic_has_six_plural_forms():
    assert catalogue("ar").num_plurals == 6


@pytest.mark.parametrize(("accept", "lang", "direction"), [
    ("ar,en;q=0.5", "ar", "rtl"), ("he-IL,he;q=0.9", "he", "rtl"), ("fr-FR,fr", "en", "ltr"),
    ("", "en", "ltr"),
])
def test_accept_language_decides_until_the_reader_chooses(client, accept, lang, direction):
    page = client.get("/", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert f'<html lang="{lang}" dir="{direction}">' in page


def test_the_switch_is_remembered_in_a_cookie_and_on_the_account(client, forms, reader):
    response = client.post("/language", data={"language": "he", "next": "/donate?amount=18"})
    assert response.status_code == 303 and response.headers["Location"] == "/donate?amount=18"
    page = client.get("/donate", headers={"Accept-Language": "ar"}).get_data(as_text=True)
    assert '<html lang="he" dir="rtl">' in page  # the choice beats the browser's
    assert catalogue("he").get("Keep our correspondents reporting").string in page

    forms.login("reader@example.org", "a sturdy passphrase")
    client.post("/language", data={"language": "ar", "next": "https://evil.example/"})
    db.session.rollback()
    assert db.session.scalar(select(User.language)) == "ar"
    # A new browser, no cookie: the account's language once signed in.
    client.delete_cookie("language")
    assert '<html lang="ar" dir="rtl">' in client.get("/account").get_data(as_text=True)


def test_an_unknown_language_changes_nothing(client):
    response = client.post("/language", data={"language": "xx", "next": "//evil.example"})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "Set-Cookie" not in response.headers


def test_form_errors_and_error_pages_come_in_the_pages_language(client, forms):
    client.set_cookie("language", "ar")
    response = forms.post("/donate", {"email": "someone@example.org", "currency": "usd",
                                      "frequency": "once", "amount": ""})
    assert response.status_code == 422
    assert catalogue("ar").get("Please enter an amount.").string in response.get_data(
        as_text=True)
    missing = client.get("/no-such-page").get_data(as_text=True)
    assert catalogue("ar").get("Page not found").string in missing
    assert catalogue("ar").get(
        "There is no page at this address. The link may be mistyped, or the page may have "
        "moved.").string in missing


def test_amounts_are_written_the_locales_way_and_read_in_arabic_digits(client, forms):
    client.set_cookie("language", "ar")
    page = client.get("/donate?amount=36").get_data(as_text=True)
    assert "\u200f36\xa0US$" in page  # Babel's Arabic pattern: the number, then the symbol
    response = forms.post("/donate", {"email": "someone@example.org", "currency": "usd",
                                      "frequency": "once", "amount": "٣٦٫٥٠"})
    assert response.status_code == 303
    assert db.session.scalar(select(Checkout.amount_cents)) == 3650


def test_mail_goes_out_in_the_language_of_its_recipient(client, forms, app):
    client.set_cookie("language", "he")
    forms.post("/account/signup", {"email": "dana@example.org", "password": "a sturdy passphrase",
                                   "password_confirm": "a sturdy passphrase", "name": "Dana"})
    [mail] = outbox("dana@example.org")
    assert mail.language == "he"
    assert mail.subject == catalogue("he").get("Confirm your e-mail address").string
    # Rendered later, by the mail worker outside any request, still in Hebrew.
    with app.app_context():
        body = render_message(mail).text_body
    assert re.search(r"[\u0590-\u05ff]{3,}", body)

    # A gift given on the Hebrew form: the receipt, sent from Stripe's webhook (which
    # asks in no language), is in Hebrew too.
    client.set_cookie("language", "he")
    response = forms.post("/donate", {"email": "giver@example.org", "currency": "usd",
                                      "frequency": "once", "amount": "36"})
    assert db.session.scalar(select(Donor.language).where(
        Donor.email == "giver@example.org")) == "he"
    client.delete_cookie("language")
    forms.post(response.headers["Location"], {"action": "pay"})
    [receipt] = outbox("giver@example.org")
    assert (receipt.language, receipt.subject) == (
        "he", catalogue("he").get("Thank you for your gift").string)


def test_the_consent_is_recorded_with_the_language_it_was_shown_in(client, forms):
    client.set_cookie("language", "ar")
    page = client.get("/newsletter").get_data(as_text=True)
    assert CONSENT_TEXTS[CONSENT_VERSION]["ar"] in page
    forms.post("/newsletter", {"email": "reader@example.org", "consent": "y"})
    subscriber = db.session.scalar(select(Subscriber))
    assert (subscriber.consent_version, subscriber.consent_language, subscriber.language) == (
        CONSENT_VERSION, "ar", "ar")
    [confirm] = outbox("reader@example.org")
    assert confirm.subject == catalogue("ar").get("Please confirm your subscription").string
    assert set(CONSENT_TEXTS[CONSENT_VERSION]) == set(LANGUAGES)


def test_the_daily_email_is_written_in_each_subscribers_language(client, forms, flask_command):
    db.session.add(Story(url="https://news.example.org/1", title="Gaza ceasefire talks resume",
                         published_at=datetime(2026, 11, 23, 9, tzinfo=UTC)))
    db.session.commit()
    for address, language in (("ar@example.org", "ar"), ("he@example.org", "he"),
                              ("en@example.org", "en")):
        client.set_cookie("language", language)
        forms.post("/newsletter", {"email": address, "consent": "y"})
        client.get(last_link(address))
    result = flask_command("newsletter", "send-digest", "--date", "2026-11-23")
    assert result.returncode == 0, result.stderr
    subjects = {mail.recipient: (mail.language, mail.subject)
                for mail in outbox() if mail.template == "newsletter/digest"}
    assert subjects["ar@example.org"][0] == "ar" and re.search(
        r"[\u0600-\u06ff]", subjects["ar@example.org"][1])
    assert subjects["he@example.org"][0] == "he" and re.search(
        r"[\u0590-\u05ff]", subjects["he@example.org"][1])
    assert subjects["en@example.org"][1].startswith("Your news for")


def test_a_campaign_title_in_english_keeps_its_direction_in_an_arabic_sentence(client):
    make_campaign("spring", title="Spring appeal", featured=True)
    client.set_cookie("language", "ar")
    page = client.get("/donate?campaign=spring").get_data(as_text=True)
    assert "<bdi>Spring appeal</bdi>" in page
    assert '<h1 dir="auto">Spring appeal</h1>' in client.get("/campaigns/spring").get_data(
        as_text=True)


def test_staff_see_statuses_and_chart_titles_in_their_language(client, forms):
    make_user("editor@example.org", "another sturdy passphrase", staff=True)
    forms.login("editor@example.org", "another sturdy passphrase")
    client.set_cookie("language", "ar")
    client.post("/language", data={"language": "ar"})
    page = client.get("/admin/").get_data(as_text=True)
    periods = [catalogue("ar").get(period).string for period in ("day", "week", "month")]
    gross_by = catalogue("ar").get("Gross by %(period)s").string
    assert any(gross_by.replace("%(period)s", period) in page for period in periods)
    assert "Gross by" not in page
    assert 'transform="matrix(-1 0 0 1' in page  # the charts run from the right


def test_an_unconfirmed_account_does_not_choose_a_subscribers_language(client, forms,
                                                                      flask_command, app):
    """Found in review: a stranger's unconfirmed sign-up with a subscriber's address
    changed the language of that subscriber's daily e-mail."""
    db.session.add(Story(url="https://news.example.org/1", title="Gaza ceasefire talks resume",
                         published_at=datetime(2026, 11, 23, 9, tzinfo=UTC)))
    db.session.commit()
    forms.post("/newsletter", {"email": "victim@example.org", "consent": "y"})
    client.get(last_link("victim@example.org"))
    stranger = type(forms)(app.test_client())
    stranger.client.set_cookie("language", "he")
    stranger.post("/account/signup", {"email": "victim@example.org",
                                      "password": "a stranger's pass"})
    assert flask_command("newsletter", "send-digest", "--date", "2026-11-23").returncode == 0
    [digest] = [m for m in outbox("victim@example.org") if m.template == "newsletter/digest"]
    assert digest.language == "en"


def test_pages_tell_caches_they_vary_by_language(client):
    vary = [name.strip() for name in client.get("/donate").headers["Vary"].split(",")]
    assert sorted(vary) == ["Accept-Language", "Cookie"]  # each named once


def test_a_weighted_accept_language_picks_the_preferred_known_language(client):
    for accept, opening in (("de;q=1.0, he;q=0.9, ar;q=0.8", 'lang="he" dir="rtl"'),
                            ("fr, en;q=0.1, ar;q=0.05", 'lang="en" dir="ltr"'),
                            ("xx-YY;q=0.9, *;q=0.1", 'lang="en" dir="ltr"')):
        for _repeat in range(2):  # parsed once, then remembered: the same answer
            assert opening in client.get("/", headers={"Accept-Language": accept}).get_data(
                as_text=True)


def test_a_vary_header_already_set_is_merged_not_repeated():
    response = vary_by_language(Response("<p>page</p>", mimetype="text/html",
                                         headers={"Vary": "Cookie, Origin"}))
    assert sorted(response.vary) == ["Accept-Language", "Cookie", "Origin"]
