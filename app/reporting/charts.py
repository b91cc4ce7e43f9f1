"""Server-side SVG charts for the report page: plain markup, no script, no style attributes
(the page's Content-Security-Policy allows only its own style sheet), nothing from the
internet. Counts of 1 to 4 are not drawn: the chart says "<5" where the table does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from app.reporting.suppress import SMALL, visible

__all__ = ["Bar", "MonthPoint", "bar_chart", "trend_chart"]

BLUE: Final = "#2b6cb0"
ORANGE: Final = "#c05621"
GREEN: Final = "#2f855a"
GREY: Final = "#718096"
_FONT: Final = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class MonthPoint:
    label: str  # YYYY-MM
    orders: int
    within: tuple[int, int]  # GP orders within max_days, GP orders with a duration
    long_acting: tuple[int, int]
    marker: str | None = None  # "baseline", "4 months", "1 year"


@dataclass(frozen=True)
class Bar:
    label: str
    part: int
    whole: int


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = "#1a202c") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" {_FONT}>'
        f"{escape(text)}</text>"
    )


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def trend_chart(points: Sequence[MonthPoint], title: str) -> str:
    """Orders per month as bars (left axis); the share of GP orders within the agreement
    and the share long-acting as lines (right axis, 0–100 %); markers as dashed lines."""
    width, height = 760, 300
    left, right, top, bottom = 48, 56, 28, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    body: list[str] = []
    if not points:
        return _svg(width, 80, title, [_text(10, 40, "No data in this period.")])
    peak = max(max(point.orders for point in points), 5)
    step = plot_w / len(points)
    base = top + plot_h
    for fraction in (0, 0.5, 1):
        y = base - fraction * plot_h
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e2e8f0"/>'
        )
        body.append(_text(left - 6, y + 4, str(round(peak * fraction)), "end", GREY))
        body.append(_text(left + plot_w + 6, y + 4, f"{fraction:.0%}", "start", GREY))
    # A month without a share drawn breaks the line: a line across it would invent a trend.
    lines: dict[str, list[list[tuple[float, float]]]] = {GREEN: [[]], ORANGE: [[]]}
    for index, point in enumerate(points):
        x = left + index * step
        centre = x + step / 2
        if visible(point.orders, point.orders) is not None:
            bar_h = plot_h * point.orders / peak
            body.append(
                f'<rect x="{x + step * 0.15:.1f}" y="{base - bar_h:.1f}" '
                f'width="{step * 0.7:.1f}" height="{bar_h:.1f}" fill="{BLUE}" opacity="0.35">'
                f"<title>{escape(point.label)}: {point.orders} orders</title></rect>"
            )
        elif point.orders:
            body.append(_text(centre, base - 4, SMALL, "middle", GREY))
        for colour, (part, whole) in ((GREEN, point.within), (ORANGE, point.long_acting)):
            share = visible(part, whole)
            if share is not None:
                lines[colour][-1].append((centre, base - share * plot_h))
            elif lines[colour][-1]:
                lines[colour].append([])
        if len(points) <= 18 or index % 2 == 0:
            body.append(_text(centre, base + 16, point.label[2:], "middle", GREY))
        if point.marker:
            body.append(
                f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{base}" stroke="#9b2c2c" '
                f'stroke-dasharray="4 3"/>'
            )
            body.append(_text(x + 3, top - 10, point.marker, "start", "#9b2c2c"))
    for colour, segments in lines.items():
        for coordinates in segments:
            if len(coordinates) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coordinates)
                body.append(
                    f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
                )
            body.extend(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in coordinates
            )
    legend_y = height - 14
    for offset, colour, label in (
        (0, BLUE, "orders evaluated"),
        (170, GREEN, "GP orders within max. days"),
        (390, ORANGE, "long-acting"),
    ):
        body.append(
            f'<rect x="{left + offset}" y="{legend_y - 10}" width="12" height="12" '
            f'fill="{colour}"/>'
        )
        body.append(_text(left + offset + 18, legend_y, label))
    return _svg(width, height, title, body)


def bar_chart(
    bars: Sequence[Bar],
    title: str,
    *,
    shares: bool,
    reference: float | None = None,
    reference_label: str = "region",
) -> str:
    """Horizontal bars: shares (part of whole, 0–100 %) or counts (part). `reference` draws a
    dashed line (the region's share) to compare each bar with."""
    row_h, label_w, plot_w = 24, 170, 440
    width = label_w + plot_w + 80
    height = max(1, len(bars)) * row_h + (40 if reference is not None else 16)
    body: list[str] = []
    if not bars:
        return _svg(width, 60, title, [_text(10, 30, "No data in this period.")])
    peak = 1.0 if shares else max(max(bar.part for bar in bars), 5)
    for index, bar in enumerate(bars):
        y = 10 + index * row_h
        body.append(_text(label_w - 8, y + 15, bar.label, "end"))
        value = visible(bar.part, bar.whole) if shares else visible(bar.part, bar.part)
        if value is None:
            shown = SMALL if bar.part or bar.whole else "–"
            body.append(_text(label_w + 4, y + 15, shown, "start", GREY))
            continue
        length = plot_w * (value if shares else bar.part) / peak
        body.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row_h - 8}" '
            f'fill="{BLUE}"/>'
        )
        shown = f"{value:.0%}" if shares else str(bar.part)
        body.append(_text(label_w + length + 6, y + 15, shown))
    if reference is not None:
        x = label_w + plot_w * reference
        bottom = 10 + len(bars) * row_h
        body.append(
            f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{bottom}" stroke="{ORANGE}" '
            f'stroke-width="2" stroke-dasharray="5 3"/>'
        )
        body.append(_text(x, bottom + 16, f"{reference_label} {reference:.0%}", "middle", ORANGE))
    return _svg(width, height, title, body)
