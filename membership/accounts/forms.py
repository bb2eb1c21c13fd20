from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, EmailField, Form, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from membership.accounts.services import email_exists, password_problem
from membership.forms import strip


class _NewPasswordMixin:
    """Checks `password` against the policy, including the reader's own e-mail and name:
    those of `account` when the view sets it, else the form's own fields (sign-up)."""

    account = None

    def validate_password(self, field) -> None:
        if self.account is not None:
            email, name = self.account.email, self.account.name
        else:
            email, name = self.email.data or "", self.name.data or ""
        problem = password_problem(field.data or "", email=email, name=name)
        if problem:
            raise ValidationError(problem)


def _email_field(label=None) -> EmailField:
    return EmailField(
        label or _l("E-mail address"),
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=320)],
        filters=[strip],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


class _AddressForm(Form):
    email = _email_field()


def email_problem(address: str) -> str | None:
    """Why `address` would be refused by the log-in form, or None (for commands, which
    must never create an account that cannot log in)."""
    form = _AddressForm(MultiDict({"email": address}))
    if form.validate():
        return None
    return str(form.email.errors[0])


class SignupForm(_NewPasswordMixin, FlaskForm):
    email = _email_field()
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired()],
        description=_l("At least 10 characters. Avoid common passwords."),
        render_kw={"autocomplete": "new-password"},
    )
    name = StringField(
        _l("Name (optional)"), validators=[Optional(), Length(max=120)],
        render_kw={"autocomplete": "name"},
    )

    def validate_email(self, field) -> None:
        if email_exists(field.data):
            raise ValidationError(_l("An account with this e-mail address already exists. "
                                     "Log in or reset your password."))


class LoginForm(FlaskForm):
    email = _email_field()
    password = PasswordField(
        _l("Password"), validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Keep me logged in on this device"))


class ForgotPasswordForm(FlaskForm):
    email = _email_field()


class SignInLinkForm(FlaskForm):
    email = _email_field()


class ResetPasswordForm(_NewPasswordMixin, FlaskForm):
    password = PasswordField(
        _l("New password"), validators=[DataRequired()],
        render_kw={"autocomplete": "new-password"},
    )


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)],
                       render_kw={"autocomplete": "name"})


class ChangeEmailForm(FlaskForm):
    email = _email_field(_l("New e-mail address"))
    # A stolen session cookie alone must not be enough to take the account over.
    password = PasswordField(
        _l("Your password"), validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )


class ChangePasswordForm(_NewPasswordMixin, FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    password = PasswordField(
        _l("New password"), validators=[DataRequired()],
        render_kw={"autocomplete": "new-password"},
    )


class DeleteAccountForm(FlaskForm):
    password = PasswordField(
        _l("Your password"), validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    confirm = BooleanField(
        _l("I understand that this cannot be undone"), validators=[DataRequired()]
    )
