"""Receipts and yearly statements as PDF, in the donor's language.

fpdf2 lays them out; HarfBuzz (uharfbuzz) shapes the text, so Arabic letters join and
right-to-left lines are ordered by the Unicode bidirectional algorithm. DejaVu Sans, kept
in `fonts/`, has Latin, Arabic and Hebrew glyphs: a name in one script inside a sentence
of another renders from the same font."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from membership.campaigns.services import campaign_title
from membership.donations.forms import frequency_label
from membership.donations.giving import Statement
from membership.donations.models import Donation
from membership.donations.money import format_money
from membership.i18n import current_language, text_direction

FONTS = Path(__file__).parent / "fonts"
# The isolates <bdi> stands for in HTML: the font has no glyphs for them, and each line
# takes its own direction from its first strong letter. The marks (money's left-to-right
# mark after "US$") stay: the bidirectional algorithm reads them.
BIDI_CONTROLS = re.compile("[\u2066-\u2069]")


# A cell never holds more than a few lines: a row taller than the page cannot be laid out.
MAX_CELL = 300


def _plain(text: str) -> str:
    """One line of text as the PDF shows it: line breaks and runs of spaces (a name typed
    over several lines) become one space, and the isolates go."""
    return " ".join(BIDI_CONTROLS.sub("", text).split())


class _Document(FPDF):
    def __init__(self, title: str):
        super().__init__(format="A4")
        self.rtl = text_direction() == "rtl"
        self.add_font("DejaVu", "", FONTS / "DejaVuSans.ttf")
        self.add_font("DejaVu", "B", FONTS / "DejaVuSans-Bold.ttf")
        self.set_text_shaping(use_shaping_engine=True)
        self.set_lang(current_language())
        self.set_title(title)
        self.set_author(current_app.config["ORGANIZATION_NAME"])
        self.set_creator("membership")
        self.set_margins(20, 20, 20)
        self.add_page()
        self.align = "R" if self.rtl else "L"

    def write_line(self, text: str, size: float = 11, bold: bool = False, gap: float = 1.5) -> None:
        self.set_font("DejaVu", "B" if bold else "", size)
        self.multi_cell(0, size * 0.5, _plain(text), align=self.align,
                        new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(gap)

    def header_block(self, eyebrow: str, heading: str) -> None:
        config = current_app.config
        self.write_line(eyebrow, 10)
        self.write_line(heading, 18, bold=True, gap=3)
        self.write_line(config["ORGANIZATION_ADDRESS"], 10, gap=0.5)
        self.write_line(_("Tax ID: %(id)s", id=config["ORGANIZATION_TAX_ID"]), 10, gap=6)

    def facts(self, rows: list[tuple[str, ...]]) -> None:
        self.grid(rows, header=False)

    def grid(self, rows: list[tuple[str, ...]], header: bool = True,
              widths: tuple[float, ...] | None = None) -> None:
        """Rows of cells, the first column on the reading side (the right in Arabic and
        Hebrew)."""
        self.set_font("DejaVu", "", 10)
        ordered = [tuple(reversed(row)) if self.rtl else row for row in rows]
        if widths and self.rtl:
            widths = tuple(reversed(widths))
        with super().table(first_row_as_headings=header, col_widths=widths,
                           text_align=self.align, borders_layout="HORIZONTAL_LINES",
                           line_height=6) as table:
            for row in ordered:
                cells = table.row()
                for cell in row:
                    cells.cell(_plain(cell)[:MAX_CELL])
        self.ln(4)

    def finish(self) -> bytes:
        return bytes(self.output())


def dedication_line(gift) -> str | None:
    """"In memory of …" or "In honor of …" for a tribute gift (None otherwise)."""
    if not gift.dedication_name:
        return None
    if gift.dedication_kind == "memory":
        return _("In memory of %(name)s", name=gift.dedication_name)
    return _("In honor of %(name)s", name=gift.dedication_name)


def receipt_pdf(donation: Donation) -> bytes:
    """One donation's receipt, in the current language."""
    config = current_app.config
    document = _Document(_("Receipt %(number)s", number=donation.receipt_number))
    document.header_block(_("Donation receipt"), config["ORGANIZATION_NAME"])
    rows = [(_("Receipt number"), donation.receipt_number),
            (_("Date"), donation.created_at.strftime("%Y-%m-%d")),
            (_("Donor"), donation.donor.name or donation.donor.email),
            (_("Amount"), format_money(donation.amount_cents, donation.currency))]
    if donation.fee_cents:  # a row of its own: one cell, one direction of text
        rows.append((_("Of which processing fees covered"),
                     format_money(donation.fee_cents, donation.currency)))
    if donation.refunded_cents:
        rows.append((_("Refunded"), format_money(donation.refunded_cents, donation.currency)))
    rows.append((_("Frequency"), frequency_label(donation.frequency)))
    if donation.campaign:
        rows.append((_("Campaign"), campaign_title(donation.campaign)))
    tribute = dedication_line(donation)
    if tribute:
        rows.append((_("Dedication"), tribute))
    rows.append((_("Payment reference"), donation.stripe_id))
    document.facts(rows)
    document.write_line(_("No goods or services were provided in exchange for this contribution."))
    return document.finish()


def statement_pdf(lines: Statement, issued: datetime) -> bytes:
    """A fiscal year's gifts of one donor, in the current language."""
    config = current_app.config
    document = _Document(_("Giving statement %(year)s", year=lines.title))
    document.header_block(_("Annual giving statement"),
                          _("%(year)s gifts to %(org)s", year=lines.title,
                            org=config["ORGANIZATION_NAME"]))
    document.write_line(_("Donor: %(who)s", who=lines.donor), gap=4)
    rows = [(_("Date"), _("Receipt"), _("Amount"), _("Refunded"))]
    rows += [(donation.created_at.strftime("%Y-%m-%d"), donation.receipt_number,
              format_money(donation.amount_cents, donation.currency),
              format_money(donation.refunded_cents, donation.currency)
              if donation.refunded_cents else "")
             for donation in lines.donations]
    document.grid(rows, widths=(1, 1, 1, 1))
    for currency, total in lines.totals.items():
        document.write_line(_("Total given in %(year)s (%(currency)s): %(total)s", year=lines.title,
                        currency=currency.upper(), total=format_money(total, currency)),
                      bold=True)
    document.write_line(_("No goods or services were provided in exchange for these "
                    "contributions."))
    document.write_line(_("Issued %(date)s.", date=issued.strftime("%Y-%m-%d")), 9)
    return document.finish()
