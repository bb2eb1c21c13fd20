"""Each donor's yearly statement, e-mailed with its PDF once the fiscal year is over:
once per donor and year, whoever runs the command and however often."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import distinct, func, select

from membership.donations.giving import donor_statement, fiscal_span, fiscal_year_of
from membership.donations.models import ANONYMIZED_DOMAIN, Donation, Donor, SentStatement
from membership.extensions import db
from membership.mail.services import queue_mail
from membership.sql import insert_or_ignore


def last_fiscal_year(now: datetime) -> int:
    return fiscal_year_of(now) - 1


def send_statements(year: int, now: datetime) -> tuple[int, int]:
    """Queue the statement of every donor who gave in the fiscal year `year` and has not
    been sent it; a donor whose gifts were all refunded has nothing to declare. (queued,
    already sent); the caller commits."""
    starts, ends = fiscal_span(year)
    # The timer runs daily: donors already sent the year's statement are not read again.
    sent = select(SentStatement.donor_id).where(SentStatement.fiscal_year == year)
    already = db.session.scalar(select(func.count()).select_from(sent.subquery()))
    donor_ids = db.session.scalars(
        select(distinct(Donation.donor_id))
        .where(Donation.created_at >= starts, Donation.created_at < ends,
               Donation.donor_id.not_in(sent))
        .order_by(Donation.donor_id)).all()
    queued = 0
    for donor_id in donor_ids:
        donor = db.session.get(Donor, donor_id)
        if donor.email.endswith("@" + ANONYMIZED_DOMAIN):
            continue
        lines = donor_statement(donor, year)
        if not any(total > 0 for total in lines.totals.values()):
            continue
        # The row claims the statement: a second run, or one running alongside, skips it.
        if insert_or_ignore(SentStatement, {"donor_id": donor.id, "fiscal_year": year,
                                            "created_at": now}) is None:
            already += 1
            continue
        queue_mail(donor.email, "donations/statement",
                   _l("Your giving statement for %(year)s", year=lines.title),
                   language=donor.language, year=lines.title, totals=lines.totals,
                   gifts=len(lines.donations),
                   attachments=[{"kind": "statement", "donor": donor.id, "year": year}])
        queued += 1
    db.session.flush()
    return queued, already
