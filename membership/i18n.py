"""Which language a page or an e-mail is in: English, Arabic or Hebrew.

A reader's choice is remembered in a cookie and, signed in, on the account; until they
choose, `Accept-Language` decides. Mail goes out in the language stored with its
recipient (see `mail.services.queue_mail`)."""

from __future__ import annotations

from functools import lru_cache

from babel import Locale
from flask import Flask, current_app, g, has_request_context, request
from flask_babel import get_locale, get_translations
from markupsafe import Markup
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

LANGUAGES = {"en": "English", "ar": "العربية", "he": "עברית"}
DEFAULT_LANGUAGE = "en"
RIGHT_TO_LEFT = {"ar", "he"}
LANGUAGE_COOKIE = "language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LOCALES = {code: Locale.parse(code) for code in LANGUAGES}
PAGE_VARY = "Accept-Language, Cookie"
# The signed-in reader's own language, asked of accounts without importing it (accounts
# depends on this module); set when the app is built.
READER_LANGUAGE_KEY = "i18n.reader_language"


def known_language(code: str | None) -> str | None:
    return code if code in LANGUAGES else None


def select_locale() -> Locale | None:
    """Flask-Babel's locale selector. Outside a request (commands, the mail worker) it
    falls back to the default; mail rendering forces the recipient's language. A parsed
    Locale, each parsed once: Flask-Babel would parse a code on every request."""
    if not has_request_context():
        return None
    reader_language = current_app.extensions.get(READER_LANGUAGE_KEY)
    chosen = known_language(reader_language()) if reader_language else None
    if chosen:
        return LOCALES[chosen]
    chosen = known_language(request.cookies.get(LANGUAGE_COOKIE))
    return LOCALES[chosen or _best_language(request.headers.get("Accept-Language", ""))]


@lru_cache(maxsize=256)
def _best_language(accept_language: str) -> str:
    # Browsers send a handful of distinct headers, and parsing one on every request was a
    # measurable part of a page served from memory. Bounded: headers are the visitor's.
    return parse_accept_header(accept_language, LanguageAccept).best_match(
        list(LANGUAGES), DEFAULT_LANGUAGE)


def current_language() -> str:
    """The language of what is being rendered now, as one of LANGUAGES."""
    return known_language(str(get_locale())) or DEFAULT_LANGUAGE


def text_direction(language: str | None = None) -> str:
    return "rtl" if (language or current_language()) in RIGHT_TO_LEFT else "ltr"


def isolate(value) -> Markup:
    """`<bdi>`: an English title, an address or a name inside an Arabic or Hebrew sentence
    keeps its own direction and leaves the sentence's alone."""
    return Markup("<bdi>%s</bdi>") % value


def vary_by_language(response):
    """Pages differ by Accept-Language and by the language cookie: say so to caches."""
    if response.mimetype == "text/html":
        # Written as text when nothing set it yet (every page today): werkzeug's
        # `response.vary.add` parses and writes the header anew on each call.
        if "Vary" in response.headers:
            response.vary.update(("Accept-Language", "Cookie"))
        else:
            response.headers["Vary"] = PAGE_VARY
    return response


def _translations():
    """The current locale's catalogue, found once per request and locale: Flask-Babel
    finds it anew on every call, and a page makes some forty."""
    locale = get_locale()
    found = g.get("_translations")
    if found is None or found[0] is not locale:
        found = g._translations = (locale, get_translations())
    return found[1]


def install_template_gettext(app: Flask) -> None:
    """The templates' `_`, `ngettext` and friends, as Flask-Babel installs them, reading
    the catalogue through `_translations`."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda text: _translations().ugettext(text),
        ngettext=lambda singular, plural, n: _translations().ungettext(singular, plural, n),
        pgettext=lambda context, text: _translations().upgettext(context, text),
        npgettext=lambda context, singular, plural, n: _translations().unpgettext(
            context, singular, plural, n),
        newstyle=True)
