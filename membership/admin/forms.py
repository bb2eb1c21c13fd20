from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from membership.payments.models import FAILED, IGNORED, PROCESSED, RECEIVED


class EventFilterForm(FlaskForm):
    type = StringField(_l("Type"), validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()], choices=[
        SelectChoice("", _l("Any")), SelectChoice(FAILED, _l("Failed")),
        SelectChoice(PROCESSED, _l("Processed")), SelectChoice(IGNORED, _l("Ignored")),
        SelectChoice(RECEIVED, _l("Received")),
    ])
    day = DateField(_l("Day (UTC)"), validators=[Optional()])


class ReplayForm(FlaskForm):
    """No fields: the CSRF token is the whole form."""
