"""The sweep screens: set up (from scratch, from a chat turn, from a comparison), the
result page with its live progress, Stop, and CSV/JSON export."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from asgiref.sync import sync_to_async
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from playground.accounts.users import signed_in
from playground.compare.services import blind_label_for, settings_summary
from playground.models import Comparison, ModelProfile, Turn
from playground.sweeps.charts import Series, scatter_svg
from playground.sweeps.models import Sweep
from playground.sweeps.points import JSON_FIELDS, points, progress
from playground.sweeps.runner import resume_if_idle, stop_sweep
from playground.sweeps.services import (
    DEFAULT_REPEATS,
    MAX_REPEATS,
    available_levels,
    create_sweep,
    level_params,
)
from playground.turns.services import BadInput, enabled_models
from reasoning.grading import scale_of

GRADER_KINDS = (
    ("number", "Number within a tolerance"),
    ("contains", "Contains the expected text"),
    ("exact", "Exactly the expected text"),
    ("regex", "Matches a regular expression"),
    ("schema", "JSON matching a schema"),
    ("judge", "A judge model with a rubric"),
)


def _sweep_for(request: HttpRequest, pk: int) -> Sweep:
    try:
        return Sweep.objects.select_related("model__provider").get(pk=pk, owner=signed_in(request))
    except Sweep.DoesNotExist:
        raise Http404("No such sweep") from None


def level_label(level: str) -> str:
    if level == "off":
        return "thinking off"
    if level.startswith("budget:"):
        return f"budget {int(level.removeprefix('budget:')):,}"
    return settings_summary(level_params(level))


# ---- setting up ------------------------------------------------------------------------------


def _models() -> list[ModelProfile]:
    return list(enabled_models())


def _prefill(request: HttpRequest) -> dict[str, Any]:
    """A sweep of a chat turn's prompt and model, or of a comparison's first prompt."""
    user = signed_in(request)
    data: dict[str, Any] = {}
    if turn_id := request.GET.get("turn"):
        turn = Turn.objects.filter(pk=turn_id, conversation__owner=user).select_related("parent").first()
        if turn is not None:
            prompt = turn if turn.role == Turn.Role.USER else turn.parent
            answer = turn if turn.role == Turn.Role.ASSISTANT else turn.children.filter(role="assistant").first()
            data["prompt"] = prompt.content if prompt else ""
            # A column of a blind comparison must not give its model away.
            if answer is not None and answer.model_id and not blind_label_for(turn.conversation_id):
                data["model"] = str(answer.model_id)
            data["turn"] = str(turn.pk)
    elif comparison_id := request.GET.get("comparison"):
        comparison = Comparison.objects.filter(pk=comparison_id, owner=user).first()
        if comparison is not None:
            column = comparison.columns.select_related("conversation").first()
            if column is not None:
                first = column.conversation.turns.filter(role=Turn.Role.USER).order_by("pk").first()
                data["prompt"] = first.content if first else ""
                if column.model_id and not comparison.labels_hidden:
                    data["model"] = str(column.model_id)
    return data


def _form_context(request: HttpRequest, data: dict[str, Any]) -> dict[str, Any]:
    models = _models()
    chosen = next((m for m in models if str(m.pk) == str(data.get("model") or "")), models[0] if models else None)
    levels = available_levels(chosen) if chosen else []
    picked = data.get("levels") or [lv for lv in levels if not lv.startswith("budget:")]
    return {
        "models": models,
        "chosen": chosen,
        "levels": [{"value": lv, "label": level_label(lv), "checked": lv in picked} for lv in levels],
        "data": data,
        "grader_kinds": GRADER_KINDS,
        "max_repeats": MAX_REPEATS,
        "repeats": data.get("repeats") or DEFAULT_REPEATS,
    }


def _grader(data: dict[str, Any]) -> dict[str, Any]:
    kind = data.get("grader", "")
    if kind in ("contains", "exact"):
        return {"kind": kind, "expected": data.get("expected", "")}
    if kind == "regex":
        return {"kind": kind, "pattern": data.get("pattern", "")}
    if kind == "number":
        return {"kind": kind, "expected": data.get("expected", ""), "tolerance": data.get("tolerance") or 0}
    if kind == "schema":
        try:
            schema = json.loads(data.get("schema") or "null")
        except ValueError as e:
            raise BadInput(f"the schema is not JSON: {e}") from None
        return {"kind": kind, "schema": schema}
    return {"kind": kind, "judge": data.get("judge", ""), "rubric": data.get("rubric", ""),
            "scale": data.get("scale") or "1-10", "judge_reasoning": data.get("judge_reasoning") == "on"}


def _inputs(text: str) -> list[dict[str, Any]]:
    """One JSON object per line: the values of the prompt's {{variables}} for one input."""
    inputs = []
    for n, entry in enumerate(text.splitlines(), 1):
        if not entry.strip():
            continue
        try:
            value = json.loads(entry)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise BadInput(f"input line {n} is not a JSON object such as {{\"city\": \"Paris\"}}")
        inputs.append(value)
    return inputs


def _create(request: HttpRequest, data: dict[str, Any]) -> Sweep:
    user = signed_in(request)
    model = next((m for m in _models() if str(m.pk) == str(data.get("model"))), None)
    if model is None:
        raise BadInput("Choose a model.")
    try:
        repeats = int(data.get("repeats") or DEFAULT_REPEATS)
    except ValueError:
        raise BadInput("repeats must be a number") from None
    source = Turn.objects.filter(pk=data.get("turn") or 0, conversation__owner=user).first()
    params = {"system": data.get("system") or None, "max_tokens": data.get("max_tokens") or None,
              "prompt_id": data.get("prompt_id") or None}
    return create_sweep(
        user, model, data.get("prompt", ""), data.get("levels") or [], _grader(data), repeats=repeats,
        inputs=_inputs(data.get("inputs", "")), params=params, source_turn=source,
    )


@require_http_methods(["GET", "POST"])
async def new_sweep(request: HttpRequest) -> HttpResponse:
    data: dict[str, Any]
    if request.method == "GET":
        data = await sync_to_async(_prefill)(request)
        data.update({k: v for k, v in request.GET.items() if k in ("model", "prompt")})
        ctx = await sync_to_async(_form_context)(request, data)
        return await sync_to_async(render)(request, "sweeps/new.html", ctx)
    data = dict(request.POST.dict())
    data["levels"] = request.POST.getlist("levels")
    try:
        sweep = await sync_to_async(_create)(request, data)
    except BadInput as e:
        ctx = await sync_to_async(_form_context)(request, data)
        ctx["error"] = str(e)
        return await sync_to_async(render)(request, "sweeps/new.html", ctx, status=400)
    await resume_if_idle(sweep.pk)  # runs on this server's loop; the page follows its progress
    return redirect(sweep)


# ---- the result --------------------------------------------------------------------------------


@require_GET
def sweep_list(request: HttpRequest) -> HttpResponse:
    sweeps = Sweep.objects.filter(owner=signed_in(request))[:200]
    return render(request, "sweeps/list.html", {"sweeps": sweeps})


def _results_context(request: HttpRequest, sweep: Sweep) -> dict[str, Any]:
    pts = points(sweep)
    series = [Series(sweep.model_label, pts)]
    other = None
    if (other_id := request.GET.get("with", "")).isdigit():
        other = Sweep.objects.filter(pk=int(other_id), owner=signed_in(request)).first()
        if other is not None and other.grader.get("kind") == sweep.grader.get("kind"):
            series.append(Series(f"{other.model_label} (sweep {other.pk})", points(other)))
        else:
            other = None
    scale = scale_of(sweep.grader)
    has_cost = any(p.cost.mean is not None for s in series for p in s.points)
    for p in pts:
        p.label = level_label(p.level)  # type: ignore[attr-defined]
    return {
        "sweep": sweep,
        "points": pts,
        "progress": progress(sweep),
        "running": sweep.status == Sweep.Status.RUNNING,
        "tokens_chart": scatter_svg(series, x="reasoning_tokens", scale=scale),
        "cost_chart": scatter_svg(series, x="cost", scale=scale) if has_cost else None,
        "other": other,
        "others": Sweep.objects.filter(owner=sweep.owner).exclude(pk=sweep.pk)[:20],
        "judge": sweep.grader.get("kind") == "judge",
        "judge_reasoning": bool(sweep.grader.get("judge_reasoning")),
        "grader_text": grader_text(sweep.grader),
    }


def grader_text(grader: dict[str, Any]) -> str:
    kind = grader.get("kind")
    if kind == "number":
        return f"the last number within ±{grader['tolerance']:g} of {grader['expected']:g} (1 pass, 0 fail)"
    if kind in ("exact", "contains"):
        return f"{'is' if kind == 'exact' else 'contains'} “{grader['expected']}” (1 pass, 0 fail)"
    if kind == "regex":
        return f"matches /{grader['pattern']}/ (1 pass, 0 fail)"
    if kind == "schema":
        return "JSON matching the schema (1 pass, 0 fail)"
    labels = ModelProfile.objects.filter(pk=grader.get("judge") or 0).values_list("label", flat=True)
    judge = labels.first() or "a judge"
    scale = "pass (1) or fail (0)" if grader.get("scale") == "pass-fail" else "a score from 1 to 10"
    return f"{judge} gives {scale} by the rubric “{grader.get('rubric', '')}”"


@require_GET
async def sweep_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sweep = await sync_to_async(_sweep_for)(request, pk)
    if sweep.status == Sweep.Status.RUNNING:
        await resume_if_idle(sweep.pk)  # a sweep whose runner died with its process goes on
    ctx = await sync_to_async(_results_context)(request, sweep)
    return await sync_to_async(render)(request, "sweeps/detail.html", ctx)


@require_GET
async def sweep_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The results section, polled while the sweep runs."""
    sweep = await sync_to_async(_sweep_for)(request, pk)
    if sweep.status == Sweep.Status.RUNNING:
        await resume_if_idle(sweep.pk)
    ctx = await sync_to_async(_results_context)(request, sweep)
    return await sync_to_async(render)(request, "sweeps/_results.html", ctx)


@require_POST
async def stop(request: HttpRequest, pk: int) -> HttpResponse:
    sweep = await sync_to_async(_sweep_for)(request, pk)
    await stop_sweep(sweep.pk)
    return redirect(sweep)


def spread(p: Any) -> dict[str, Any]:
    return {
        "reasoning_tokens": p.reasoning_tokens.as_dict(), "answer_tokens": p.answer_tokens.as_dict(),
        "seconds": p.seconds.as_dict(), "cost": p.cost.as_dict(), "reasoning_score": p.reasoning_score.as_dict(),
    }


@require_GET
def export_json(request: HttpRequest, pk: int) -> HttpResponse:
    sweep = _sweep_for(request, pk)
    pts = points(sweep)
    body = {
        "id": sweep.pk,
        "url": request.build_absolute_uri(sweep.get_absolute_url()),
        "model": sweep.model_label,
        "prompt": sweep.prompt,
        "inputs": sweep.inputs,
        "levels": sweep.levels,
        "repeats": sweep.repeats,
        "grader": sweep.grader,
        "status": sweep.status,
        "interval": "95% Student t interval over the graded repeats",
        "points": [{**p.as_json(), "pick": p.pick, "spread": spread(p)} for p in pts],
        "runs": [r.as_row() for p in pts for r in p.run_rows],
    }
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False, "indent": 1})
    response["Content-Disposition"] = f'attachment; filename="sweep-{sweep.pk}.json"'
    return response


@require_GET
def export_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The points (one row per level); `?runs=1`: one row per run."""
    sweep = _sweep_for(request, pk)
    pts = points(sweep)
    out = io.StringIO()
    writer = csv.writer(out)
    if request.GET.get("runs"):
        rows = [r.as_row() for p in pts for r in p.run_rows]
        fields = list(rows[0]) if rows else ["level"]
        writer.writerow(fields)
        writer.writerows([row.get(f) for f in fields] for row in rows)
        name = f"sweep-{sweep.pk}-runs.csv"
    else:
        extra = ("reasoning_tokens_low", "reasoning_tokens_high", "seconds_sd", "cost_sd", "pick")
        writer.writerow((*JSON_FIELDS, *extra))
        for p in pts:
            row = p.as_json()
            writer.writerow((*(row[f] for f in JSON_FIELDS), p.reasoning_tokens.low, p.reasoning_tokens.high,
                             p.seconds.sd, p.cost.sd, int(p.pick)))
        name = f"sweep-{sweep.pk}.csv"
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# ---- the thought diff ------------------------------------------------------------------------


@require_GET
def thought_diff_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Two runs' reasoning side by side (by default the first answered run of the lowest
    and of the highest level), steps aligned, with the answers' word diff below."""
    from playground.compare.diff import similarity, word_diff
    from playground.compare.thought_diff import shared_steps, thought_diff

    sweep = _sweep_for(request, pk)
    runs = [r for r in sweep.runs.select_related("turn").order_by("repeat", "pk") if r.turn is not None]
    choices = [(r.pk, f"{level_label(r.level)} #{r.repeat + 1}") for r in runs]
    by_id = {r.pk: r for r in runs}

    def chosen(name: str, default: Any) -> Any:
        value = request.GET.get(name, "")
        return by_id.get(int(value)) if value.isdigit() else default

    by_level: dict[str, Any] = {}
    for r in runs:
        by_level.setdefault(r.level, r)
    ordered = [by_level[lv] for lv in sweep.levels if lv in by_level]
    first = chosen("a", ordered[0] if ordered else None)
    second = chosen("b", ordered[-1] if len(ordered) > 1 else None)
    ctx: dict[str, Any] = {"sweep": sweep, "choices": choices, "first": first, "second": second}
    if first is not None and second is not None:
        rows = thought_diff(first.turn.reasoning, second.turn.reasoning)
        answer = word_diff(first.turn.content, second.turn.content)
        ctx.update(rows=rows, counts=shared_steps(rows), answer_pieces=answer, answer_similarity=similarity(answer),
                   first_label=f"{level_label(first.level)} #{first.repeat + 1}",
                   second_label=f"{level_label(second.level)} #{second.repeat + 1}")
    return render(request, "sweeps/thought_diff.html", ctx)
