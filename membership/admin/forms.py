from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from membership.donations.forms import FREQUENCY_LABELS
from membership.donations.models import DonationStatus
from membership.payments.models import EventStatus


class EventFilterForm(FlaskForm):
    type = StringField(_l("Type"), validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()], choices=[
        SelectChoice("", _l("Any")), SelectChoice(EventStatus.FAILED, _l("Failed")),
        SelectChoice(EventStatus.MALFORMED, _l("Malformed (refused)")),
        SelectChoice(EventStatus.PROCESSED, _l("Processed")),
        SelectChoice(EventStatus.IGNORED, _l("Ignored")),
        SelectChoice(EventStatus.RECEIVED, _l("Received")),
    ])
    day = DateField(_l("Day (UTC)"), validators=[Optional()])


class DonorSearchForm(FlaskForm):
    q = StringField(_l("E-mail or name"), validators=[Optional(), Length(max=320)])


class DonationFilterForm(FlaskForm):
    start = DateField(_l("From (UTC)"), validators=[Optional()])
    end = DateField(_l("To (UTC)"), validators=[Optional()])
    campaign = StringField(_l("Campaign (slug)"), validators=[Optional(), Length(max=100)])
    frequency = SelectField(_l("Frequency"), validators=[Optional()], choices=[
        SelectChoice("", _l("Any")), *(SelectChoice(value, label)
                                       for value, label in FREQUENCY_LABELS.items())])
    status = SelectField(_l("Status"), validators=[Optional()], choices=[
        SelectChoice("", _l("Any")), SelectChoice(DonationStatus.SUCCEEDED, _l("Succeeded")),
        SelectChoice(DonationStatus.PARTIALLY_REFUNDED, _l("Partly refunded")),
        SelectChoice(DonationStatus.REFUNDED, _l("Refunded")),
        SelectChoice(DonationStatus.DISPUTED, _l("Disputed")),
        SelectChoice(DonationStatus.REVERSED, _l("Dispute lost")),
    ])
