"""The fundraising analytics page (issue #14) and its JSON twin, for one UTC year."""

from __future__ import annotations

from datetime import date, datetime

from flask import jsonify, render_template
from flask_babel import gettext as _

from membership.admin.blueprint import bad_request, bp, page_year, report_year
from membership.admin.charts import bar_chart, category_chart
from membership.donations.money import exponent, format_money
from membership.extensions import db
from membership.reports.analytics import Analytics
from membership.reports.recurring import COHORT_AFTER, INVOLUNTARY, VOLUNTARY
from membership.reports.series import Point
from membership.reports.snapshots import count_and_keep, kept_analytics
from membership.reports.windows import ReportError
from membership.types import isoformat, utcnow


@bp.get("/reports/analytics.json", endpoint="analytics_json")
def analytics_json():
    try:
        year = report_year()
    except ReportError as error:
        return bad_request(error)
    figures, counted_at = _figures_of(year, utcnow().date())
    return jsonify({**figures.as_json(), "counted_at": isoformat(counted_at)})


def _figures_of(year: int, today: date) -> tuple[Analytics, datetime]:
    """The kept figures of the year, or figures counted now and kept for the next view."""
    kept = kept_analytics(year)
    if kept is not None:
        return kept
    db.session.commit()  # the reading ends: counting begins a transaction that will write
    counted = count_and_keep(year, today, exponent)
    db.session.commit()
    return counted


def _charts(figures: Analytics) -> dict:
    churn, recovery, second = figures.churn, figures.recovery, figures.second_gifts
    return {
        "churn": category_chart([_("Donor-cancelled"), _("Payment failed")],
                            [{"gifts": churn.voluntary}, {"gifts": churn.involuntary}],
                            ["gifts"]),
        "recovery": category_chart([_("Failed"), _("Recovered")],
                               [{"invoices": recovery.failed},
                                {"invoices": recovery.recovered}], ["invoices"]),
        "ranges": {currency: category_chart(
            [format_money(band.floor_cents, currency) + "+" for band in bands],
            [{"donors": band.donors} for band in bands], ["donors"])
            for currency, bands in figures.gift_ranges.items()},
        "second": category_chart([_("First gift"), _("Second gift"), _("Within 90 days")],
                             [{"donors": second.first_time}, {"donors": second.second},
                              {"donors": second.second_soon}], ["donors"]),
        "cohorts": bar_chart([Point(cohort.month, {"size": cohort.size})
                              for cohort in figures.cohorts], ["size"], None),
        "readers": category_chart([row.name or _("Daily e-mail") for row in figures.readers],
                              [{"followers": row.followers, "gave": row.gave}
                               for row in figures.readers], ["followers", "gave"]),
    }


@bp.get("/analytics", endpoint="analytics")
def analytics_page():
    today = utcnow().date()
    year, problem = page_year(today.year)
    figures, counted_at = _figures_of(year, today)
    return render_template("admin/analytics.html", figures=figures, year=year,
                           counted_at=counted_at,
                           this_year=today.year, problem=problem, charts=_charts(figures),
                           cohort_after=COHORT_AFTER, voluntary=VOLUNTARY,
                           involuntary=INVOLUNTARY)
