"""The server-drawn SVG charts of a comparison."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from playground.compare.charts import Bar, Lane, bars_svg, nice_step, timeline_svg

SVG = "{http://www.w3.org/2000/svg}"


def rects(svg: str, part: str) -> list[dict[str, float]]:
    root = ET.fromstring(svg)  # also proves the output is well-formed XML
    return [
        {k: float(r.get(k)) for k in ("x", "y", "width", "height")}
        for r in root.iter(f"{SVG}rect")
        if r.get("class") == part and r.find(f"{SVG}title") is not None
    ]


def test_it_draws_thinking_then_answering_on_a_shared_time_axis():
    svg = timeline_svg([
        Lane("A", first_reasoning_ms=500, thinking_end_ms=2000, first_content_ms=2000, end_ms=4000),
        Lane("B", first_content_ms=1000, end_ms=2000),
    ], width=760)
    # Plot from x=150 to x=690 (760 - 70) over an axis that ends at 4 s: 135 px per second.
    thinking = rects(svg, "thinking")
    answering = rects(svg, "answering")
    assert thinking == [{"x": 217.5, "y": 24, "width": 202.5, "height": 22}]
    assert answering[0] == {"x": 420, "y": 24, "width": 270, "height": 22}
    assert answering[1] == {"x": 285, "y": 56, "width": 135, "height": 22}
    assert not any(t["y"] == 56 for t in thinking)  # B never thought
    assert [w["width"] for w in rects(svg, "wait")] == [67.5, 135]  # to the first token of each
    assert ">4 s</text>" in svg and ">0 s</text>" in svg


def test_a_lane_still_streaming_or_failed_says_so():
    svg = timeline_svg([Lane("A", first_reasoning_ms=300), Lane("B", end_ms=120, note="error")])
    assert "streaming…" in svg and ">error</text>" in svg
    assert rects(svg, "answering") == []


def test_labels_are_escaped():
    svg = timeline_svg([Lane('<script>alert("x")</script>', first_content_ms=1, end_ms=2)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    svg = bars_svg("t<b>", [Bar("<i>", [(1.0, "bar")])])
    assert "<b>" not in svg and "<i>" not in svg
    ET.fromstring(svg)


def test_bars_scale_to_the_largest_total_and_stack_their_parts():
    svg = bars_svg("Tokens", [
        Bar("A", [(300, "thinking"), (100, "answering")]),
        Bar("B", [(None, "thinking"), (200, "answering")]),
        Bar("C", [(None, "bar")]),
    ], width=360)
    # Plot width 360 - 28 - 64 = 268 px for the largest total (400).
    assert rects(svg, "thinking") == [{"x": 28, "y": 24, "width": 201, "height": 17}]
    a_answer, b_answer = rects(svg, "answering")
    assert a_answer["x"] == 229 and a_answer["width"] == 67
    assert b_answer["x"] == 28 and b_answer["width"] == 134
    values = re.findall(r'class="bar-value"[^>]*>([^<]*)<', svg)
    assert values == ["400", "200", "—"]  # C reported nothing


@pytest.mark.parametrize(("span", "step"), [(4, 0.5), (0.9, 0.2), (13, 2), (61, 10), (0, 1), (250, 50), (7, 1)])
def test_axis_steps_are_round_numbers(span, step):
    assert nice_step(span) == pytest.approx(step)
