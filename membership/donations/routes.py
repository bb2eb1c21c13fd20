from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user, login_required

from membership.donations.checkout import (
    CampaignOffer,
    GiftChoice,
    campaign_offer,
    checkout_by_public_id,
    fee_for,
    fixed_fee,
    start_checkout,
)
from membership.donations.documents import receipt_document, statement_document
from membership.donations.forms import (
    CancelGiftForm,
    ChangeAmountForm,
    DonateForm,
    MakeItMonthlyForm,
    PauseGiftForm,
    SwitchFrequencyForm,
    check_amount,
    frequency_label,
)
from membership.donations.gateway import GatewayError, payment_gateway
from membership.donations.giving import (
    donation_for_receipt_token,
    donations_for,
    fiscal_label,
    fiscal_year_of,
    gift_for_manage_token,
    own_donation_or_none,
    own_recurring_gift_or_none,
    pause_ends,
    payment_attempts,
    recurring_gifts_for,
    revoke_manage_links,
    skip_ends,
    switched_frequency,
    yearly_statement,
)
from membership.donations.models import (
    ENDED_STATUSES,
    Checkout,
    CheckoutStatus,
    Frequency,
    RecurringGift,
)
from membership.donations.money import AmountError, format_money, to_major
from membership.donations.recurring import record_cancel_reason
from membership.errors import form_status
from membership.extensions import db, limiter
from membership.forms import PostOnlyForm
from membership.mail.services import Attachment
from membership.page_cache import public_page, readers_own
from membership.types import utcnow
from membership.urls import external_url

bp = Blueprint("donations", __name__)

def _donate_limit() -> str:
    return current_app.config["RATELIMIT_DONATE_PER_IP"]


def _closed_campaign(form: DonateForm) -> CampaignOffer | None:
    """A campaign asked for that is not running now (ended, or not open yet): the form
    says so before the donor types anything, and the gift goes to the reporting as a
    whole instead of being refused on submit."""
    offer = campaign_offer(form.campaign.data)
    if offer is None or offer.starts_at <= utcnow() < offer.ends_at:
        return None
    form.campaign.data = None
    return offer


def _preselect(form: DonateForm) -> None:
    """GET /donate?amount=&frequency=&campaign=&currency= fills the form in."""
    args = request.args
    if args.get("frequency") in tuple(Frequency):
        form.frequency.data = args["frequency"]
    if args.get("currency", "").lower() in current_app.config["DONATION_CURRENCIES"]:
        form.currency.data = args["currency"].lower()
    if args.get("amount"):
        form.amount.data = args["amount"].strip()
    if args.get("campaign"):
        form.campaign.data = args["campaign"].strip()
        offer = campaign_offer(form.campaign.data)
        if offer and not args.get("currency"):
            form.currency.data = offer.currency
    if current_user.is_authenticated and not form.email.data:
        form.email.data = readers_own("email", current_user.email)
        form.name.data = form.name.data or readers_own("name", current_user.name)


def _fee_preview(form: DonateForm) -> str | None:
    """The exact fee for the chosen amount, shown before the donor submits."""
    try:
        amount_cents = check_amount(form.amount.data, form.currency.data)
    except AmountError:
        return None
    return format_money(fee_for(amount_cents, form.currency.data), form.currency.data)


def _suggested_amounts(offer: CampaignOffer | None) -> dict[str, list[str]]:
    """The site's suggestions per frequency; a campaign may choose its one-time ones."""
    suggested = dict(current_app.config["DONATION_SUGGESTED_AMOUNTS"])
    if offer and offer.suggested_amounts:
        suggested["once"] = [str(to_major(amount, offer.currency))
                             for amount in offer.suggested_amounts]
    return suggested


@bp.route("/donate", methods=["GET", "POST"])
@limiter.limit(_donate_limit, methods=["POST"])
# A signed-in reader's address and name are filled in: each their own on one kept page.
@public_page
def donate():
    form = DonateForm()
    closed = None
    if request.method == "GET":
        _preselect(form)
        closed = _closed_campaign(form)
    if form.validate_on_submit():
        choice = GiftChoice(
            email=form.email.data,
            name=form.name.data or "",
            amount_cents=form.amount_cents,
            currency=form.currency.data,
            frequency=form.frequency.data,
            cover_fee=form.cover_fees.data,
            campaign=form.campaign.data or None,
            anonymous=form.anonymous.data,
            dedication_kind=form.dedication_kind.data,
            dedication_name=(form.dedication.data or "").strip() or None,
            dedication_message=(form.dedication_message.data or "").strip() or None,
            honoree_email=form.honoree_email.data or None,
        )
        checkout = start_checkout(choice)
        # The pending gift is kept even if the payment page cannot be opened.
        db.session.commit()
        try:
            return _payment_page(checkout, form.amount.data)
        except GatewayError as error:
            form.amount.errors.append(_("We could not open the payment page: %(reason)s "
                                        "Nothing was charged. Please try again.",
                                        reason=str(error)))
    status = form_status(form)
    offer = campaign_offer(form.campaign.data)
    return render_template(
        "donations/donate.html", form=form, fee_preview=_fee_preview(form), offer=offer,
        suggested=_suggested_amounts(offer), closed=closed, now=utcnow(),
        fee_fixed=fixed_fee(form.currency.data or "usd"),
    ), status


def _payment_page(checkout: Checkout, amount_typed: str):
    """Open Stripe Checkout for a pending gift (GatewayError when it cannot be opened)."""
    session = payment_gateway().create_checkout(
        checkout,
        success_url=external_url("donations.thank_you", gift=checkout.public_id),
        cancel_url=external_url("donations.donate", amount=amount_typed,
                                frequency=checkout.frequency,
                                campaign=checkout.campaign or None),
    )
    checkout.stripe_session_id = session.id
    db.session.commit()
    return redirect(session.url, code=303)


@bp.post("/donate/thank-you/monthly")
@limiter.limit(_donate_limit)
def make_it_monthly():
    """The thank-you page's offer after a one-time gift: the same donor, a monthly gift of
    one of the suggested amounts, in one click to the payment page."""
    form = MakeItMonthlyForm()
    one_time = checkout_by_public_id(form.gift.data if isinstance(form.gift.data, str) else None)
    if (one_time is None or one_time.status != CheckoutStatus.PAID
            or one_time.frequency != Frequency.ONCE):
        abort(404)
    back = url_for("donations.thank_you", gift=one_time.public_id)
    if not form.validate_on_submit():
        return redirect(back)
    try:
        amount_cents = check_amount(form.amount.data, one_time.currency)
    except AmountError as error:
        flash(str(error), "error")
        return redirect(back)
    offer = campaign_offer(one_time.campaign)
    running = offer is not None and offer.starts_at <= utcnow() < offer.ends_at
    checkout = start_checkout(GiftChoice(
        email=one_time.donor.email, name=one_time.donor.name, amount_cents=amount_cents,
        currency=one_time.currency, frequency=Frequency.MONTHLY,
        campaign=one_time.campaign if running else None, anonymous=one_time.anonymous))
    db.session.commit()
    try:
        return _payment_page(checkout, form.amount.data)
    except GatewayError as error:
        flash(_("We could not open the payment page: %(reason)s Nothing was charged. Please "
                "try again.", reason=str(error)), "error")
        return redirect(back)


@bp.get("/donate/thank-you")
def thank_you():
    checkout = checkout_by_public_id(request.args.get("gift"))
    if checkout is None:
        abort(404)
    return render_template("donations/thank_you.html", checkout=checkout,
                           confirmed=checkout.status == CheckoutStatus.PAID,
                           monthly=_suggested_amounts(None)[Frequency.MONTHLY],
                           upgrade=MakeItMonthlyForm(formdata=None))


@bp.get("/donate/receipt/<token>")
def public_receipt(token: str):
    donation = donation_for_receipt_token(token)
    if donation is None:
        abort(404)
    return render_template("donations/receipt.html", donation=donation,
                           pdf=url_for("donations.public_receipt_pdf", token=token))


@bp.get("/donate/receipt/<token>/receipt.pdf")
def public_receipt_pdf(token: str):
    donation = donation_for_receipt_token(token)
    if donation is None:
        abort(404)
    return _pdf(receipt_document(donation))


def _pdf(document: Attachment):
    filename, content_type, data = document
    response = make_response(data)
    response.content_type = content_type
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"  # a donor's own papers
    return response


# The donor's giving page --------------------------------------------------------------------

@bp.get("/account/giving")
@login_required
def giving():
    donations = donations_for(current_user)
    gifts = recurring_gifts_for(current_user)
    years = sorted({fiscal_year_of(donation.created_at) for donation in donations},
                   reverse=True)
    return render_template(
        "donations/giving.html",
        donations=donations,
        gifts=gifts,
        years=[(year, fiscal_label(year)) for year in years],
        forms=_manage_forms(),
        attempts=payment_attempts(gifts),
        act=lambda action, gift: url_for(f"donations.{ACCOUNT_ENDPOINTS[action]}",
                                         gift_id=gift.id),
    )


def _own_donation_or_404(donation_id: int):
    donation = own_donation_or_none(current_user, donation_id)
    if donation is None:
        abort(404)
    return donation


@bp.get("/account/giving/<int:donation_id>/receipt")
@login_required
def receipt(donation_id: int):
    return render_template("donations/receipt.html",
                           donation=_own_donation_or_404(donation_id),
                           pdf=url_for("donations.receipt_pdf_download",
                                       donation_id=donation_id))


@bp.get("/account/giving/<int:donation_id>/receipt.pdf")
@login_required
def receipt_pdf_download(donation_id: int):
    return _pdf(receipt_document(_own_donation_or_404(donation_id)))


def _own_statement_or_404(year: int):
    if not 1900 <= year < 9999:  # the year after it must be a date too
        abort(404)
    lines = yearly_statement(current_user, year)
    if not lines.donations:
        abort(404)
    return lines


@bp.get("/account/giving/statement/<int:year>")
@login_required
def statement(year: int):
    return render_template("donations/statement.html", statement=_own_statement_or_404(year),
                           generated=datetime.now(UTC))


@bp.get("/account/giving/statement/<int:year>/statement.pdf")
@login_required
def statement_pdf_download(year: int):
    return _pdf(statement_document(_own_statement_or_404(year), datetime.now(UTC)))


def _own_gift_or_404(gift_id: int):
    gift = own_recurring_gift_or_none(current_user, gift_id)
    if gift is None:
        abort(404)
    return gift


def _manage_forms() -> dict:
    return {"manage": PostOnlyForm(formdata=None), "amount": ChangeAmountForm(formdata=None),
            "cancel": CancelGiftForm(formdata=None), "pause": PauseGiftForm(formdata=None),
            "switch": SwitchFrequencyForm(formdata=None)}


def _change(gift: RecurringGift, action: str, back: str, **back_values):
    """One change a donor asks of their recurring gift, from the giving page or from the
    gift's signed link: handed to the payment service, whose webhook brings the new state
    back; `back` (an endpoint) is the page to return to."""
    gateway = payment_gateway()
    page = url_for(back, **back_values)
    forms = {"amount": ChangeAmountForm, "cancel": CancelGiftForm, "pause": PauseGiftForm,
             "switch": SwitchFrequencyForm}
    form = forms.get(action, PostOnlyForm)()
    if gift.status in ENDED_STATUSES:
        flash(_("This gift has ended: nothing more is charged."), "info")
        return redirect(page)
    if not form.validate_on_submit():
        flash(_("Please choose one of the options offered."), "error")
        return redirect(page)
    try:
        if action == "card":
            return redirect(gateway.update_card_url(gift, external_url(back, **back_values)),
                            code=303)
        if action == "amount":
            amount_cents = check_amount(form.amount.data, gift.currency)
            gateway.change_amount(gift, amount_cents)
            done = _("Your new amount of %(amount)s is on its way to the payment service; "
                     "it shows here once confirmed.",
                     amount=format_money(amount_cents, gift.currency))
        elif action == "cancel":
            at_period_end = form.when.data == "period_end" and gift.current_period_end is not None
            feedback = form.feedback.data or None
            gateway.cancel(gift, form.reason.data or "", at_period_end=at_period_end,
                           feedback=feedback)
            # Only once the payment service has taken it: a failed cancellation keeps no
            # reason for a gift that goes on.
            record_cancel_reason(gift, form.reason.data or "", feedback)
            db.session.commit()
            done = (_("Your recurring gift ends on %(date)s, when the period you paid for "
                      "does: nothing more will be charged. Thank you for your support.",
                      date=format_date(gift.current_period_end, "long")) if at_period_end
                    else _("Your recurring gift has been canceled. Thank you for your support."))
        elif action == "switch":
            other = switched_frequency(gift)
            amount_cents = check_amount(form.amount.data, gift.currency)
            gateway.switch(gift, other, amount_cents)
            done = _("From %(date)s your gift is %(amount)s %(frequency)s; nothing is charged "
                     "before then.", date=format_date(gift.current_period_end, "long")
                     if gift.current_period_end else "", amount=format_money(
                         amount_cents, gift.currency), frequency=frequency_label(other).lower())
        elif action == "pause":
            gateway.pause(gift, pause_ends(int(form.months.data), gift, utcnow()))
            done = _("Your gift is paused: nothing is charged until it resumes.")
        elif action == "skip":
            ends = skip_ends(gift)
            if ends is None:
                raise GatewayError(_("The date of your next gift is not known yet; please "
                                     "try again in a moment."))
            gateway.pause(gift, ends)
            done = _("Your next gift is skipped; the one after it is taken as usual.")
        elif action == "resume":
            gateway.resume(gift)
            done = _("Your gift resumes: the next one is taken on its usual date.")
        else:  # keep
            gateway.keep(gift)
            # The reason was for a cancellation taken back.
            record_cancel_reason(gift, "", None)
            db.session.commit()
            done = _("Your gift goes on: thank you!")
    except (AmountError, GatewayError) as error:
        flash(str(error), "error")
    else:
        flash(done, "success")
    return redirect(page)


def _account_change(action: str):
    def view(gift_id: int):
        return _change(_own_gift_or_404(gift_id), action, "donations.giving")
    return view


# The changes a donor may ask of a recurring gift, each with its endpoint for the reader's
# own gifts on their giving page; the gift's signed link takes the same changes.
ACCOUNT_ENDPOINTS = {"card": "update_card", "amount": "change_amount", "cancel": "cancel_gift",
                     "pause": "pause_gift", "skip": "skip_gift", "resume": "resume_gift",
                     "keep": "keep_gift", "switch": "switch_gift"}
for _action, _endpoint in ACCOUNT_ENDPOINTS.items():
    bp.add_url_rule(f"/account/giving/recurring/<int:gift_id>/{_action}", _endpoint,
                    login_required(_account_change(_action)), methods=["POST"])


# A gift from its signed link: a guest donor manages it without an account --------------

def _linked_gift_or_404(token: str) -> RecurringGift:
    gift = gift_for_manage_token(token)
    if gift is None:
        abort(404)
    return gift


@bp.get("/giving/manage/<token>")
def manage_gift(token: str):
    gift = _linked_gift_or_404(token)
    return render_template(
        "donations/manage_gift.html", gift=gift, token=token, forms=_manage_forms(),
        attempts=payment_attempts([gift]),
        act=lambda action, _gift: url_for("donations.change_linked_gift", token=token,
                                          action=action))


@bp.post("/giving/manage/<token>/<action>")
def change_linked_gift(token: str, action: str):
    gift = _linked_gift_or_404(token)
    if action == "revoke":
        if PostOnlyForm().validate_on_submit():
            revoke_manage_links(gift)
            db.session.commit()
            flash(_("This link no longer works. The next mail about your gift brings a new "
                    "one."), "success")
        return redirect(url_for("site.home"))
    if action not in ACCOUNT_ENDPOINTS:
        abort(404)
    return _change(gift, action, "donations.manage_gift", token=token)

