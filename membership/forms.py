"""What every domain's forms share: the slug rule, the strip filter and the form of a
button that only posts."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.validators import Regexp

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


def slug_rule() -> Regexp:
    """An address part: lowercase letters and digits, words joined by single hyphens."""
    return Regexp(SLUG_PATTERN, message=_l("Use lowercase letters, digits and single hyphens."))


def strip(value):
    """A field filter: the text without the spaces around it (others pass unchanged)."""
    return value.strip() if isinstance(value, str) else value


def one_line(value):
    """A field filter for a name: line breaks, tabs and runs of spaces become one space."""
    return " ".join(value.split()) if isinstance(value, str) else value


class PostOnlyForm(FlaskForm):
    """No fields: the CSRF token is the whole form (follow, replay, end a campaign, …)."""
