from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp

from membership.topics.models import REGION, THEME

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class FollowForm(FlaskForm):
    """No fields: the CSRF token is the whole form (follow, unfollow, move)."""


class TopicForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)],
                       filters=[lambda value: value.strip() if isinstance(value, str) else value])
    hidden = BooleanField(_l("Hidden from the catalogue (followers keep it)"))


class NewTopicForm(TopicForm):
    slug = StringField(_l("Address (slug)"), validators=[
        DataRequired(), Length(max=60),
        Regexp(SLUG_PATTERN, message=_l("Use lowercase letters, digits and single hyphens."))])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(REGION, _l("Region")),
                                            SelectChoice(THEME, _l("Theme"))])
