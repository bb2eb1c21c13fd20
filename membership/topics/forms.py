from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from membership.forms import slug_rule, strip
from membership.topics.models import REGION, THEME


class TopicForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)],
                       filters=[strip])
    hidden = BooleanField(_l("Hidden from the catalogue (followers keep it)"))


class NewTopicForm(TopicForm):
    slug = StringField(_l("Address (slug)"), validators=[
        DataRequired(), Length(max=60),
        slug_rule()])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(REGION, _l("Region")),
                                            SelectChoice(THEME, _l("Theme"))])
