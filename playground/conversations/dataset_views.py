"""The dataset page: a filter form, a dry run that counts rows, and the JSONL download."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from playground.accounts.users import signed_in
from playground.conversations.datasets import (
    ANSWER_STYLES,
    FORMATS,
    RATINGS,
    REASONING_FIELDS,
    VERDICTS,
    DatasetFilter,
    ExportOptions,
    MissingReasoning,
    Report,
    lines,
    rows,
)
from playground.models import Comparison, Prompt, Turn
from playground.turns import blind

CHUNK_LINES = 200  # lines per streamed chunk: one thread hop per chunk under ASGI, not per line


class BadFilter(ValueError):
    pass


def _date(q: QueryDict, name: str) -> dt.date | None:
    raw = q.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise BadFilter(f"{name} must be a date (YYYY-MM-DD)") from None


def _ints(q: QueryDict, name: str) -> list[int]:
    try:
        return [int(v) for v in q.getlist(name) if v.strip()]
    except ValueError:
        raise BadFilter(f"{name} must be numbers") from None


def _choice(q: QueryDict, name: str, allowed: tuple[str, ...]) -> str | None:
    value = q.get(name, "").strip() or None
    if value is not None and value not in allowed:
        raise BadFilter(f"{name} must be one of {', '.join(allowed)}")
    return value


def parse(request: HttpRequest) -> tuple[DatasetFilter, ExportOptions]:
    q = request.GET
    comparisons = _ints(q, "comparison")
    flt = DatasetFilter(
        owner=signed_in(request),
        models=[v for v in q.getlist("model") if v],
        prompts=[v for v in q.getlist("prompt") if v],
        since=_date(q, "since"),
        until=_date(q, "until"),
        rating=_choice(q, "rating", RATINGS),
        conversations=_ints(q, "conversation"),
        comparison=comparisons[0] if comparisons else None,
        verdict=_choice(q, "verdict", VERDICTS),
        blind_only=q.get("blind_only") in ("1", "on", "true"),
    )
    try:
        options = ExportOptions(
            format=q.get("format") or "final",
            reasoning_field=q.get("reasoning_field") or "reasoning_content",
            missing_reasoning=q.get("missing_reasoning") or "skip",
            dpo_reasoning=q.get("dpo_reasoning") or "final",
        )
    except ValueError as e:
        raise BadFilter(str(e)) from None
    return flt, options


@require_GET
def dataset_page(request: HttpRequest) -> HttpResponse:
    mine = blind.without_hidden_columns(
        Turn.objects.filter(conversation__owner=signed_in(request), role=Turn.Role.ASSISTANT)
    )
    return render(request, "datasets/page.html", {
        "formats": FORMATS, "reasoning_fields": REASONING_FIELDS, "answer_styles": ANSWER_STYLES,
        "ratings": RATINGS, "verdicts": VERDICTS,
        "models": sorted(set(mine.exclude(model_label="").values_list("model_label", flat=True))),
        "prompts": Prompt.available_to(request.user),
        "comparisons": Comparison.objects.filter(owner=signed_in(request), votes__isnull=False).distinct()[:200],
    })


@require_GET
def dataset_preview(request: HttpRequest) -> HttpResponse:
    """A dry run: how many rows the export would write and skip, and why (or why it is refused)."""
    try:
        flt, options = parse(request)
    except BadFilter as e:
        return JsonResponse({"error": str(e)}, status=400)
    report = Report()
    try:
        for _ in rows(flt, options, report):
            pass
    except MissingReasoning as e:
        return JsonResponse({"error": str(e), **report.as_dict()}, status=409)
    return JsonResponse({**report.as_dict(), "summary": report.summary()})


@require_GET
def dataset_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    try:
        flt, options = parse(request)
    except BadFilter as e:
        return HttpResponse(str(e), status=400, content_type="text/plain")
    report = Report()
    if options.missing_reasoning == "fail":
        # Refusing must happen before the first byte: a download cannot be taken back.
        try:
            body: Any = ["".join(lines(flt, options, report))]
        except MissingReasoning as e:
            return HttpResponse(str(e), status=409, content_type="text/plain")
    else:
        body = _chunks(lines(flt, options, report))
    response = StreamingHttpResponse(body, content_type="application/jsonl; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="dataset-{options.format}.jsonl"'
    return response


def _chunks(source: Iterator[str]) -> Iterator[str]:
    batch: list[str] = []
    for line in source:
        batch.append(line)
        if len(batch) >= CHUNK_LINES:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)
