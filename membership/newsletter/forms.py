from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectMultipleField
from wtforms.validators import DataRequired, Email, Length
from wtforms.widgets import CheckboxInput, ListWidget

from membership.forms import strip


class NewsletterForm(FlaskForm):
    email = EmailField(
        _l("E-mail address"),
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=320)],
        filters=[strip],
        render_kw={"autocomplete": "email"})
    # The label is the consent text itself (services.CONSENT_TEXTS), set by the view.
    consent = BooleanField(validators=[DataRequired(message=_l(
        "Please tick the box: we only send the e-mail to readers who asked for it."))])


class PreferencesForm(FlaskForm):
    topics = SelectMultipleField(_l("Topics for your daily e-mail"), coerce=int,
                                 widget=ListWidget(prefix_label=False),
                                 option_widget=CheckboxInput())
