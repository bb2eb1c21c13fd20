"""The staff dashboard, the retention page and the report endpoints (summary.json,
donations.csv, retention.json and the lapsed-donor lists)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Response, jsonify, render_template, request, stream_with_context

from membership.admin.blueprint import bad_request, bp, page_year, report_year
from membership.admin.charts import bar_chart, line_chart
from membership.campaigns.services import all_campaigns
from membership.reports import retention
from membership.reports.exports import donations_csv as donation_rows
from membership.reports.series import Point, dashboard_series
from membership.reports.summary import summary as donation_summary
from membership.reports.windows import (
    ReportError,
    Window,
    campaign_named,
    refuse_unknown,
    window_from,
)
from membership.types import utcnow


def presets(today: date) -> dict[str, tuple[date, date]]:
    """The dashboard's ready-made windows, by name."""
    first_of_month = today.replace(day=1)
    return {
        "this-month": (first_of_month, today),
        "last-30-days": (today - timedelta(days=29), today),
        "year-to-date": (today.replace(month=1, day=1), today),
        "last-year": (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
    }


def _report_parameters(today: date, known=("start", "end", "campaign")):
    """(window, campaign) from the query string, or ReportError."""
    args = request.args
    refuse_unknown(args.keys(), known)
    chosen = presets(today).get(args.get("preset", ""))
    if chosen and not (args.get("start") or args.get("end")):
        window = Window(*chosen)
    else:
        window = window_from(args.get("start"), args.get("end"), today)
    return window, campaign_named(args.get("campaign"))


@bp.get("/")
def home():
    today = utcnow().date()
    try:
        window, campaign = _report_parameters(today, ("start", "end", "campaign", "preset"))
    except ReportError as error:
        window, campaign, problem = window_from(None, None, today), None, str(error)
    else:
        problem = None
    summary = donation_summary(window, campaign)
    series = dashboard_series(window, campaign)
    currency = summary["currency"]
    charts = {
        "gross": bar_chart(series["gross"], ["one_time", "recurring"], currency, stacked=True),
        "mrr": line_chart(series["mrr"], "mrr", currency),
        "donors": bar_chart(series["donors"], ["new", "returning"], None, stacked=True),
        "failed": bar_chart(series["failed"], ["failed"], None),
    }
    return render_template(
        "admin/dashboard.html", summary=summary, series=series, charts=charts,
        window=window, campaign=campaign, campaigns=all_campaigns(), problem=problem,
        presets=presets(today), preset=request.args.get("preset"),
    )


@bp.get("/reports/summary.json")
def summary_json():
    try:
        window, campaign = _report_parameters(utcnow().date())
    except ReportError as error:
        return bad_request(error)
    return jsonify(donation_summary(window, campaign))


@bp.get("/reports/donations.csv")
def donations_csv():
    try:
        window, campaign = _report_parameters(utcnow().date())
    except ReportError as error:
        return bad_request(error)
    name = f"donations-{window.start}-{window.end}"
    if campaign is not None:
        name += f"-{campaign.slug}"
    return _csv_download(donation_rows(window, campaign), name)


def _csv_download(rows, name: str) -> Response:
    """A CSV that streams as it is read, to be saved as `name`.csv, never cached."""
    return Response(stream_with_context(rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"',
                             "Cache-Control": "no-store"})


# Retention ----------------------------------------------------------------------------------

@bp.get("/reports/retention.json")
def retention_json():
    try:
        year = report_year()
    except ReportError as error:
        return bad_request(error)
    return jsonify(retention.retention(year))


@bp.get("/reports/lybunt.csv")
def lybunt_csv():
    return _lapsed_csv("lybunt")


@bp.get("/reports/sybunt.csv")
def sybunt_csv():
    return _lapsed_csv("sybunt")


def _lapsed_csv(group: str):
    try:
        year = report_year()
    except ReportError as error:
        return bad_request(error)
    return _csv_download(retention.lapsed_csv(year, group), f"{group}-{year}")


@bp.get("/retention")
def retention_page():
    this_year = utcnow().year
    year, problem = page_year(this_year)
    years = retention.retention_by_year(year)
    lifecycle = ["retained", "recaptured", "new"]
    points = [Point(date(row["year"], 1, 1), {name: row[name] for name in lifecycle})
              for row in years]
    chart = bar_chart(points, lifecycle, None, stacked=True)
    return render_template("admin/retention.html", years=years, year=year, chart=chart,
                           points=points, problem=problem, this_year=this_year)
