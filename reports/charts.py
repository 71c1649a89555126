"""Server-side SVG charts for the report pages and the PDF: no JavaScript, no CDN, no external fonts.

Each chart is a self-contained ``<svg role="img">`` with a ``<title>`` and ``<desc>``; the page places the
chart's table and a text summary beside it, so the figures never depend on seeing the picture.
Pure functions: figures in, markup out (escaped), no ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from itertools import count

# Colour-blind-safe palette (Okabe-Ito), in series order.
PALETTE = ("#0072B2", "#E69F00", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
FONT = "DejaVu Sans, Verdana, sans-serif"
_ids = count(1)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _label(value: float, *, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^n at or above ``value`` (an axis that ends on a round number)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1.0
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _tick_count(peak: float, *, percent: bool) -> int:
    """Gridlines at whole numbers on a count axis (0, 1, 2 rather than 0, 0.5, 1)."""
    if percent:
        return 4
    return next(n for n in (4, 5, 2, 1) if (peak / n).is_integer())


TITLE_HEIGHT = 22  # the visible title line above every chart


def _open(width: int, height: int, title: str, description: str) -> tuple[str, str]:
    chart_id = f"chart-{next(_ids)}"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'font-family="{FONT}" font-size="12">'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(description)}</desc>'
        f'<text x="0" y="14" font-weight="bold" aria-hidden="true">{escape(title)}</text>'
    )
    return head, "</svg>"


def _legend(series: Sequence[Series], *, x: float, y: float) -> list[str]:
    parts = []
    offset = 0.0
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{_num(x + offset)}" y="{_num(y - 9)}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{_num(x + offset + 14)}" y="{_num(y)}">{escape(item.name)}</text>'
        )
        offset += 24 + 7 * len(item.name)
    return parts


def empty_chart(title: str, message: str = "No data in this period.", *, width: int = 640) -> str:
    head, tail = _open(width, 70, title, message)
    return f'{head}<text x="{width / 2}" y="48" text-anchor="middle" fill="#555">{escape(message)}</text>{tail}'


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    percent: bool = False,
    stacked: bool = False,
    width: int = 640,
) -> str:
    """Horizontal bars, one group a label; grouped side by side, or stacked."""
    if not labels or not series:
        return empty_chart(title, width=width)
    label_width = min(220, 14 + 7 * max(len(label) for label in labels))
    bar_height = 16
    per_group = 1 if stacked else len(series)
    group_height = per_group * bar_height + 12
    top = TITLE_HEIGHT + (28 if len(series) > 1 else 8)
    height = top + group_height * len(labels) + 24
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))] if stacked else []
    peak = 1.0 if percent else _nice_max(max(totals) if stacked else max(max(s.values, default=0) for s in series))
    plot = width - label_width - 60
    description = "; ".join(
        f"{label}: " + ", ".join(f"{s.name} {_label(s.values[i], percent=percent)}" for s in series)
        for i, label in enumerate(labels)
    )
    head, tail = _open(width, height, title, description)
    parts = [head]
    if len(series) > 1:
        parts += _legend(series, x=label_width, y=TITLE_HEIGHT + 16)
    ticks = _tick_count(peak, percent=percent)
    for tick in range(ticks + 1):
        x = label_width + plot * tick / ticks
        parts.append(
            f'<line x1="{_num(x)}" y1="{top - 4}" x2="{_num(x)}" y2="{height - 20}" stroke="#ddd"/>'
            f'<text x="{_num(x)}" y="{height - 6}" text-anchor="middle" fill="#555">'
            f"{_label(peak * tick / ticks, percent=percent)}</text>"
        )
    for i, label in enumerate(labels):
        y0 = top + i * group_height
        parts.append(
            f'<text x="{label_width - 6}" y="{_num(y0 + per_group * bar_height / 2 + 4)}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        offset = 0.0
        for index, item in enumerate(series):
            value = item.values[i]
            length = plot * value / peak if peak else 0
            y = y0 if stacked else y0 + index * bar_height
            x = label_width + offset
            parts.append(
                f'<rect x="{_num(x)}" y="{y}" width="{_num(length)}" height="{bar_height - 2}" '
                f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(label)}, {escape(item.name)}: '
                f"{_label(value, percent=percent)}</title></rect>"
            )
            if stacked:
                offset += length
            else:
                parts.append(
                    f'<text x="{_num(x + length + 4)}" y="{y + bar_height - 4}" fill="#333">'
                    f"{_label(value, percent=percent)}</text>"
                )
        if stacked:
            parts.append(
                f'<text x="{_num(label_width + offset + 4)}" y="{y0 + bar_height - 4}" fill="#333">'
                f"{_label(totals[i], percent=percent)}</text>"
            )
    parts.append(tail)
    return "".join(parts)


def line_chart(title: str, days: Sequence[str], series: Sequence[Series], *, width: int = 640) -> str:
    """One line a series over consecutive days (ISO dates on the x axis, first, middle and last labelled)."""
    if not days or not series or not any(any(s.values) for s in series):
        return empty_chart(title, width=width)
    left, right, top, bottom = 48, 12, TITLE_HEIGHT + 28, 28
    height = 240
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max(max(s.values) for s in series))
    step = plot_w / max(len(days) - 1, 1)
    description = (
        ", ".join(f"{s.name}: {sum(s.values):,.0f} in all, at most {max(s.values):,.0f} on a day" for s in series)
        + f"; from {days[0]} to {days[-1]}"
    )
    head, tail = _open(width, height, title, description)
    parts = [head, *_legend(series, x=left, y=TITLE_HEIGHT + 16)]
    ticks = _tick_count(peak, percent=False)
    for tick in range(ticks + 1):
        y = top + plot_h - plot_h * tick / ticks
        parts.append(
            f'<line x1="{left}" y1="{_num(y)}" x2="{width - right}" y2="{_num(y)}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end" fill="#555">'
            f"{_label(peak * tick / ticks, percent=False)}</text>"
        )
    for index in sorted({0, len(days) // 2, len(days) - 1}):
        anchor = "start" if index == 0 else "end" if index == len(days) - 1 else "middle"
        parts.append(
            f'<text x="{_num(left + index * step)}" y="{height - 8}" text-anchor="{anchor}" fill="#555">'
            f"{escape(days[index])}</text>"
        )
    for index, item in enumerate(series):
        points = " ".join(
            f"{_num(left + i * step)},{_num(top + plot_h - plot_h * value / peak)}"
            for i, value in enumerate(item.values)
        )
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
    parts.append(tail)
    return "".join(parts)
