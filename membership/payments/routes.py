from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from membership.donations.checkout import campaign_offer
from membership.donations.gateway import GatewayError
from membership.donations.giving import own_donation_or_none, own_recurring_gift_or_none
from membership.donations.models import (
    Checkout,
    CheckoutStatus,
    RecurringGift,
    SubscriptionStatus,
)
from membership.extensions import csrf, db, limiter
from membership.payments import sandbox
from membership.payments.forms import SandboxActionForm
from membership.payments.webhook import receive_webhook
from membership.urls import external_url, safe_next_url

bp = Blueprint("payments", __name__)


@bp.post("/stripe/webhook")
@csrf.exempt  # Stripe cannot send our CSRF token; the signature proves the sender instead
@limiter.exempt
def stripe_webhook():
    outcome = receive_webhook(request.get_data(), request.headers.get("Stripe-Signature"))
    return outcome.body, outcome.http_status


# The sandbox gateway's pages: registered only when PAYMENTS_GATEWAY=sandbox ----------------

sandbox_bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")


def _checkout_or_404(session_id: str) -> Checkout:
    checkout = db.session.scalar(select(Checkout).where(Checkout.stripe_session_id == session_id))
    if checkout is None:
        abort(404)
    return checkout


@sandbox_bp.route("/checkout/<session_id>", methods=["GET", "POST"])
def checkout(session_id: str):
    checkout = _checkout_or_404(session_id)
    form = SandboxActionForm()
    declined = False
    if checkout.status == CheckoutStatus.PAID:
        return redirect(url_for("donations.thank_you", gift=checkout.public_id))
    if form.validate_on_submit():
        action = form.action.data
        if action == sandbox.DECLINE:
            declined = True
        elif action in sandbox.CHECKOUT_ACTIONS:
            delay = current_app.config["SANDBOX_DELIVERY_DELAY"]
            if delay:
                sandbox.complete_later(current_app._get_current_object(), checkout.id, action,
                                       delay)
            else:
                try:
                    sandbox.complete_checkout(checkout, action)
                except GatewayError as error:
                    flash(str(error), "error")
            return redirect(url_for("donations.thank_you", gift=checkout.public_id))
        else:
            abort(400)
    status = 402 if declined else 200
    offer = campaign_offer(checkout.campaign)
    return render_template("payments/sandbox_checkout.html", checkout=checkout, form=form,
                           declined=declined, back=safe_next_url(request.args.get("back")),
                           campaign_title=offer.title if offer else checkout.campaign), status


@sandbox_bp.route("/update-card/<int:gift_id>", methods=["GET", "POST"])
def update_card(gift_id: int):
    """Stripe's Customer Portal, played: like a portal session's URL, the `session` it is
    opened with is the permission (a guest donor comes from the gift's own page), and it
    goes back where the session says; signed in, the reader's own gift is enough."""
    gift = db.session.get(RecurringGift, gift_id)
    session = sandbox.portal_session(request.args.get("session", ""), gift)
    if session is None and not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if session is None:
        gift = own_recurring_gift_or_none(current_user, gift_id)
    if gift is None:
        abort(404)
    form = SandboxActionForm()
    if form.validate_on_submit():
        sandbox.update_card(gift)
        flash(_("Your card has been updated."), "success")
        return redirect(safe_next_url(session) or url_for("donations.giving"))
    return render_template("payments/sandbox_update_card.html", gift=gift, form=form)


@sandbox_bp.post("/donations/<int:donation_id>/<action>")
@login_required
def play_donation(donation_id: int, action: str):
    """What may befall a recorded gift at Stripe (a refund, a dispute), played for its donor."""
    donation = own_donation_or_none(current_user, donation_id)
    if donation is None or action not in sandbox.DONATION_ACTIONS:
        abort(404)
    if not SandboxActionForm().validate_on_submit():
        abort(400)
    sandbox.play_donation(donation, action)
    flash(_("The sandbox sent Stripe's events for this gift."), "info")
    return redirect(url_for("donations.giving"))


@sandbox_bp.post("/gifts/<int:gift_id>/<action>")
@login_required
def play_renewal(gift_id: int, action: str):
    """A recurring gift's next renewal, paid, declined or held for the bank's confirmation."""
    gift = own_recurring_gift_or_none(current_user, gift_id)
    if (gift is None or action not in sandbox.GIFT_ACTIONS
            or gift.status == SubscriptionStatus.CANCELED):
        abort(404)
    if not SandboxActionForm().validate_on_submit():
        abort(400)
    sandbox.play_renewal(gift, action, external_url("sandbox.update_card", gift_id=gift.id))
    flash(_("The sandbox sent Stripe's events for the next renewal."), "info")
    return redirect(url_for("donations.giving"))
