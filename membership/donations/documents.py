"""A donor's papers as files: a receipt or a yearly statement as (filename, content type,
bytes), for a download or a mail's attachment (mail.services.register_attachment).

fpdf2 and its font tools take half a second to import: `pdf` is imported when a PDF is
made, not by every command and worker that starts."""

from __future__ import annotations

from datetime import datetime

from membership.donations.giving import Statement, donor_statement
from membership.donations.models import Donation, Donor
from membership.extensions import db
from membership.mail.services import Attachment, register_attachment
from membership.types import utcnow


def receipt_document(donation: Donation) -> Attachment:
    from membership.donations import pdf

    return (f"receipt-{donation.receipt_number}.pdf", "application/pdf",
            pdf.receipt_pdf(donation))


def statement_document(lines: Statement, issued: datetime) -> Attachment:
    from membership.donations import pdf

    return f"statement-{lines.year}.pdf", "application/pdf", pdf.statement_pdf(lines, issued)


# What a mail carries: made when it is sent, in its language, from what the records say
# then (None when what it was made from is gone).

def _receipt_attachment(spec: dict) -> Attachment | None:
    donation = db.session.get(Donation, spec.get("donation"))
    return receipt_document(donation) if donation is not None else None


def _statement_attachment(spec: dict) -> Attachment | None:
    donor = db.session.get(Donor, spec.get("donor"))
    year = spec.get("year")
    if donor is None or not isinstance(year, int):
        return None
    return statement_document(donor_statement(donor, year), utcnow())


def register_documents() -> None:
    register_attachment("receipt", _receipt_attachment)
    register_attachment("statement", _statement_attachment)
