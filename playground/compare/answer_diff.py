"""The page (or htmx fragment) comparing two columns' answers word by word."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from playground.compare.diff import similarity, word_diff
from playground.compare.metrics import ColumnView, column_views, rounds
from playground.compare.thought_diff import shared_steps, thought_diff
from playground.compare.views import _comparison_for, _round_param


def _turn_text(view: ColumnView | None, round_no: int, part: str) -> str | None:
    if view is None or not 1 <= round_no <= len(view.assistant_turns):
        return None
    return str(getattr(view.assistant_turns[round_no - 1], part))


@require_GET
def comparison_diff(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = _comparison_for(request, pk)
    views = column_views(comparison)  # blind labels stay blind here too
    latest = rounds(views)
    n = _round_param(request) or latest
    n = n if 1 <= n <= latest else latest
    by_letter = {v.column.letter: v for v in views}
    first = by_letter.get(request.GET.get("a", "A"), views[0] if views else None)
    second = by_letter.get(request.GET.get("b", "B"), views[1] if len(views) > 1 else None)
    part = "reasoning" if request.GET.get("part") == "reasoning" else "content"
    a, b = _turn_text(first, n, part), _turn_text(second, n, part)
    pieces = word_diff(a, b) if a is not None and b is not None else []
    ctx = {
        "comparison": comparison, "columns": views, "round": n, "part": part,
        "first": first, "second": second, "pieces": pieces,
        "similarity": similarity(pieces) if pieces else None,
        "missing": a is None or b is None,
    }
    if part == "reasoning" and a is not None and b is not None:
        # The reasoning side by side, steps aligned (what one thought that the other did not).
        rows = thought_diff(a, b)
        ctx.update(rows=rows, counts=shared_steps(rows),
                   first_label=f"{first.column.letter} · {first.label}" if first else "",
                   second_label=f"{second.column.letter} · {second.label}" if second else "")
    template = "compare/_diff.html" if request.headers.get("HX-Request") else "compare/diff.html"
    return render(request, template, ctx)
