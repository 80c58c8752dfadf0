"""Charts drawn on the server as accessible SVG: a title and a description the screen reader
reads (`role="img"`, `aria-labelledby`), and the same numbers in a table beside each chart
(the templates' `chart` macro). No script, no external asset: the console works offline.

Bars are scaled to the largest value; values are Decimals (never floats until the pixel).
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup

WIDTH = 640
BAR = 22
GAP = 8
LABEL = 150
COLOURS = ("#2f6f9f", "#c0392b", "#7f8c8d")
_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Series:
    """One set of bars (e.g. "available"), one value per label."""

    name: str
    values: Sequence[Decimal]


@dataclass(frozen=True, slots=True)
class Chart:
    """A grouped horizontal bar chart: labels down the side, one bar per series."""

    title: str
    description: str
    labels: Sequence[str]
    series: Sequence[Series]
    unit: str = ""
    # A reference line per label (a standard, an entitlement): drawn as a mark across the bar.
    marks: Sequence[Decimal | None] = ()

    def svg(self) -> Markup:
        number = next(_ids)
        values = [abs(v) for s in self.series for v in s.values]
        peak = max([*values, *(m for m in self.marks if m is not None), Decimal(0)]) or Decimal(1)
        group = BAR * len(self.series) + GAP
        height = 30 + group * len(self.labels) + 24 * len(self.series)
        scale = Decimal(WIDTH - LABEL - 20) / peak
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {WIDTH} {height}" aria-labelledby="chart-t{number} chart-d{number}">',
            f'<title id="chart-t{number}">{html.escape(self.title)}</title>',
            f'<desc id="chart-d{number}">{html.escape(self.description)}</desc>',
        ]
        for row, label in enumerate(self.labels):
            top = 10 + row * group
            parts.append(
                f'<text x="{LABEL - 6}" y="{top + group // 2}" text-anchor="end" '
                f'class="chart-label">{html.escape(label)}</text>'
            )
            for index, series in enumerate(self.series):
                value = series.values[row]
                width = int(abs(value) * scale)
                colour = COLOURS[index % len(COLOURS)]
                y = top + index * BAR
                parts.append(
                    f'<rect x="{LABEL}" y="{y}" width="{width}" height="{BAR - 4}" '
                    f'fill="{colour}"><title>{html.escape(series.name)}: {value} '
                    f"{html.escape(self.unit)}</title></rect>"
                )
            mark = self.marks[row] if row < len(self.marks) else None
            if mark is not None:
                x = LABEL + int(mark * scale)
                parts.append(
                    f'<line x1="{x}" x2="{x}" y1="{top - 2}" y2="{top + group - GAP + 2}" '
                    'class="chart-mark" stroke="#000" stroke-width="2" stroke-dasharray="4 2"/>'
                )
        legend = 20 + group * len(self.labels)
        for index, series in enumerate(self.series):
            y = legend + index * 24
            colour = COLOURS[index % len(COLOURS)]
            parts.append(f'<rect x="{LABEL}" y="{y}" width="14" height="14" fill="{colour}"/>')
            parts.append(
                f'<text x="{LABEL + 20}" y="{y + 12}" class="chart-legend">'
                f"{html.escape(series.name)} ({html.escape(self.unit)})</text>"
            )
        parts.append("</svg>")
        return Markup("".join(parts))  # noqa: S704 - every text above is escaped


@dataclass(frozen=True, slots=True)
class Column:
    """One hour of an hourly chart: its value (None: nothing drawn), what it is, and a label."""

    value: Decimal | None
    kind: str  # "reading", "exceedance" or "substituted": its colour and legend
    label: str


HOURLY_WIDTH = 780
HOURLY_HEIGHT = 240
PLOT_LEFT, PLOT_TOP, PLOT_BOTTOM = 50, 10, 200
KIND_COLOURS = {"reading": "#2f6f9f", "exceedance": "#c0392b", "substituted": "#b0b7bd"}


@dataclass(frozen=True, slots=True)
class HourlyChart:
    """A column per hour of a month, left to right; exceedances and substituted hours in their
    own colours, the standard as a dashed horizontal line, a tick at each day's first hour."""

    title: str
    description: str
    columns: Sequence[Column]
    legend: dict[str, str]  # kind → its name in the page's language
    unit: str = ""
    standard: Decimal | None = None
    days: Sequence[tuple[int, str]] = ()  # (column index, label) of the ticks

    def svg(self) -> Markup:
        number = next(_ids)
        values = [c.value for c in self.columns if c.value is not None]
        peak = max([*values, self.standard or Decimal(0), Decimal(0)]) or Decimal(1)
        step = Decimal(HOURLY_WIDTH - PLOT_LEFT - 10) / max(len(self.columns), 1)
        scale = Decimal(PLOT_BOTTOM - PLOT_TOP) / peak
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-hourly" role="img" '
            f'viewBox="0 0 {HOURLY_WIDTH} {HOURLY_HEIGHT + 20}" '
            f'aria-labelledby="chart-t{number} chart-d{number}">',
            f'<title id="chart-t{number}">{html.escape(self.title)}</title>',
            f'<desc id="chart-d{number}">{html.escape(self.description)}</desc>',
            f'<text x="{PLOT_LEFT - 4}" y="{PLOT_TOP + 10}" text-anchor="end" '
            f'class="chart-label">{peak.normalize():f}</text>',
        ]
        width = max(step, Decimal(1))
        for index, column in enumerate(self.columns):
            if column.value is None:
                continue
            height = int(column.value * scale)
            parts.append(
                f'<rect x="{PLOT_LEFT + index * step:.2f}" y="{PLOT_BOTTOM - height}" '
                f'width="{width:.2f}" height="{height}" class="hour-{column.kind}" '
                f'fill="{KIND_COLOURS[column.kind]}"><title>{html.escape(column.label)}: '
                f"{column.value} {html.escape(self.unit)}</title></rect>"
            )
        for index, label in self.days:
            x = f"{PLOT_LEFT + index * step:.2f}"
            parts.append(
                f'<line x1="{x}" x2="{x}" y1="{PLOT_BOTTOM}" y2="{PLOT_BOTTOM + 5}" stroke="#000"/>'
                f'<text x="{x}" y="{PLOT_BOTTOM + 16}" text-anchor="middle" '
                f'class="chart-label">{html.escape(label)}</text>'
            )
        if self.standard is not None:
            y = PLOT_BOTTOM - int(self.standard * scale)
            parts.append(
                f'<line x1="{PLOT_LEFT}" x2="{HOURLY_WIDTH - 10}" y1="{y}" y2="{y}" '
                'class="chart-mark" stroke="#000" stroke-width="2" stroke-dasharray="4 2"/>'
            )
        for index, (kind, name) in enumerate(self.legend.items()):
            left = PLOT_LEFT + index * 200
            parts.append(
                f'<rect x="{left}" y="{HOURLY_HEIGHT}" width="14" height="14" '
                f'fill="{KIND_COLOURS[kind]}"/><text x="{left + 20}" y="{HOURLY_HEIGHT + 12}" '
                f'class="chart-legend">{html.escape(name)}</text>'
            )
        parts.append("</svg>")
        return Markup("".join(parts))  # noqa: S704 - every text above is escaped
