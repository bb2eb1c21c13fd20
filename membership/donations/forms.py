from __future__ import annotations

import re
from decimal import Decimal

from flask import current_app
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from membership.donations.checkout import campaign_offer
from membership.donations.models import (
    CancelFeedback,
    DonationStatus,
    Frequency,
    SubscriptionStatus,
)
from membership.donations.money import (
    STRIPE_MINIMUMS,
    AmountError,
    format_money,
    parse_amount,
    to_minor,
)
from membership.forms import one_line, strip
from membership.types import utcnow

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
FREQUENCY_LABELS = {Frequency.ONCE: _l("Once"), Frequency.MONTHLY: _l("Monthly"),
                    Frequency.YEARLY: _l("Yearly")}


def frequency_label(frequency: str) -> str:
    return str(FREQUENCY_LABELS.get(frequency, frequency))


# A gift's and a donation's states as donors and staff read them (Stripe's words otherwise).
STATUS_LABELS = {
    SubscriptionStatus.INCOMPLETE: _l("waiting for the first payment"),
    SubscriptionStatus.INCOMPLETE_EXPIRED: _l("first payment never made"),
    SubscriptionStatus.TRIALING: _l("not charged yet"),
    SubscriptionStatus.ACTIVE: _l("active"),
    SubscriptionStatus.PAST_DUE: _l("payment failed, retrying"),
    SubscriptionStatus.UNPAID: _l("unpaid"),
    SubscriptionStatus.PAUSED: _l("paused"),
    SubscriptionStatus.CANCELED: _l("ended"),
    DonationStatus.SUCCEEDED: _l("paid"),
    DonationStatus.PARTIALLY_REFUNDED: _l("partly refunded"),
    DonationStatus.REFUNDED: _l("refunded"),
    DonationStatus.DISPUTED: _l("disputed"),
    DonationStatus.REVERSED: _l("reversed after a dispute"),
}


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status.replace("_", " ")))


def minimum_gift(currency: str) -> Decimal:
    """The smallest gift in `currency`, in major units: the currency's own setting, else
    DONATION_MIN_AMOUNT, and never below what Stripe charges at the least."""
    config = current_app.config
    own = config["DONATION_MIN_AMOUNTS"].get(currency.lower())
    if own is not None:
        return own
    return max(config["DONATION_MIN_AMOUNT"],
               Decimal(STRIPE_MINIMUMS.get(currency.lower(), "0")))


def check_amount(text: str | None, currency: str) -> int:
    """Minor units for a typed amount within the configured limits, or AmountError."""
    amount = parse_amount(text, currency)
    config = current_app.config
    minimum = minimum_gift(currency)
    maximum: Decimal = config["DONATION_MAX_AMOUNT"]
    if amount < minimum:
        raise AmountError(_("The smallest gift we can accept is %(amount)s.",
                            amount=format_money(to_minor(minimum, currency), currency)))
    if amount > maximum:
        raise AmountError(_("For gifts above %(amount)s, please contact us directly.",
                            amount=format_money(to_minor(maximum, currency), currency)))
    return to_minor(amount, currency)


class DonateForm(FlaskForm):
    amount = StringField(
        _l("Amount"),
        # No placeholder: a grey "36" reads as filled in.
        render_kw={"inputmode": "decimal", "autocomplete": "transaction-amount"},
    )
    frequency = RadioField(
        _l("How often"),
        choices=[SelectChoice(value, FREQUENCY_LABELS[value]) for value in Frequency],
        default="once",
        validators=[DataRequired()],
    )
    currency = SelectField(_l("Currency"))
    email = EmailField(
        _l("E-mail address"),
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=320)],
        filters=[strip],
        description=_l("For your receipt. We never share it."),
        render_kw={"autocomplete": "email"},
    )
    name = StringField(_l("Your name (optional)"), validators=[Optional(), Length(max=200)],
                       filters=[one_line], render_kw={"autocomplete": "name"})
    campaign = StringField(_l("Campaign"), validators=[Optional(), Length(max=100)])
    cover_fees = BooleanField(_l("Add the card processing fee so that all of my gift arrives"))
    anonymous = BooleanField(_l("Keep my name off the public supporters list"))
    dedication_kind = SelectField(
        _l("Dedicate this gift"),
        choices=[SelectChoice("honor", _l("In honor of")),
                 SelectChoice("memory", _l("In memory of"))],
        default="honor",
    )
    dedication = StringField(_l("Name of the person"), validators=[Optional(), Length(max=200)],
                             filters=[one_line])
    dedication_message = TextAreaField(_l("Message (optional)"),
                                       validators=[Optional(), Length(max=500)])
    honoree_email = EmailField(
        _l("Send them a card by e-mail (optional)"),
        validators=[Optional(), Email(check_deliverability=False), Length(max=320)],
        filters=[strip],
        description=_l("Their address, to tell them of your gift with your message. It is "
                       "used once, for this card, and then forgotten."))
    # Left empty by people; bots filling every field give themselves away.
    website = StringField(_l("Leave this field empty"), render_kw={
        "autocomplete": "off", "tabindex": "-1"})

    amount_cents: int | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        currencies = current_app.config["DONATION_CURRENCIES"]
        self.currency.choices = [SelectChoice(code, code.upper()) for code in currencies]
        if not self.currency.data:
            self.currency.data = currencies[0]

    def validate_amount(self, field) -> None:
        currencies = current_app.config["DONATION_CURRENCIES"]
        currency = self.currency.data if self.currency.data in currencies else currencies[0]
        try:
            self.amount_cents = check_amount(field.data, currency)
        except AmountError as error:
            raise ValidationError(str(error)) from error

    def validate_honoree_email(self, field) -> None:
        if field.data and not (self.dedication.data or "").strip():
            raise ValidationError(_("Add the name of the person the gift is dedicated to."))

    def validate_campaign(self, field) -> None:
        if not field.data:
            return
        offer = campaign_offer(field.data) if SLUG.match(field.data) else None
        if offer is None:
            raise ValidationError(_("This campaign does not exist."))
        now = utcnow()
        if now < offer.starts_at:
            raise ValidationError(_("This campaign opens on %(date)s.",
                                    date=format_date(offer.starts_at, "long")))
        if now >= offer.ends_at:
            raise ValidationError(_("This campaign has ended. Thank you to everyone who "
                                    "gave; you can still give to our reporting."))
        if self.currency.data != offer.currency:
            raise ValidationError(_("Gifts to this campaign are made in %(currency)s.",
                                    currency=offer.currency.upper()))

    def validate_website(self, field) -> None:
        if field.data:
            raise ValidationError(_("Please leave this field empty."))


class ChangeAmountForm(FlaskForm):
    amount = StringField(_l("New amount"), validators=[DataRequired()],
                         render_kw={"inputmode": "decimal"})


class CancelGiftForm(FlaskForm):
    feedback = RadioField(_l("What brings you to cancel?"), validators=[Optional()],
                          choices=[
                              SelectChoice(CancelFeedback.TOO_EXPENSIVE,
                                           _l("I cannot afford it just now")),
                              SelectChoice(CancelFeedback.UNUSED,
                                           _l("I do not read enough to give")),
                              SelectChoice(CancelFeedback.LOW_QUALITY,
                                           _l("I am unhappy with the coverage")),
                              SelectChoice(CancelFeedback.SWITCHED_SERVICE,
                                           _l("I give to another cause instead")),
                              SelectChoice(CancelFeedback.CUSTOMER_SERVICE,
                                           _l("Something went wrong with my gift")),
                              SelectChoice(CancelFeedback.OTHER, _l("Another reason"))])
    reason = TextAreaField(_l("Would you tell us why? (optional)"),
                           validators=[Optional(), Length(max=1000)])
    # By default the gift ends when the period it paid for does: nothing paid is lost.
    when = RadioField(_l("When should it end?"), default="period_end",
                      choices=[SelectChoice("period_end",
                                            _l("At the end of the period already paid for")),
                               SelectChoice("now", _l("Now"))])


class SwitchFrequencyForm(FlaskForm):
    amount = StringField(_l("Amount each time"), validators=[DataRequired()],
                         render_kw={"inputmode": "decimal"})


class MakeItMonthlyForm(FlaskForm):
    gift = HiddenField(validators=[DataRequired(), Length(max=64)])
    amount = StringField(validators=[DataRequired(), Length(max=32)])  # the button's value


class PauseGiftForm(FlaskForm):
    months = RadioField(_l("Pause for"), default="1",
                        choices=[SelectChoice("1", _l("1 month")),
                                 SelectChoice("2", _l("2 months")),
                                 SelectChoice("3", _l("3 months")),
                                 SelectChoice("0", _l("Until I resume it"))])
