from __future__ import annotations

import hashlib
import json

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from membership.accounts import services, sessions
from membership.accounts.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    DeleteAccountForm,
    ForgotPasswordForm,
    LoginForm,
    ProfileForm,
    ResetPasswordForm,
    SignInLinkForm,
    SignupForm,
)
from membership.errors import INVALID, form_status
from membership.extensions import db, limiter
from membership.forms import PostOnlyForm
from membership.urls import safe_next_url

bp = Blueprint("accounts", __name__, url_prefix="/account")


def _per_ip_limit() -> str:
    return current_app.config["RATELIMIT_AUTH_PER_IP"]


def _per_account_limit() -> str:
    return current_app.config["RATELIMIT_AUTH_PER_ACCOUNT"]


def _mail_limit() -> str:
    return current_app.config["RATELIMIT_MAIL_PER_ACCOUNT"]


def _submitted_account() -> str:
    return "account:" + services.normalize_email(request.form.get("email", ""))


def _reset_link() -> str:
    # Each link its own bucket: bad tokens sent by one visitor lock nobody else out.
    token = (request.view_args or {}).get("token", "")
    return "reset:" + hashlib.sha256(token.encode()).hexdigest()


def _signed_in_account() -> str:
    return f"reader:{current_user.id}"


def _limited(*limits):
    def decorate(view):
        for limit in limits:
            view = limit(view)
        return view
    return decorate


_per_ip = limiter.limit(_per_ip_limit, methods=["POST"])
# Guessing passwords or flooding inboxes is limited both from one address and against one
# account, so neither rotating IPs nor rotating targets gets far.
rate_limited = _limited(
    _per_ip, limiter.limit(_per_account_limit, key_func=_submitted_account, methods=["POST"]))
reset_limited = _limited(
    _per_ip, limiter.limit(_per_account_limit, key_func=_reset_link, methods=["POST"]))
# A signed-in reader's password checks (change password, change address, delete) ...
password_limited = _limited(
    _per_ip, limiter.limit(_per_account_limit, key_func=_signed_in_account, methods=["POST"]))
# ... and what sends mail to an address they type or to their own (no mail-bombing).
mail_limited = _limited(
    _per_ip, limiter.limit(_per_account_limit, key_func=_signed_in_account, methods=["POST"]),
    limiter.limit(_mail_limit, key_func=_signed_in_account, methods=["POST"]))


def sign_in(user, remember: bool = False) -> None:
    """Start a server-side sign-in for `user` and hand it to the cookies; what the
    sign-in's receivers do (following a topic chosen before) commits with it."""
    sessions.start_session(user, remember)
    login_user(user, remember=remember)
    db.session.commit()


def _next_url(default_endpoint: str = "accounts.account") -> str:
    return safe_next_url(request.args.get("next")) or url_for(default_endpoint)


@bp.route("/signup", methods=["GET", "POST"])
@rate_limited
def signup():
    if current_user.is_authenticated:
        return redirect(_next_url())
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(form.email.data, form.password.data, form.name.data or "")
        except services.EmailTaken as error:
            form.email.errors.append(str(error))
        else:
            sign_in(user)
            # Onboarding: the topics to follow come first, unless they came from a page. The
            # banner of every page asks them to confirm their address: no second notice.
            return redirect(safe_next_url(request.args.get("next"))
                            or url_for("topics.index", welcome=1))
    status = form_status(form)
    return render_template("accounts/signup.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
@rate_limited
def login():
    if current_user.is_authenticated:
        return redirect(_next_url())
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            sign_in(user, remember=form.remember.data)
            # Staff come to work: their dashboard, unless a page asked for them.
            return redirect(_next_url("admin.home" if user.is_staff else "accounts.account"))
        form.password.errors.append(_("The e-mail address or password is not correct."))
    status = form_status(form)
    return render_template("accounts/login.html", form=form), status


@bp.route("/login/link", methods=["GET", "POST"])
@rate_limited
def sign_in_link():
    """Sign in by e-mailed link, next to the password: the same answer whether or not the
    address has an account."""
    if current_user.is_authenticated:
        return redirect(_next_url())
    form = SignInLinkForm()
    if form.validate_on_submit():
        services.request_sign_in_link(form.email.data, safe_next_url(request.args.get("next")))
        db.session.commit()
        return render_template("accounts/sign_in_link_sent.html", email=form.email.data.strip(),
                               minutes=current_app.config["SIGN_IN_TOKEN_MAX_AGE"] // 60)
    status = form_status(form)
    return render_template("accounts/sign_in_link.html", form=form), status


@bp.get("/login/link/<token>")
@reset_limited
def sign_in_with_link(token: str):
    try:
        user, next_path = services.use_sign_in_link(token)
    except services.InvalidToken as error:
        db.session.rollback()
        return render_template("accounts/token_problem.html", message=str(error),
                               again=url_for("accounts.sign_in_link")), 400
    sign_in(user)
    return redirect(safe_next_url(next_path)
                    or url_for("admin.home" if user.is_staff else "accounts.account"))


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        sessions.end_session(current_user)
        db.session.commit()
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("site.home"))


@bp.get("/verify/<token>")
def verify_email(token: str):
    try:
        services.verify_email(token)
    except services.InvalidToken as error:
        flash(str(error), "error")
        return render_template("accounts/token_problem.html", message=str(error)), 400
    db.session.commit()
    flash(_("Thank you: your e-mail address is confirmed."), "success")
    return redirect(url_for("accounts.account"))


@bp.post("/verify/resend")
@login_required
@mail_limited
def resend_verification():
    if PostOnlyForm().validate_on_submit() and not current_user.is_verified:
        services.send_verification(current_user)
        db.session.commit()
        flash(_("We sent a new confirmation link to %(email)s.", email=current_user.email),
              "info")
    return redirect(url_for("accounts.account"))


@bp.route("/forgot-password", methods=["GET", "POST"])
@rate_limited
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        # The same answer whether or not the account exists.
        return render_template("accounts/reset_sent.html", email=form.email.data.strip())
    status = form_status(form)
    return render_template("accounts/forgot_password.html", form=form), status


@bp.route("/reset/<token>", methods=["GET", "POST"])
@reset_limited
def reset_password(token: str):
    try:
        user = services.user_for_reset_token(token)
    except services.InvalidToken as error:
        return render_template("accounts/token_problem.html", message=str(error)), 400
    form = ResetPasswordForm()
    form.account = user
    if form.validate_on_submit():
        services.reset_password(token, form.password.data)
        sign_in(user)
        flash(_("Your password has been changed."), "success")
        return redirect(url_for("accounts.account"))
    status = form_status(form)
    return render_template("accounts/reset_password.html", form=form), status


# The account page ---------------------------------------------------------------------

def _account_page(status: int = 200, **forms):
    forms.setdefault("profile_form", ProfileForm(obj=current_user, formdata=None))
    forms.setdefault("email_form", ChangeEmailForm(formdata=None))
    forms.setdefault("password_form", ChangePasswordForm(formdata=None))
    forms.setdefault("delete_form", DeleteAccountForm(formdata=None))
    forms.setdefault("resend_form", PostOnlyForm(formdata=None))
    return render_template("accounts/account.html", **forms), status


@bp.get("")
@login_required
def account():
    return _account_page()


@bp.post("/profile")
@login_required
def update_profile():
    form = ProfileForm()
    if not form.validate_on_submit():
        return _account_page(INVALID, profile_form=form)
    services.update_profile(current_user, form.name.data or "")
    db.session.commit()
    flash(_("Your name has been saved."), "success")
    return redirect(url_for("accounts.account"))


@bp.post("/email")
@login_required
@mail_limited
def change_email():
    form = ChangeEmailForm()
    if form.validate_on_submit():
        try:
            services.request_email_change(current_user, form.email.data, form.password.data)
        except services.WrongPassword as error:
            form.password.errors.append(str(error))
        except services.AccountError as error:
            form.email.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("We sent a confirmation link to %(email)s. Your address changes when you "
                    "follow it.", email=services.normalize_email(form.email.data)), "info")
            return redirect(url_for("accounts.account"))
    return _account_page(INVALID, email_form=form)


@bp.get("/email/confirm/<token>")
def confirm_email_change(token: str):
    try:
        user = services.confirm_email_change(token)
    except services.AccountError as error:
        return render_template("accounts/token_problem.html", message=str(error)), 400
    db.session.commit()
    flash(_("Your e-mail address is now %(email)s.", email=user.email), "success")
    return redirect(url_for("accounts.account"))


@bp.post("/password")
@login_required
@password_limited
def change_password():
    form = ChangePasswordForm()
    form.account = current_user
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data,
                                     form.password.data)
        except services.AccountError as error:
            form.current_password.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Your password has been changed. Other devices were signed out."),
                  "success")
            return redirect(url_for("accounts.account"))
    return _account_page(INVALID, password_form=form)


@bp.get("/export.json")
@login_required
def export_data():
    data = services.export_user_data(current_user)
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        mimetype="application/json",
        headers={"Content-Disposition": "attachment; filename=my-data.json"},
    )


@bp.post("/delete")
@login_required
@password_limited
def delete_account():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        try:
            stopped = services.delete_account(current_user, form.password.data)
        except services.AccountError as error:
            form.password.errors.append(str(error))
        else:
            db.session.commit()
            logout_user()
            flash(_("Your account and personal data have been deleted."), "info")
            for sentence in stopped:
                flash(sentence, "info")
            return redirect(url_for("site.home"))
    return _account_page(INVALID, delete_form=form)
