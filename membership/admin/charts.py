"""Charts drawn on the server as SVG shapes for the dashboard template.

No charting script: the page keeps its strict Content-Security-Policy (no inline style
or script, which the charting libraries we looked at need), works without JavaScript,
and prints. Series differ by pattern as well as colour (site.css), every bar and point
carries its figures as a tooltip, and the template puts a table of the same figures
beside each chart."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date

from membership.donations.money import format_money
from membership.reports.series import Point

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 72, 8, 12, 28
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Shape:
    x: float
    y: float
    width: float
    height: float
    series: str
    title: str


@dataclass
class Chart:
    series: list[str]
    bars: list[Shape] = field(default_factory=list)
    points: list[Shape] = field(default_factory=list)
    line: str = ""  # an SVG polyline's points
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM


MAX_INTERVALS = 5


def ticks(top: int) -> list[int]:
    """Round ticks from 0 up to the first at or above `top`: one step between them, 1, 2
    or 5 times a power of ten, and at most MAX_INTERVALS steps (a count of 1 gets 0 and 1,
    not four zeros; 10 gets 0, 2, 4, 6, 8, 10)."""
    top = max(top, 1)
    power = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * power
            if step * MAX_INTERVALS >= top:
                return list(range(0, -(-top // step) * step + 1, step))
        power *= 10


def label(value: int, currency: str | None) -> str:
    return format_money(value, currency) if currency else f"{value:,}"


def _axes(chart: Chart, points, top_value: int, currency: str | None) -> float:
    """Ticks and labels; returns the y scale (pixels per unit)."""
    values = ticks(top_value)
    scale = (chart.baseline - TOP) / values[-1]
    for value in values:
        chart.y_ticks.append((chart.baseline - value * scale, label(value, currency)))
    step = max(1, math.ceil(len(points) / MAX_X_LABELS))
    slot = (chart.plot_right - chart.left) / max(len(points), 1)
    for index in range(0, len(points), step):
        chart.x_labels.append((chart.left + slot * (index + 0.5), points[index].start.isoformat()))
    return scale


def bar_chart(points, series: list[str], currency: str | None, stacked: bool = False) -> Chart:
    """Bars per period; several series side by side, or stacked."""
    chart = Chart(series=series)
    totals = [sum(p.values[name] for name in series) if stacked
              else max(p.values[name] for name in series) for p in points]
    scale = _axes(chart, points, max(totals, default=0), currency)
    slot = (chart.plot_right - chart.left) / max(len(points), 1)
    gap = min(4.0, slot * 0.2)
    for index, point in enumerate(points):
        x = chart.left + slot * index + gap / 2
        stack = chart.baseline
        width = (slot - gap) if stacked else (slot - gap) / len(series)
        for position, name in enumerate(series):
            value = point.values[name]
            height = value * scale
            bar_x = x if stacked else x + width * position
            y = stack - height if stacked else chart.baseline - height
            chart.bars.append(Shape(bar_x, y, width, height, name,
                                    f"{point.start}: {label(value, currency)}"))
            if stacked:
                stack -= height
    return chart


def line_chart(points, name: str, currency: str | None) -> Chart:
    """One series as a line with a marked point per period."""
    chart = Chart(series=[name])
    scale = _axes(chart, points, max((p.values[name] for p in points), default=0), currency)
    slot = (chart.plot_right - chart.left) / max(len(points), 1)
    coordinates = []
    for index, point in enumerate(points):
        x = chart.left + slot * (index + 0.5)
        y = chart.baseline - point.values[name] * scale
        coordinates.append(f"{x:.1f},{y:.1f}")
        chart.points.append(Shape(x, y, 0, 0, name,
                                  f"{point.start}: {label(point.values[name], currency)}"))
    chart.line = " ".join(coordinates)
    return chart


def category_chart(labels: list[str], values: list[dict[str, int]], series: list[str],
                   currency: str | None = None) -> Chart:
    """Bars per category (not per period): `bar_chart`, labelled by `labels`."""
    chart = bar_chart([Point(date.min, row) for row in values], series, currency)
    step = max(1, -(-len(labels) // MAX_X_LABELS))
    slot = (chart.plot_right - chart.left) / max(len(labels), 1)
    chart.x_labels = [(chart.left + slot * (index + 0.5), labels[index])
                      for index in range(0, len(labels), step)]
    per_bar = [(name, row[series_name]) for name, row in zip(labels, values, strict=True)
               for series_name in series]
    chart.bars = [replace(bar, title=f"{name}: {label(value, currency)}")
                  for bar, (name, value) in zip(chart.bars, per_bar, strict=True)]
    return chart
