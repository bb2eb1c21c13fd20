"""The fundraising analytics page (issue #14) and its JSON twin, for one UTC year."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from flask import jsonify, render_template, request
from flask_babel import gettext as _

from membership.admin.blueprint import bp
from membership.admin.charts import MAX_X_LABELS, Chart, bar_chart
from membership.donations.money import exponent, format_money
from membership.extensions import db
from membership.reports import retention
from membership.reports.analytics import Analytics
from membership.reports.recurring import COHORT_AFTER, INVOLUNTARY, VOLUNTARY
from membership.reports.snapshots import count_and_keep, kept_analytics
from membership.types import isoformat, utcnow


@dataclass(frozen=True)
class Point:
    """What `bar_chart` and the chart macro read: a first day and figures by name."""

    start: date
    values: dict[str, int]


def categories(labels: list[str], values: list[dict[str, int]], series: list[str],
               currency: str | None = None) -> Chart:
    """Bars per category (not per period): `bar_chart`, labelled by `labels`."""
    chart = bar_chart([Point(date.min, row) for row in values], series, currency)
    step = max(1, -(-len(labels) // MAX_X_LABELS))
    slot = (chart.plot_right - chart.left) / max(len(labels), 1)
    chart.x_labels = [(chart.left + slot * (index + 0.5), labels[index])
                      for index in range(0, len(labels), step)]
    per_bar = [(label, row[name]) for label, row in zip(labels, values, strict=True)
               for name in series]
    chart.bars = [replace(bar, title=f"{label}: " + (format_money(value, currency) if currency
                                                     else f"{value:,}"))
                  for bar, (label, value) in zip(chart.bars, per_bar, strict=True)]
    return chart


def _json_year() -> int:
    """The `year` of the JSON report, or YearError (unknown parameters are refused)."""
    unknown = sorted(set(request.args) - {"year"})
    if unknown:
        raise retention.YearError(f"unknown parameter: {', '.join(unknown)}")
    return retention.parse_year(request.args.get("year"))


@bp.get("/reports/analytics.json", endpoint="analytics_json")
def analytics_json():
    try:
        year = _json_year()
    except retention.YearError as error:
        return jsonify(error="Bad Request", reason=str(error)), 400
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
        "churn": categories([_("Donor-cancelled"), _("Payment failed")],
                            [{"gifts": churn.voluntary}, {"gifts": churn.involuntary}],
                            ["gifts"]),
        "recovery": categories([_("Failed"), _("Recovered")],
                               [{"invoices": recovery.failed},
                                {"invoices": recovery.recovered}], ["invoices"]),
        "ranges": {currency: categories(
            [format_money(band.floor_cents, currency) + "+" for band in bands],
            [{"donors": band.donors} for band in bands], ["donors"])
            for currency, bands in figures.gift_ranges.items()},
        "second": categories([_("First gift"), _("Second gift"), _("Within 90 days")],
                             [{"donors": second.first_time}, {"donors": second.second},
                              {"donors": second.second_soon}], ["donors"]),
        "cohorts": bar_chart([Point(cohort.month, {"size": cohort.size})
                              for cohort in figures.cohorts], ["size"], None),
        "readers": categories([row.name or _("Daily e-mail") for row in figures.readers],
                              [{"followers": row.followers, "gave": row.gave}
                               for row in figures.readers], ["followers", "gave"]),
    }


@bp.get("/analytics", endpoint="analytics")
def analytics_page():
    today = utcnow().date()
    try:
        year = retention.parse_year(request.args.get("year") or str(today.year))
    except retention.YearError as error:
        year, problem = today.year, str(error)
    else:
        problem = None
    figures, counted_at = _figures_of(year, today)
    return render_template("admin/analytics.html", figures=figures, year=year,
                           counted_at=counted_at,
                           this_year=today.year, problem=problem, charts=_charts(figures),
                           cohort_after=COHORT_AFTER, voluntary=VOLUNTARY,
                           involuntary=INVOLUNTARY)
