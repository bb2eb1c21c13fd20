"""Receipts and yearly statements as PDF (issue 17): downloadable by their donor, attached
to the thank-you and statement mails, in Arabic and Hebrew too; statements for a fiscal
year, e-mailed once; tribute gifts and the card to the person they honour."""

from __future__ import annotations

import io
import warnings
from datetime import UTC, datetime

import pytest
from flask_babel import force_locale
from pypdf import PdfReader
from sqlalchemy import func, select

from membership.accounts.models import User
from membership.donations.giving import donor_statement, receipt_token
from membership.donations.models import Checkout, Donation, Donor, SentStatement
from membership.donations.pdf import receipt_pdf, statement_pdf
from membership.extensions import db
from membership.newsletter.models import Subscriber
from tests.builders import give, outbox, settle
from tests.conftest import Browserless
from tests.test_commands import mail_url, one_error_line

READER = "reader@example.org"


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def only(model, **where):
    db.session.rollback()
    return db.session.scalar(select(model).filter_by(**where))


# Downloads -----------------------------------------------------------------------------------

def test_a_donor_downloads_their_receipt_and_statement_as_pdf(reader_client, reader):
    give(3650, READER, at=datetime(2025, 3, 4, tzinfo=UTC), dedication=("memory", "Miriam"))
    donation = only(Donation)
    response = reader_client.get(f"/account/giving/{donation.id}/receipt.pdf")
    assert response.status_code == 200 and response.content_type == "application/pdf"
    assert response.headers["Cache-Control"] == "private, no-store"
    text = pdf_text(response.data)
    assert donation.receipt_number in text and "$36.50" in text
    assert "In memory of Miriam" in text
    assert "No goods or services were provided" in text
    statement = reader_client.get("/account/giving/statement/2025/statement.pdf")
    assert statement.status_code == 200
    assert "Total given in 2025 (USD): $36.50" in pdf_text(statement.data)
    assert reader_client.get("/account/giving/statement/2024/statement.pdf").status_code == 404
    for year in (9999, 99999, 10**30):
        assert reader_client.get(f"/account/giving/statement/{year}/statement.pdf"
                                 ).status_code == 404


def test_nobody_else_downloads_a_donors_receipt(client, forms, reader):
    give(3650, "someone@example.org")
    donation = only(Donation)
    assert client.get(f"/account/giving/{donation.id}/receipt.pdf").status_code == 302  # login
    forms.login(READER, "a sturdy passphrase")
    assert forms.client.get(f"/account/giving/{donation.id}/receipt.pdf").status_code == 404
    # The mailed receipt link opens the PDF too; an altered one opens nothing.
    with forms.client.application.test_request_context():
        token = receipt_token(donation)
    assert client.get(f"/donate/receipt/{token}/receipt.pdf").status_code == 200
    assert client.get(f"/donate/receipt/{token[:-2]}xx/receipt.pdf").status_code == 404


SCRIPTS = {"ar": ("\u0600", "\u06ff", "\ufb50", "\ufeff"), "he": ("\u0590", "\u05ff")}


def in_script(text: str, language: str) -> int:
    ranges = SCRIPTS[language]
    return sum(1 for char in text if any(low <= char <= high
                                         for low, high in zip(ranges[::2], ranges[1::2],
                                                              strict=True)))


@pytest.mark.parametrize("language", ["ar", "he"])
def test_receipts_render_arabic_and_hebrew_with_their_own_glyphs(app, language):
    give(3650, "dana@example.org", name="Dana", dedication=("honor", "Miriam"))
    donation = only(Donation)
    with app.test_request_context(), force_locale(language), warnings.catch_warnings():
        warnings.simplefilter("error")  # fpdf2 warns of a character the font lacks
        receipt = receipt_pdf(donation)
        statement = statement_pdf(donor_statement(donation.donor, donation.created_at.year),
                                  datetime.now(UTC))
    reader = PdfReader(io.BytesIO(receipt))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    assert all("DejaVu" in str(font.get_object()["/BaseFont"]) for font in fonts.values())
    text = pdf_text(receipt)
    # The labels are in the language (Arabic as shaped, joined forms), the figures as they
    # are written everywhere.
    assert in_script(text, language) > 40
    assert donation.receipt_number in text and "36.50" in text
    assert in_script(pdf_text(statement), language) > 20


# Mail ----------------------------------------------------------------------------------------

def test_the_thank_you_mail_carries_the_receipt_pdf(app, flask_command, smtp_server):
    give(5000, "dana@example.org", dedication=("honor", "Miriam"))
    [thanks] = [m for m in outbox("dana@example.org") if m.template == "donations/thank_you"]
    assert thanks.context["attachments"] == [{"kind": "receipt",
                                              "donation": only(Donation).id}]
    result = flask_command("mail", "deliver", MAIL_URL=mail_url(smtp_server))
    assert result.returncode == 0, result.stderr
    [message] = smtp_server[0].messages
    parts = {part.get_content_type(): part for part in message.walk()}
    assert "made in honor of Miriam" in parts["text/plain"].get_payload(decode=True).decode()
    pdf = parts["application/pdf"]
    assert pdf.get_filename() == f"receipt-{only(Donation).receipt_number}.pdf"
    assert "$50" in pdf_text(pdf.get_payload(decode=True))


# Yearly statements ----------------------------------------------------------------------------

def test_statements_follow_the_fiscal_year_and_go_once(app, flask_command, smtp_server):
    july = {"FISCAL_YEAR_START_MONTH": "7"}
    give(1000, "dana@example.org", at=datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC))  # 2024-25
    give(2000, "dana@example.org", at=datetime(2025, 7, 1, tzinfo=UTC))
    give(3000, "dana@example.org", at=datetime(2026, 6, 30, 12, tzinfo=UTC))
    refunded = give(4000, "gone@example.org", at=datetime(2025, 9, 1, tzinfo=UTC))
    settle(refunded, refunded=4000)  # nothing to declare
    first = flask_command("donations", "send-statements", "--year", "2025", **july)
    assert first.returncode == 0, first.stderr
    assert "1 statements for 2025\u201326 queued, 0 already sent." in first.stdout
    again = flask_command("donations", "send-statements", "--year", "2025", **july)
    assert "0 statements for 2025\u201326 queued, 1 already sent." in again.stdout
    [mail] = [m for m in outbox() if m.template == "donations/statement"]
    assert mail.recipient == "dana@example.org" and mail.context["totals"] == {"usd": 5000}
    assert mail.subject == "Your giving statement for 2025\u201326"
    flask_command("mail", "deliver", MAIL_URL=mail_url(smtp_server), **july)
    [pdf] = [part for message in smtp_server[0].messages for part in message.walk()
             if (part.get_filename() or "").startswith("statement-")]
    assert pdf.get_filename() == "statement-2025.pdf"
    text = pdf_text(pdf.get_payload(decode=True))
    assert "Total given in 2025\u201326 (USD): $50" in text and "$10" not in text
    assert db.session.scalar(select(func.count()).select_from(SentStatement)) == 1


def test_a_year_not_over_has_no_statements_yet(flask_command):
    result = flask_command("donations", "send-statements", "--year",
                           str(datetime.now(UTC).year))
    assert result.returncode == 2
    assert "is not over yet" in one_error_line(result)


def test_the_giving_page_names_fiscal_years(app, reader_client, reader):
    app.config["FISCAL_YEAR_START_MONTH"] = 4
    give(1000, READER, at=datetime(2025, 3, 31, tzinfo=UTC))
    give(1000, READER, at=datetime(2025, 4, 1, tzinfo=UTC))
    page = reader_client.get("/account/giving").get_data(as_text=True)
    assert ">2025\u201326</a>" in page and ">2024\u201325</a>" in page
    statement = reader_client.get("/account/giving/statement/2024").get_data(as_text=True)
    assert "2024\u201325 gifts to" in statement and "2025-04-01" not in statement


# Tribute gifts --------------------------------------------------------------------------------

TRIBUTE = {"email": "dana@example.org", "name": "Dana", "currency": "usd", "frequency": "once",
           "amount": "40", "dedication_kind": "memory", "dedication": "Miriam Levi",
           "dedication_message": "She read every dispatch.",
           "honoree_email": "levi.family@example.org"}


def test_a_tribute_card_goes_once_and_its_address_is_forgotten(client, forms: Browserless):
    response = forms.post("/donate", TRIBUTE)
    assert response.status_code == 303
    forms.post(response.headers["Location"], {"action": "pay"})
    [card] = outbox("levi.family@example.org")
    assert card.template == "donations/tribute_card" and card.subject == (
        "A gift in memory of Miriam Levi")
    assert card.context == {"memory": True, "honoree": "Miriam Levi", "donor_name": "Dana",
                            "message": "She read every dispatch.", "forget_recipient": True}
    checkout = only(Checkout)
    assert checkout.honoree_email is None and checkout.honoree_notified_at is not None
    # The address is on no list: no donor, account or subscriber has it.
    for model in (Donor, User, Subscriber):
        assert only(model, email="levi.family@example.org") is None
    donation = only(Donation)
    assert (donation.dedication_kind, donation.dedication_name) == ("memory", "Miriam Levi")
    [thanks] = [m for m in outbox("dana@example.org") if m.template == "donations/thank_you"]
    assert thanks.context["dedication_name"] == "Miriam Levi"


def test_a_card_needs_the_name_it_is_for(forms):
    page = forms.post("/donate", {**TRIBUTE, "dedication": ""})
    assert page.status_code == 422
    assert "Add the name of the person the gift is dedicated to." in page.get_data(as_text=True)
    assert only(Checkout) is None


# What the review found ----------------------------------------------------------------------

def test_a_mail_that_cannot_be_written_fails_alone(app, flask_command, smtp_server):
    from membership.mail.services import queue_mail

    queue_mail("first@example.org", "donations/no_such_template", "Broken")
    queue_mail("second@example.org", "accounts/email_changed", "Fine",
               new_email="second@example.org")
    result = flask_command("mail", "deliver", MAIL_URL=mail_url(smtp_server))
    assert result.returncode == 0, result.stderr
    assert "sent 1, retrying 0, failed 1" in result.stdout
    broken, fine = outbox("first@example.org")[0], outbox("second@example.org")[0]
    assert broken.status == "failed" and "could not be written" in broken.last_error
    assert fine.status == "sent"


def test_a_name_typed_over_many_lines_still_makes_a_receipt(app, forms):
    page = forms.post("/donate", {**TRIBUTE, "dedication": "\n" * 150 + "Miriam\n  Levi"})
    assert page.status_code == 303
    assert only(Checkout).dedication_name == "Miriam Levi"
    give(3650, "dana@example.org", dedication=("honor", "\n" * 150 + "Miriam"))
    with app.test_request_context():
        assert "In honor of Miriam" in pdf_text(receipt_pdf(only(Donation, amount_cents=3650)))


def test_the_receipt_font_writes_every_script_a_donor_may_sign_with():
    from fontTools.ttLib import TTFont

    from membership.donations.pdf import FONTS

    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        covered = TTFont(FONTS / name).getBestCmap()
        for text in ("Дмитрий Nguyễn Σοφία", "مريم ليفي", "מרים לוי", "US$ € £ ₪ ₨"):
            missing = [char for char in text if char != " " and ord(char) not in covered]
            assert not missing, (name, missing)


def test_the_honorees_address_is_forgotten_once_the_card_is_sent(app, forms, flask_command,
                                                                  smtp_server):
    response = forms.post("/donate", TRIBUTE)
    forms.post(response.headers["Location"], {"action": "pay"})
    flask_command("mail", "deliver", MAIL_URL=mail_url(smtp_server))
    assert any(m["To"] == "levi.family@example.org" for m in smtp_server[0].messages)
    assert outbox("levi.family@example.org") == []
    assert [m.template for m in outbox("(forgotten once sent)")] == ["donations/tribute_card"]


def test_a_checkout_that_expires_forgets_the_honoree(forms):
    response = forms.post("/donate", TRIBUTE)
    forms.post(response.headers["Location"], {"action": "expire"})
    checkout = only(Checkout)
    assert checkout.status == "expired" and checkout.honoree_email is None
    assert outbox("levi.family@example.org") == []
