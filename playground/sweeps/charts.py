"""The sweep chart: score against reasoning tokens (or cost), one point per level, with
error bars both ways (the 95 % intervals), the pick marked. Drawn on the server as SVG
with compare's chart helpers (`playground.compare.charts`): no JavaScript, colours from
CSS classes so it follows the theme, every label escaped.

Several series share one chart (two models' sweeps compared): each has its own colour
class (`series-0`, `series-1`, …) and its points are joined in level order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from playground.compare.charts import _num, nice_step
from playground.sweeps.points import Point
from reasoning.stats import Estimate

SERIES_COLOURS = ("#4f46e5", "#d9480f", "#0b7285", "#5c940d")
LEFT, RIGHT, TOP, BOTTOM = 56, 28, 48, 46
PAD = 0.05  # of the x span, on both sides: a point at 0 does not sit on the score axis


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[Point]


def _measure(point: Point, x: str) -> Estimate:
    return point.cost if x == "cost" else point.reasoning_tokens


def _axis(lo: float, hi: float) -> tuple[float, float, float]:
    if hi <= lo:
        hi = lo + 1
    step = nice_step(hi - lo, 5)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


def _tick(value: float, x: str) -> str:
    if x == "cost":
        return f"${value:.4f}".rstrip("0").rstrip(".") if value else "$0"
    return f"{value:,.0f}"


def scatter_svg(series: Sequence[Series], *, x: str, scale: tuple[float, float], width: int = 640,
                height: int = 320) -> SafeString:
    """x: "reasoning_tokens" or "cost". Points with no score or no x are left out (and
    said so in the title)."""
    x_name = "cost (USD)" if x == "cost" else "reasoning tokens"
    title = f"Score against {x_name}, per level, with 95% intervals"
    drawn = [(i, s, p) for i, s in enumerate(series) for p in s.points
             if p.score.mean is not None and _measure(p, x).mean is not None]
    xs = [v for _, _, p in drawn for v in (_measure(p, x).low, _measure(p, x).mean, _measure(p, x).high)
          if v is not None]
    x0, x1, xstep = _axis(min(xs, default=0.0), max(xs, default=1.0))
    x0 = min(x0, 0.0)
    y0, y1 = scale
    ystep = nice_step(y1 - y0, 5)
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    pad = (x1 - x0) * PAD

    def px(v: float) -> float:
        return LEFT + plot_w * (v - x0 + pad) / (x1 - x0 + 2 * pad)

    def py(v: float) -> float:
        return TOP + plot_h * (1 - (v - y0) / (y1 - y0))

    slug = "cost" if x == "cost" else "tokens"
    out = [
        f'<svg class="chart sweep-chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' xmlns="http://www.w3.org/2000/svg" aria-labelledby="sweep-{slug}-title" data-x="{x}">',
        f'<title id="sweep-{slug}-title">{escape(title)}</title>',
        f'<text class="chart-title" x="{LEFT}" y="16">{escape(title)}</text>',
    ]
    v = y0
    while v <= y1 + 1e-9:
        out.append(f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{_num(py(v))}" y2="{_num(py(v))}"'
                   f' stroke="#e3e3e8"/>')
        out.append(f'<text class="tick" x="{LEFT - 6}" y="{_num(py(v) + 4)}" text-anchor="end">{v:g}</text>')
        v += ystep
    v = x0
    while v <= x1 + 1e-12:
        out.append(f'<text class="tick" x="{_num(px(v))}" y="{height - BOTTOM + 16}" text-anchor="middle">'
                   f"{escape(_tick(v, x))}</text>")
        v += xstep
    out.append(f'<text class="legend" x="{LEFT + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle">'
               f"{escape(x_name)}</text>")
    out.append(f'<text class="legend" x="12" y="{TOP + plot_h / 2:.0f}" text-anchor="middle"'
               f' transform="rotate(-90 12 {TOP + plot_h / 2:.0f})">score</text>')
    for index, s in enumerate(series):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        mine = [(p, _measure(p, x)) for i, _, p in drawn if i == index]
        if len(mine) > 1:
            path = " ".join(f"{_num(px(m.mean or 0))},{_num(py(p.score.mean or 0))}"
                            for p, m in sorted(mine, key=lambda pm: pm[1].mean or 0))
            out.append(f'<polyline class="series-line series-{index}" points="{path}" fill="none"'
                       f' stroke="{colour}" stroke-opacity=".45"/>')
        for p, m in mine:
            cx, cy = px(m.mean or 0), py(p.score.mean or 0)
            label = f"{s.name} · {p.level}" if len(series) > 1 else p.level
            tip = (f"{label}: score {p.score.mean:.2f}"
                   + (f" (95% {p.score.low:.2f}–{p.score.high:.2f})" if p.score.low is not None else "")
                   + f", {_tick(m.mean or 0, x)} {'' if x == 'cost' else 'reasoning tokens'}"
                   + (" — the pick: cheapest within the best's interval" if p.pick else ""))
            out.append(f'<g class="point series-{index}{" pick" if p.pick else ""}" data-level="{escape(p.level)}">'
                       f"<title>{escape(tip)}</title>")
            if p.score.low is not None and p.score.high is not None:
                out.append(f'<line class="error-bar" x1="{_num(cx)}" x2="{_num(cx)}" y1="{_num(py(p.score.low))}"'
                           f' y2="{_num(py(p.score.high))}" stroke="{colour}"/>')
            if m.low is not None and m.high is not None:
                out.append(f'<line class="error-bar" x1="{_num(px(m.low))}" x2="{_num(px(m.high))}"'
                           f' y1="{_num(cy)}" y2="{_num(cy)}" stroke="{colour}"/>')
            if p.pick:
                out.append(f'<circle class="pick-ring" cx="{_num(cx)}" cy="{_num(cy)}" r="10" fill="none"'
                           f' stroke="#22a06b" stroke-width="2.5"/>')
            out.append(f'<circle class="dot" cx="{_num(cx)}" cy="{_num(cy)}" r="5" fill="{colour}"/>')
            out.append(f'<text class="point-label" x="{_num(cx + 8)}" y="{_num(cy - 8)}">{escape(label)}'
                       f'{" ★" if p.pick else ""}</text></g>')
    if len(series) > 1:
        for index, s in enumerate(series):
            lx = LEFT + 10 + index * 180
            out.append(f'<rect x="{lx}" y="22" width="10" height="10" rx="2"'
                       f' fill="{SERIES_COLOURS[index % len(SERIES_COLOURS)]}"/>')
            out.append(f'<text class="legend" x="{lx + 14}" y="31">{escape(s.name)}</text>')
    out.append("</svg>")
    return mark_safe("".join(out))  # every label above went through escape()
