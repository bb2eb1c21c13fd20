from __future__ import annotations

import re
from datetime import UTC

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from membership.campaigns.models import Campaign, GoalType
from membership.donations.money import (
    AmountError,
    format_money,
    parse_amount,
    to_major,
    to_minor,
)
from membership.forms import SLUG_PATTERN, strip

RATIO = re.compile(r"^\s*(\d{1,3})\s*:\s*(\d{1,3})\s*$")
MILESTONE = re.compile(r"^\s*([\d,.]+)\s*[:=|]\s*(.+?)\s*$")
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
WHOLE_NUMBER = re.compile(r"^[0-9]{1,9}$")
# Goals, milestones and caps are 32-bit integer columns: a round ceiling well inside them.
MAX_GOAL_MINOR = 2_000_000_000
MAX_DONORS = 10_000_000
FIRST_YEAR, LAST_YEAR = 1970, 2999


class CampaignForm(FlaskForm):
    """A campaign as staff write it: amounts in major units, times in UTC.

    Validation turns the text into the values the model keeps (`parsed`)."""

    slug = StringField(
        _l("Address (slug)"),
        validators=[DataRequired(), Length(max=100),
                    Regexp(SLUG_PATTERN, message=_l(
                        "Use lowercase letters, digits and single hyphens, like "
                        "20th-anniversary."))],
        filters=[strip],
        description=_l("The campaign's address: /campaigns/<slug>. It cannot change later."))
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)],
                        filters=[strip])
    appeal = TextAreaField(_l("Short appeal"), validators=[DataRequired(), Length(max=500)],
                           filters=[strip],
                           description=_l("One or two sentences for the banner and cards."))
    story = TextAreaField(_l("Story"), validators=[Optional(), Length(max=20000)],
                          description=_l("Markdown: paragraphs, **bold**, lists, links."),
                          render_kw={"rows": 10})
    goal_type = RadioField(_l("The goal counts"), default=GoalType.AMOUNT, choices=[
        SelectChoice(GoalType.AMOUNT, _l("Money raised")),
        SelectChoice(GoalType.DONORS, _l("Donors")),
    ], validators=[DataRequired()])
    goal = StringField(_l("Goal"), validators=[DataRequired()], filters=[strip],
                       description=_l("An amount in the campaign's currency, like 200000, "
                                      "or a number of donors."),
                       render_kw={"inputmode": "decimal"})
    currency = SelectField(_l("Currency"))
    # InputRequired, not DataRequired: a date that does not parse is reported as such.
    starts_at = DateTimeLocalField(_l("Starts (UTC)"), format=DATETIME_FORMAT,
                                   validators=[InputRequired()])
    ends_at = DateTimeLocalField(_l("Ends (UTC)"), format=DATETIME_FORMAT,
                                 validators=[InputRequired()],
                                 description=_l("Gifts count up to, not including, this "
                                                "moment."))
    featured = BooleanField(_l("Feature it: a banner on every page while it runs"))
    suggested_amounts = StringField(
        _l("Suggested one-time amounts (optional)"), validators=[Optional()],
        filters=[strip], description=_l("Comma-separated, like 20, 50, 100."))
    milestones = TextAreaField(
        _l("Milestones (optional)"), validators=[Optional()],
        description=_l("One a line: the figure, a colon, the words. Like "
                       "“20000: 20 years, 20,000 readers”."),
        render_kw={"rows": 4})
    sponsor_name = StringField(_l("Matching sponsor (optional)"),
                               validators=[Optional(), Length(max=200)], filters=[strip])
    match_ratio = StringField(_l("Match ratio"), validators=[Optional()], filters=[strip],
                              description=_l("Sponsor:readers, like 1:1 (each gift doubled) "
                                             "or 2:1."))
    match_cap = StringField(_l("Match cap"), validators=[Optional()], filters=[strip],
                            description=_l("The most the sponsor gives, in the campaign's "
                                           "currency."), render_kw={"inputmode": "decimal"})

    parsed: dict

    def __init__(self, *args, taken_slugs=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.taken_slugs = taken_slugs
        currencies = current_app.config["DONATION_CURRENCIES"]
        self.currency.choices = [SelectChoice(code, code.upper()) for code in currencies]
        self.parsed = {}

    def _money(self, field, text: str) -> int:
        currency = self.currency.data or "usd"
        try:
            minor = to_minor(parse_amount(text, currency), currency)
        except AmountError as error:
            raise ValidationError(str(error)) from error
        if minor > MAX_GOAL_MINOR:
            raise ValidationError(_("Enter at most %(amount)s.", amount=format_money(
                MAX_GOAL_MINOR, currency)))
        return minor

    @staticmethod
    def _donors(text: str, message: str) -> int:
        if not WHOLE_NUMBER.match(text) or not 0 < int(text) <= MAX_DONORS:
            raise ValidationError(message)
        return int(text)

    @staticmethod
    def _within_years(field) -> None:
        if field.data and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
            raise ValidationError(_("Enter a date between the years %(first)d and %(last)d.",
                                    first=FIRST_YEAR, last=LAST_YEAR))

    def validate_slug(self, field) -> None:
        if self.taken_slugs is not None and self.taken_slugs(field.data):
            raise ValidationError(_("Another campaign already uses this address."))

    def validate_goal(self, field) -> None:
        if self.goal_type.data == GoalType.DONORS:
            self.parsed["goal"] = self._donors(field.data, _(
                "Enter a number of donors from 1 to %(most)s.", most=f"{MAX_DONORS:,}"))
        else:
            self.parsed["goal"] = self._money(field, field.data)

    def validate_starts_at(self, field) -> None:
        self._within_years(field)

    def validate_ends_at(self, field) -> None:
        self._within_years(field)
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError(_("The end must come after the start."))

    def validate_suggested_amounts(self, field) -> None:
        parts = [part for part in field.data.split(",") if part.strip()] if field.data else []
        if len(parts) > 6:
            raise ValidationError(_("Suggest at most six amounts."))
        self.parsed["suggested_amounts"] = [self._money(field, part) for part in parts]

    def validate_milestones(self, field) -> None:
        milestones = []
        for number, line in enumerate((field.data or "").splitlines(), start=1):
            if not line.strip():
                continue
            match = MILESTONE.match(line)
            if not match:
                raise ValidationError(_("Line %(n)d: write the figure, a colon, then the "
                                        "words.", n=number))
            figure, label = match.groups()
            try:
                if self.goal_type.data == GoalType.DONORS:
                    at = self._donors(figure, _("a number of donors from 1 to %(most)s.",
                                                most=f"{MAX_DONORS:,}"))
                else:
                    at = self._money(field, figure)
            except ValidationError as error:
                raise ValidationError(_("Line %(n)d: %(problem)s", n=number,
                                        problem=error)) from error
            milestones.append({"at": at, "label": label[:200]})
        self.parsed["milestones"] = sorted(milestones, key=lambda m: m["at"])

    def validate_match_ratio(self, field) -> None:
        if field.data:
            match = RATIO.match(field.data)
            if not match or not all(int(part) > 0 for part in match.groups()):
                raise ValidationError(_("Write the ratio as two whole numbers, like 1:1."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        sponsor = (self.sponsor_name.data, self.match_ratio.data, self.match_cap.data)
        if any(sponsor) and not all(sponsor):
            for field, value in zip((self.sponsor_name, self.match_ratio, self.match_cap),
                                    sponsor, strict=True):
                if not value:
                    field.errors.append(_("A match needs the sponsor, the ratio and the cap."))
            return False
        if all(sponsor) and not self.match_cap.errors and not self.match_ratio.errors:
            try:
                self.parsed["match_cap_cents"] = self._money(self.match_cap, self.match_cap.data)
            except ValidationError as error:
                self.match_cap.errors.append(str(error))
                return False
        return valid

    def values(self) -> dict:
        """The campaign's fields from a validated form."""
        ratio = RATIO.match(self.match_ratio.data or "")
        return {
            "slug": self.slug.data,
            "title": self.title.data,
            "appeal": self.appeal.data,
            "story": self.story.data or "",
            "goal_type": self.goal_type.data,
            "goal": self.parsed["goal"],
            "currency": self.currency.data,
            "starts_at": self.starts_at.data.replace(tzinfo=UTC),
            "ends_at": self.ends_at.data.replace(tzinfo=UTC),
            "featured": self.featured.data,
            "suggested_amounts": self.parsed.get("suggested_amounts", []),
            "milestones": self.parsed.get("milestones", []),
            "sponsor_name": self.sponsor_name.data or None,
            "match_sponsor_part": int(ratio.group(1)) if ratio else None,
            "match_gift_part": int(ratio.group(2)) if ratio else None,
            "match_cap_cents": self.parsed.get("match_cap_cents") if ratio else None,
        }


def form_data(campaign: Campaign) -> dict:
    """A campaign as the form shows it, for editing."""
    currency = campaign.currency

    def major(minor: int) -> str:
        return str(to_major(minor, currency))

    amount_goal = campaign.goal_type == GoalType.AMOUNT
    return {
        "slug": campaign.slug, "title": campaign.title, "appeal": campaign.appeal,
        "story": campaign.story, "goal_type": campaign.goal_type,
        "goal": major(campaign.goal) if amount_goal else str(campaign.goal),
        "currency": currency,
        "starts_at": campaign.starts_at.replace(tzinfo=None),
        "ends_at": campaign.ends_at.replace(tzinfo=None),
        "featured": campaign.featured,
        "suggested_amounts": ", ".join(major(a) for a in campaign.suggested_amounts or ()),
        "milestones": "\n".join(
            f"{major(m['at']) if amount_goal else m['at']}: {m['label']}"
            for m in campaign.milestones or ()),
        "sponsor_name": campaign.sponsor_name or "",
        "match_ratio": (f"{campaign.match_sponsor_part}:{campaign.match_gift_part}"
                        if campaign.has_match else ""),
        "match_cap": major(campaign.match_cap_cents) if campaign.has_match else "",
    }
