from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField


class SandboxActionForm(FlaskForm):
    """The sandbox checkout's buttons each post this form with their own `action`."""

    action = HiddenField()
