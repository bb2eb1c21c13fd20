from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from membership.accounts.services import InvalidToken
from membership.errors import form_status
from membership.extensions import csrf, db, limiter
from membership.forms import PostOnlyForm
from membership.newsletter import services
from membership.newsletter.forms import NewsletterForm, PreferencesForm
from membership.topics.services import catalogue

bp = Blueprint("newsletter", __name__, url_prefix="/newsletter")

def newsletter_form(**kwargs) -> NewsletterForm:
    """The sign-up form, with the current consent wording as the box's label."""
    form = NewsletterForm(**kwargs)
    form.consent.label.text = services.consent_text()
    return form


def _subscribe_limit() -> str:
    return current_app.config["RATELIMIT_AUTH_PER_IP"]


@bp.route("", methods=["GET", "POST"])
@limiter.limit(_subscribe_limit, methods=["POST"])
def subscribe():
    form = newsletter_form()
    if form.validate_on_submit():
        services.subscribe(form.email.data, request.remote_addr)
        db.session.commit()
        # The same answer whoever asks: it does not tell who is subscribed.
        return render_template("newsletter/check_inbox.html", email=form.email.data)
    return render_template("newsletter/subscribe.html", form=form), form_status(form)


@bp.get("/confirm/<token>")
def confirm(token: str):
    try:
        services.confirm(token)
    except InvalidToken as error:
        return render_template("newsletter/link_problem.html", reason=str(error)), 400
    db.session.commit()
    return render_template("newsletter/confirmed.html")


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: mail providers POST "List-Unsubscribe=One-Click" without a form
@limiter.exempt
def unsubscribe(token: str):
    """A GET only shows the button: mail scanners fetch every link in a message, and must
    not unsubscribe anyone. The POST (the button, or a mail provider's one-click) does."""
    try:
        subscriber = services.subscriber_for_link(token)
    except InvalidToken as error:
        return render_template("newsletter/link_problem.html", reason=str(error)), 400
    if request.method == "GET":
        return render_template("newsletter/unsubscribe.html", subscriber=subscriber)
    services.unsubscribe(subscriber)
    db.session.commit()
    if request.form.get("List-Unsubscribe") == "One-Click":
        return _("You are unsubscribed."), 200, {"Content-Type": "text/plain; charset=utf-8"}
    return render_template("newsletter/unsubscribed.html")


@bp.route("/preferences/<token>", methods=["GET", "POST"])
def preferences(token: str):
    """Reached from a signed link in every mail: no log-in needed."""
    try:
        subscriber = services.subscriber_for_link(token)
    except InvalidToken as error:
        return render_template("newsletter/link_problem.html", reason=str(error)), 400
    if services.has_account(subscriber):
        return render_template("newsletter/preferences.html", form=None, subscriber=subscriber)
    form = PreferencesForm(data={"topics": sorted(services.chosen_topic_ids(subscriber))})
    form.topics.choices = [(topic.id, topic.name) for kind in catalogue().values()
                           for topic in kind]
    if form.validate_on_submit():
        services.choose_topics(subscriber, set(form.topics.data))
        db.session.commit()
        flash(_("Your topics are saved: tomorrow's e-mail follows them."), "success")
        return redirect(url_for("newsletter.preferences", token=token))
    return render_template("newsletter/preferences.html", form=form, subscriber=subscriber)


# The signed-in reader's own subscription, from their account page -------------------------

@bp.post("/mine")
@login_required
def subscribe_mine():
    if not PostOnlyForm().validate_on_submit():
        return redirect(url_for("accounts.account"))
    if not current_user.is_verified:
        flash(_("Please confirm your e-mail address first: the link is in your inbox."),
              "error")
        return redirect(url_for("accounts.account"))
    services.subscribe_account(current_user, request.remote_addr)
    db.session.commit()
    flash(_("You will get the daily e-mail at %(email)s.", email=current_user.email),
          "success")
    return redirect(url_for("accounts.account") + "#newsletter-heading")


@bp.post("/mine/stop")
@login_required
def unsubscribe_mine():
    subscriber = services.account_subscription(current_user)
    if PostOnlyForm().validate_on_submit() and subscriber is not None:
        services.unsubscribe(subscriber)
        db.session.commit()
        flash(_("You will not get the daily e-mail any more."), "success")
    return redirect(url_for("accounts.account") + "#newsletter-heading")
