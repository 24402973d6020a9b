"""Side-by-side comparisons: one prompt, 2–6 columns streaming at once.

Each column is an ordinary Conversation of the owner (so it keeps its own
history, without reasoning in its context, and can be continued at /c/<id>/),
linked to the Comparison by a ComparisonColumn. Sending a prompt stores one
exchange per column and starts one run per assistant turn; the page has one
socket per column (compare_consumer.ComparisonColumnConsumer) that receives
that column's frames through its conversation group. A column that fails
ends its own turn with its error; the others are not touched.

In a blind comparison the columns are shuffled and every label the page or a
socket renders is "Model A/B/…" until the owner votes or reveals.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from playground.compare import charts, leaderboard
from playground.conversations.services import (
    BadInput,
    branch,
    check_prompt,
    check_run_limits,
    clean_params,
    mark_interrupted,
    start_exchange,
)
from playground.models import (
    COLUMN_LETTERS,
    Comparison,
    ComparisonColumn,
    Conversation,
    ModelProfile,
    Turn,
    Vote,
)
from playground.streaming.run import start_run, stop_run
from reasoning.request import EFFORT_LEVELS

MIN_COLUMNS, MAX_COLUMNS = 2, len(COLUMN_LETTERS)
# The per-column controls of the setup form; "system" is shared by all columns.
CONTROLS = ("thinking", "effort", "budget_tokens", "temperature", "max_tokens")


# ---- names -------------------------------------------------------------------------------


def settings_summary(params: dict[str, Any]) -> str:
    """The controls that change how a model thinks, in a few words."""
    parts = []
    if params.get("thinking") in ("on", "off"):
        parts.append(f"thinking {params['thinking']}")
    if params.get("effort"):
        parts.append(f"effort {params['effort']}")
    if params.get("budget_tokens") is not None:
        parts.append(f"budget {params['budget_tokens']:,}")
    if params.get("temperature") is not None:
        parts.append(f"T {params['temperature']:g}")
    if params.get("max_tokens") is not None:
        parts.append(f"max {params['max_tokens']:,}")
    return " · ".join(parts)


def entrant_name(model: ModelProfile, params: dict[str, Any]) -> str:
    """What the leaderboard ranks: one model at one thinking setting.

    Temperature and max tokens are left out so they do not split a model's votes."""
    ranked: dict[str, Any] = {k: params[k] for k in ("thinking", "effort", "budget_tokens") if k in params}
    summary = settings_summary(ranked)
    return f"{model.label} · {summary}" if summary else model.label


def blind_label_for(conversation_id: int) -> str:
    """ "Model B" while the column's comparison is blind and unrevealed, else ""."""
    column = ComparisonColumn.objects.filter(conversation_id=conversation_id).select_related("comparison").first()
    if column is None or not column.comparison.labels_hidden:
        return ""
    return column.blind_name


def disguise(turns: Sequence[Turn], blind_label: str) -> None:
    """Make the shared turn partial show "Model B" instead of the model, and not
    the controls either (efforts can give a model away). In memory only: these
    instances are rendered and dropped, never saved."""
    if not blind_label:
        return
    for turn in turns:
        if turn.role == Turn.Role.ASSISTANT:
            turn.model_label = blind_label
            turn.params = {}


# ---- creating and sending ------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    group: str
    user_turn: int
    turn: int


def parse_columns(data: dict[str, Any]) -> list[tuple[ModelProfile, dict[str, Any]]]:
    """The columns of the setup form: `col<i>-model` and `col<i>-<control>`, i = 0…5.

    A slot with no model is no column. With `same_settings`, column 0's controls
    apply to every column."""
    models = {
        m.pk: m for m in ModelProfile.objects.filter(enabled=True, provider__enabled=True).select_related("provider")
    }
    same = data.get("same_settings") in ("on", "1", "true")
    columns: list[tuple[ModelProfile, dict[str, Any]]] = []
    for i in range(MAX_COLUMNS):
        raw_model = data.get(f"col{i}-model")
        if not raw_model:
            continue
        try:
            model = models[int(raw_model)]
        except (ValueError, KeyError):
            raise BadInput(f"Column {i + 1}: choose an available model.") from None
        source = 0 if same else i
        raw = {name: data.get(f"col{source}-{name}") for name in CONTROLS}
        raw["system"] = data.get("system")
        try:
            params = clean_params(raw, model)
        except BadInput as e:
            raise BadInput(f"Column {i + 1} ({model.label}): {e}") from None
        columns.append((model, params))
    if not MIN_COLUMNS <= len(columns) <= MAX_COLUMNS:
        raise BadInput(f"Choose between {MIN_COLUMNS} and {MAX_COLUMNS} columns (a model for each).")
    return columns


def create_comparison(owner: Any, data: dict[str, Any]) -> tuple[Comparison, list[Started]]:
    columns = parse_columns(data)
    prompt = str(data.get("prompt", "")).strip()
    if not prompt:
        raise BadInput("The prompt is empty.")
    blind = data.get("blind") in ("on", "1", "true")
    if blind:
        # The order must not give the models away.
        random.SystemRandom().shuffle(columns)
    title = prompt.splitlines()[0][:80]
    with transaction.atomic():
        comparison = Comparison.objects.create(
            owner=owner, title=title, blind=blind, same_settings=data.get("same_settings") in ("on", "1", "true")
        )
        for position, (model, params) in enumerate(columns):
            conversation = Conversation.objects.create(
                owner=owner, model=model, settings=params,
                title=f"{title[:60]} · compare {COLUMN_LETTERS[position]}",
            )  # fmt: skip
            ComparisonColumn.objects.create(
                comparison=comparison, conversation=conversation, position=position,
                model=model, params=params, entrant=entrant_name(model, params),
            )  # fmt: skip
        started = send_to_columns(comparison, prompt)
    return comparison, started


def send_to_columns(comparison: Comparison, prompt: str) -> list[Started]:
    """One new exchange per column, each continuing that column's own branch."""
    prompt = check_prompt(prompt)
    check_run_limits(comparison.owner, new_runs=comparison.columns.count())
    started = []
    with transaction.atomic():
        for column in comparison.columns.select_related("conversation", "model__provider"):
            if column.model is None:
                raise BadInput(f"The model of column {column.letter} no longer exists.")
            mark_interrupted(column.conversation)  # a turn a dead process left "streaming" does not block
            if column.conversation.turns.filter(status=Turn.Status.STREAMING).exists():
                raise BadInput(f"Column {column.letter} is still answering; wait or stop it first.")
            exchange = start_exchange(column.conversation, prompt, column.model, column.params)
            started.append(Started(column.conversation.group_name, exchange.user_turn.pk, exchange.assistant_turn.pk))
    return started


async def launch(started: Sequence[Started]) -> None:
    """Announce every column's new exchange, then start the runs.

    All announcements go first so every column shows its turn before any
    frames arrive; a run that cannot start ends its own turn only."""
    layer = get_channel_layer()
    for s in started:
        await layer.group_send(s.group, {"type": "turn.started", "user_turn": s.user_turn, "turn": s.turn})
    for s in started:
        try:
            await start_run(s.turn)
        except Exception:
            await layer.group_send(s.group, {"type": "turn.done", "turn": s.turn})


# ---- reading a comparison ---------------------------------------------------------------------


@dataclass
class ColumnMetrics:
    letter: str
    label: str
    status: str
    first_reasoning_ms: int | None
    first_content_ms: int | None
    thinking_ms: int | None
    duration_ms: int | None
    reasoning_tokens: int | None
    answer_tokens: int | None
    tokens_per_second: float | None
    cost: Decimal | None

    @classmethod
    def of(cls, letter: str, label: str, turn: Turn | None) -> ColumnMetrics:
        if turn is None:
            return cls(letter, label, "", None, None, None, None, None, None, None, None)
        starts = [t for t in (turn.first_reasoning_ms, turn.first_content_ms) if t is not None]
        tps = None
        if turn.completion_tokens and turn.duration_ms is not None and starts:
            seconds = (turn.duration_ms - min(starts)) / 1000
            tps = turn.completion_tokens / seconds if seconds > 0 else None
        return cls(
            letter, label, turn.status, turn.first_reasoning_ms, turn.first_content_ms,
            turn.thinking_ms, turn.duration_ms, turn.reasoning_tokens, turn.answer_tokens, tps, turn.cost,
        )  # fmt: skip

    def lane(self) -> charts.Lane:
        note = {"error": "error", "stopped": "stopped", "interrupted": "interrupted"}.get(self.status, "")
        label = f"{self.letter} · {self.label}"
        return charts.Lane(
            label if len(label) <= 22 else label[:21] + "…",
            self.first_reasoning_ms, self.thinking_ms, self.first_content_ms,
            None if self.status == "streaming" else self.duration_ms, note,
        )  # fmt: skip


@dataclass
class ColumnView:
    column: ComparisonColumn
    label: str  # what the page shows: the model's label, or "Model B"
    summary: str
    turns: list[Turn]
    resume: str

    @property
    def assistant_turns(self) -> list[Turn]:
        return [t for t in self.turns if t.role == Turn.Role.ASSISTANT]

    @property
    def streaming(self) -> bool:
        return any(t.is_streaming for t in self.turns)


def column_views(comparison: Comparison) -> list[ColumnView]:
    hidden = comparison.labels_hidden
    views = []
    for column in comparison.columns.select_related("conversation", "model"):
        turns = branch(column.conversation)
        disguise(turns, column.blind_name if hidden else "")
        label = column.blind_name if hidden else (column.model.label if column.model else column.entrant)
        views.append(ColumnView(
            column=column,
            label=label,
            summary="" if hidden else settings_summary(column.params),
            turns=turns,
            resume=",".join(f"{t.pk}:{len(t.reasoning)}:{len(t.content)}" for t in turns if t.is_streaming),
        ))  # fmt: skip
    return views


def rounds(views: Sequence[ColumnView]) -> int:
    return max((len(v.assistant_turns) for v in views), default=0)


def metrics_context(
    comparison: Comparison, views: Sequence[ColumnView] | None = None, round_no: int | None = None
) -> dict[str, Any]:
    """The metrics, charts and vote of one round (the n-th prompt), the latest by default."""
    views = views if views is not None else column_views(comparison)
    latest_round = rounds(views)
    n = round_no if round_no and 1 <= round_no <= latest_round else latest_round
    turns = [v.assistant_turns[n - 1] if len(v.assistant_turns) >= n > 0 else None for v in views]
    metrics = [ColumnMetrics.of(v.column.letter, v.label, t) for v, t in zip(views, turns, strict=True)]
    in_progress = any(m.status == "streaming" for m in metrics)
    vote = comparison.votes.filter(round=n).first() if n else None
    ctx: dict[str, Any] = {
        "comparison": comparison,
        "round": n,
        "rounds": range(1, latest_round + 1),
        "metrics": metrics,
        "in_progress": in_progress,
        "vote": vote,
        "vote_winner": next((v.label for v in views if vote and vote.winner_id == v.column.pk), ""),
        "can_vote": n > 0 and not in_progress and vote is None,
        "columns": views,
        "two_columns": len(views) == 2,
    }
    if n:
        ctx["timeline"] = charts.timeline_svg([m.lane() for m in metrics])
        panels: list[tuple[str, list[list[tuple[float | None, str]]], str]] = [
            ("Time to first answer token (s)", [[(_s(m.first_content_ms), "bar")] for m in metrics], "{:.2f}"),
            ("Total time (s)", [[(_s(m.duration_ms), "bar")] for m in metrics], "{:.2f}"),
            ("Tokens: reasoning + answer", [
                [(m.reasoning_tokens, "thinking"), (m.answer_tokens, "answering")] for m in metrics
            ], "{:,.0f}"),
            ("Output tokens per second", [[(m.tokens_per_second, "bar")] for m in metrics], "{:.0f}"),
            ("Cost (USD)", [[(float(m.cost) if m.cost is not None else None, "bar")] for m in metrics], "${:.4f}"),
        ]  # fmt: skip
        # A measure no column reported (cost without prices) gets no chart, only "—" in the table.
        ctx["charts"] = [
            charts.bars_svg(title, [charts.Bar(m.letter, parts) for m, parts in zip(metrics, rows, strict=True)],
                            fmt=pattern.format)
            for title, rows, pattern in panels
            if any(value is not None for parts in rows for value, _ in parts)
        ]  # fmt: skip
    return ctx


def _s(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


# ---- fragments for the column sockets -------------------------------------------------------


def render_column_exchange(conversation_id: int, user_turn_id: int, turn_id: int) -> str:
    """The new exchange, appended to this column's own list of turns."""
    turns = Turn.objects.select_related("model").in_bulk([user_turn_id, turn_id])
    disguise(list(turns.values()), blind_label_for(conversation_id))
    inner = "".join(render_to_string("chat/_turn.html", {"turn": turns[pk]}) for pk in (user_turn_id, turn_id))
    return f'<div hx-swap-oob="beforeend:#turns-{conversation_id}">{inner}</div>'


def render_column_done(conversation_id: int, turn_id: int) -> str:
    """The finished turn (markdown rendered once) and the refreshed metrics panel."""
    turn = Turn.objects.select_related("model").get(pk=turn_id)
    disguise([turn], blind_label_for(conversation_id))
    html = render_to_string("chat/_turn.html", {"turn": turn, "oob": "outerHTML"})
    column = ComparisonColumn.objects.filter(conversation_id=conversation_id).select_related("comparison").first()
    if column is not None:
        ctx = metrics_context(column.comparison)
        html += render_to_string("compare/_metrics.html", {**ctx, "oob": True})
    return html


# ---- views -------------------------------------------------------------------------------------


def _comparison_for(request: HttpRequest, pk: int) -> Comparison:
    try:
        return Comparison.objects.get(pk=pk, owner=request.user)
    except Comparison.DoesNotExist:
        raise Http404("No such comparison") from None


def _form_context(request: HttpRequest, data: dict[str, Any] | None = None) -> dict[str, Any]:
    models = list(ModelProfile.objects.filter(enabled=True, provider__enabled=True).select_related("provider"))
    data = data or {}
    slots = []
    for i in range(MAX_COLUMNS):
        if data:
            chosen = data.get(f"col{i}-model") or ""
        else:  # a first visit: two columns, different models where there are several
            chosen = str(models[i % len(models)].pk) if models and i < MIN_COLUMNS else ""
        slots.append({
            "index": i,
            "letter": COLUMN_LETTERS[i],
            "model": chosen,
            "values": {name: data.get(f"col{i}-{name}", "") for name in CONTROLS},
        })  # fmt: skip
    return {
        "models": models,
        "slots": slots,
        "efforts": EFFORT_LEVELS,
        "data": data,
    }


@require_GET
def comparison_list(request: HttpRequest) -> HttpResponse:
    comparisons = Comparison.objects.filter(owner=request.user).prefetch_related("columns")[:200]
    return render(request, "compare/list.html", {"comparisons": comparisons})


@require_http_methods(["GET", "POST"])
async def new_comparison(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        ctx = await sync_to_async(_form_context)(request)
        return await sync_to_async(render)(request, "compare/new.html", ctx)
    data = request.POST.dict()
    user = await request.auser()
    try:
        comparison, started = await sync_to_async(create_comparison)(user, data)
    except BadInput as e:
        ctx = await sync_to_async(_form_context)(request, data)
        ctx["error"] = str(e)
        return await sync_to_async(render)(request, "compare/new.html", ctx, status=400)
    await launch(started)
    return redirect("compare_detail", pk=comparison.pk)


@require_GET
def comparison_detail(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = _comparison_for(request, pk)
    # Turns left streaming by a dead process are shown as interrupted, as in a chat.
    for conversation in Conversation.objects.filter(comparison_column__comparison=comparison):
        mark_interrupted(conversation)
    views = column_views(comparison)
    ctx = metrics_context(comparison, views, _round_param(request))
    ctx["streaming"] = any(v.streaming for v in views)
    return render(request, "compare/detail.html", ctx)


@require_GET
def comparison_metrics(request: HttpRequest, pk: int) -> HttpResponse:
    ctx = metrics_context(_comparison_for(request, pk), round_no=_round_param(request))
    return render(request, "compare/_metrics.html", ctx)


def _round_param(request: HttpRequest) -> int | None:
    try:
        return int(request.GET.get("round", ""))
    except ValueError:
        return None


@require_POST
async def send_prompt(request: HttpRequest, pk: int) -> HttpResponse:
    """A follow-up to every column; the columns' sockets show it."""
    try:
        started = await sync_to_async(_send)(request, pk)
    except BadInput as e:
        return HttpResponse(render_to_string("compare/_notice.html", {"message": str(e)}))
    await launch(started)
    if request.headers.get("HX-Request"):
        # The sockets show the new turns; the form clears itself on this event.
        return HttpResponse(
            '<div hx-swap-oob="innerHTML:#compare-notice"></div>', headers={"HX-Trigger": "compareSent"}
        )
    return redirect("compare_detail", pk=pk)


def _send(request: HttpRequest, pk: int) -> list[Started]:
    comparison = _comparison_for(request, pk)
    return send_to_columns(comparison, request.POST.get("prompt", ""))


@require_POST
async def stop_all(request: HttpRequest, pk: int) -> HttpResponse:
    turn_ids = await sync_to_async(_streaming_turns)(request, pk)
    for turn_id in turn_ids:
        await stop_run(turn_id)
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204)
    return redirect("compare_detail", pk=pk)


def _streaming_turns(request: HttpRequest, pk: int) -> list[int]:
    comparison = _comparison_for(request, pk)
    return list(
        Turn.objects.filter(
            conversation__comparison_column__comparison=comparison, status=Turn.Status.STREAMING
        ).values_list("pk", flat=True)
    )


@require_POST
def vote(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = _comparison_for(request, pk)
    views = column_views(comparison)
    latest_round = rounds(views)
    try:
        n = int(request.POST.get("round") or latest_round)
    except ValueError:
        n = 0
    if not 1 <= n <= latest_round:
        return HttpResponse("No such round.", status=400)
    choice = request.POST.get("choice", "")
    if any(len(v.assistant_turns) >= n and v.assistant_turns[n - 1].is_streaming for v in views):
        return HttpResponse("Wait until every column has answered.", status=409)
    winner = None
    if choice in (Vote.Outcome.TIE, Vote.Outcome.ALL_BAD):
        outcome = choice
    else:
        outcome = Vote.Outcome.BEST
        winner = next((v.column for v in views if v.column.letter == choice), None)
        if winner is None:
            return HttpResponse("Unknown choice.", status=400)
    try:
        with transaction.atomic():
            Vote.objects.create(
                comparison=comparison, round=n, outcome=outcome, winner=winner, blind=comparison.labels_hidden
            )
    except IntegrityError:
        return HttpResponse("This round already has a vote.", status=409)
    if comparison.revealed_at is None:
        comparison.revealed_at = timezone.now()
        comparison.save(update_fields=["revealed_at"])
    return _back_to(request, comparison)


def _back_to(request: HttpRequest, comparison: Comparison) -> HttpResponse:
    """Reload the comparison page: after a vote every label on it changes."""
    if request.headers.get("HX-Request"):
        return HttpResponse(headers={"HX-Redirect": comparison.get_absolute_url()})
    return redirect(comparison)


@require_POST
def reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """Show the labels without voting: later votes on this comparison are not blind."""
    comparison = _comparison_for(request, pk)
    if comparison.revealed_at is None:
        comparison.revealed_at = timezone.now()
        comparison.save(update_fields=["revealed_at"])
    return redirect("compare_detail", pk=pk)


@require_POST
def delete_comparison(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = _comparison_for(request, pk)
    with transaction.atomic():
        Conversation.objects.filter(comparison_column__comparison=comparison).delete()
        comparison.delete()
    return redirect("compare_list")


@require_GET
def leaderboard_page(request: HttpRequest) -> HttpResponse:
    votes = Vote.objects.all()
    scope = request.GET.get("scope", "all")
    if scope == "mine":
        votes = votes.filter(comparison__owner=request.user)
    which = request.GET.get("votes", "all")
    if which == "blind":
        votes = votes.filter(blind=True)
    table = leaderboard.standings(leaderboard.games_from_votes(votes))
    return render(request, "compare/leaderboard.html", {
        "standings": table,
        "vote_count": votes.count(),
        "scope": scope,
        "which": which,
    })  # fmt: skip
