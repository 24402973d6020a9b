"""Server-drawn SVG charts for comparisons: no JavaScript, no library.

    timeline_svg   one lane per column: waiting, thinking, answering against time
    bars_svg       horizontal bars per column, optionally stacked (reasoning + answer tokens)

Colours come from CSS classes (static/css/compare.css) so the charts follow the
light/dark theme; fill attributes give a sensible default when the SVG is seen
on its own. Every label is escaped: model labels are admin-entered text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

LABEL_WIDTH = 150
RIGHT_PAD = 70
LANE = 22
GAP = 10
AXIS = 24

COLOURS = {"wait": "#c9c9d3", "thinking": "#8b7cf6", "answering": "#22a06b", "bar": "#4f46e5"}


@dataclass(frozen=True)
class Lane:
    """When one column was waiting, thinking and answering (ms from the request)."""

    label: str
    first_reasoning_ms: int | None = None
    thinking_end_ms: int | None = None  # Turn.thinking_ms: when thinking ended
    first_content_ms: int | None = None
    end_ms: int | None = None  # Turn.duration_ms; None while streaming
    note: str = ""  # shown after the lane: "error", "stopped", …


@dataclass(frozen=True)
class Bar:
    label: str
    # (value, part name) stacked left to right; a None value means "not reported".
    parts: Sequence[tuple[float | None, str]]


def nice_step(span: float, target_ticks: int = 6) -> float:
    """The 1/2/5×10^k step closest to giving `target_ticks` ticks over `span`."""
    if span <= 0:
        return 1.0
    raw = span / target_ticks
    power = 10 ** math.floor(math.log10(raw))
    return float(min((m * power for m in (1, 2, 5, 10)), key=lambda step: abs(math.log(raw / step))))


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms < 10_000 else f"{ms / 1000:.1f} s"


def timeline_svg(lanes: Sequence[Lane], *, width: int = 960) -> SafeString:
    end = max((lane.end_ms or lane.first_content_ms or lane.first_reasoning_ms or 0 for lane in lanes), default=0)
    end = max(end, 1)
    step = nice_step(end / 1000) * 1000
    axis_end = math.ceil(end / step) * step
    plot = width - LABEL_WIDTH - RIGHT_PAD
    height = AXIS + len(lanes) * (LANE + GAP) + 28

    def x(ms: float) -> float:
        return LABEL_WIDTH + plot * ms / axis_end

    out = [
        f'<svg class="chart timeline" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' xmlns="http://www.w3.org/2000/svg" aria-labelledby="timeline-title">',
        '<title id="timeline-title">When each column was thinking and answering</title>',
    ]
    ticks = int(axis_end // step)
    for i in range(ticks + 1):
        tx = x(i * step)
        out.append(
            f'<line class="grid" x1="{_num(tx)}" x2="{_num(tx)}" y1="{AXIS - 6}" y2="{height - 28}" stroke="#e3e3e8"/>'
        )
        out.append(
            f'<text class="tick" x="{_num(tx)}" y="{AXIS - 10}" text-anchor="middle">{_num(i * step / 1000)} s</text>'
        )
    for row, lane in enumerate(lanes):
        y = AXIS + row * (LANE + GAP)
        mid = y + LANE / 2
        out.append(
            f'<text class="lane-label" x="{LABEL_WIDTH - 8}" y="{_num(mid + 4)}" text-anchor="end">'
            f"{escape(lane.label)}</text>"
        )
        first = min((t for t in (lane.first_reasoning_ms, lane.first_content_ms) if t is not None), default=lane.end_ms)
        if first:
            out.append(
                _segment("wait", x(0), x(first), y + LANE / 2 - 2, 4, f"{lane.label}: waiting {_seconds(first)}")
            )
        if lane.first_reasoning_ms is not None:
            stop = lane.thinking_end_ms or lane.first_content_ms or lane.end_ms or lane.first_reasoning_ms
            out.append(_segment(
                "thinking", x(lane.first_reasoning_ms), x(max(stop, lane.first_reasoning_ms)), y, LANE,
                f"{lane.label}: thinking {_seconds(lane.first_reasoning_ms)} → {_seconds(stop)}",
            ))
        if lane.first_content_ms is not None:
            stop = lane.end_ms or lane.first_content_ms
            out.append(_segment(
                "answering", x(lane.first_content_ms), x(stop), y, LANE,
                f"{lane.label}: answering {_seconds(lane.first_content_ms)} → {_seconds(stop)}",
            ))
        tail = lane.note or (_seconds(lane.end_ms) if lane.end_ms is not None else "streaming…")
        tail_x = x(lane.end_ms or first or 0) + 6
        out.append(f'<text class="lane-note" x="{_num(tail_x)}" y="{_num(mid + 4)}">{escape(tail)}</text>')
    legend_y = height - 10
    for i, (part, text) in enumerate((("wait", "waiting"), ("thinking", "thinking"), ("answering", "answering"))):
        lx = LABEL_WIDTH + i * 110
        out.append(
            f'<rect class="{part}" x="{lx}" y="{legend_y - 9}" width="12" height="10" rx="2" fill="{COLOURS[part]}"/>'
        )
        out.append(f'<text class="legend" x="{lx + 17}" y="{legend_y}">{text}</text>')
    out.append("</svg>")
    return mark_safe("".join(out))  # every label above went through escape()


def _segment(part: str, x0: float, x1: float, y: float, h: float, title: str) -> str:
    w = max(x1 - x0, 1.5)  # a very short phase stays visible
    return (
        f'<rect class="{part}" x="{_num(x0)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" rx="3"'
        f' fill="{COLOURS[part]}"><title>{escape(title)}</title></rect>'
    )


def bars_svg(title: str, bars: Sequence[Bar], *, fmt: Callable[[float], str] = _num, width: int = 360) -> SafeString:
    """A small horizontal bar chart: one bar per column, parts stacked."""
    totals = [sum(v for v, _ in bar.parts if v is not None) for bar in bars]
    top = max(totals, default=0) or 1
    label_width = 28  # the bars are labelled with the column letters
    plot = width - label_width - 64
    height = 26 + len(bars) * 24
    out = [
        f'<svg class="chart bars" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<text class="chart-title" x="0" y="14">{escape(title)}</text>',
    ]
    for row, (bar, total) in enumerate(zip(bars, totals, strict=True)):
        y = 24 + row * 24
        out.append(
            f'<text class="lane-label" x="{label_width - 8}" y="{y + 13}" text-anchor="end">{escape(bar.label)}</text>'
        )
        reported = [v for v, _ in bar.parts if v is not None]
        x0 = float(label_width)
        for value, part in bar.parts:
            if not value:
                continue
            w = plot * value / top
            out.append(
                f'<rect class="{escape(part)}" x="{_num(x0)}" y="{y}" width="{_num(max(w, 1))}" height="17" rx="3"'
                f' fill="{COLOURS.get(part, COLOURS["bar"])}">'
                f"<title>{escape(bar.label)}: {escape(fmt(value))} {escape(part)}</title></rect>"
            )
            x0 += w
        text = fmt(total) if reported else "—"
        out.append(f'<text class="bar-value" x="{_num(x0 + 5)}" y="{y + 13}">{escape(text)}</text>')
    out.append("</svg>")
    return mark_safe("".join(out))  # every label above went through escape()
