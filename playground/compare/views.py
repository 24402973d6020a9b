"""The comparison screens: set up, show, send a follow-up, stop, vote, reveal,
delete, and the leaderboard."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from playground.accounts.users import signed_in
from playground.compare import leaderboard
from playground.compare.metrics import column_views, metrics_context, rounds
from playground.compare.services import (
    CONTROLS,
    MAX_COLUMNS,
    MIN_COLUMNS,
    check_column_regeneration,
    column_of,
    create_comparison,
    in_columns_words,
    send_to_columns,
    voted_rounds,
)
from playground.models import (
    COLUMN_LETTERS,
    Comparison,
    Conversation,
    Turn,
    Vote,
)
from playground.streaming.launch import Regeneration, launch_stored, store
from playground.streaming.run import stop_run
from playground.turns.liveness import mark_interrupted
from playground.turns.services import BadInput, Exchange, enabled_models
from reasoning.request import EFFORT_LEVELS

# Refits on resampled votes behind each rating's interval (LMArena's notebooks use 100);
# about 1 s for 500 votes among 12 entrants, milliseconds for a few dozen votes.
LEADERBOARD_BOOTSTRAP = 100


def _comparison_for(request: HttpRequest, pk: int) -> Comparison:
    try:
        return Comparison.objects.get(pk=pk, owner=signed_in(request))
    except Comparison.DoesNotExist:
        raise Http404("No such comparison") from None


def _form_context(request: HttpRequest, data: dict[str, Any] | None = None) -> dict[str, Any]:
    models = list(enabled_models())
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
            "tools": data.get(f"col{i}-tools", ""),
        })
    return {
        "models": models,
        "slots": slots,
        "efforts": EFFORT_LEVELS,
        "data": data,
    }


@require_GET
def comparison_list(request: HttpRequest) -> HttpResponse:
    comparisons = Comparison.objects.filter(owner=signed_in(request)).prefetch_related("columns")[:200]
    return render(request, "compare/list.html", {"comparisons": comparisons})


@require_http_methods(["GET", "POST"])
async def new_comparison(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        ctx = await sync_to_async(_form_context)(request)
        if request.GET.get("blind") == "1":  # "New battle" after a blind vote
            ctx["data"] = {"blind": True}
        return await sync_to_async(render)(request, "compare/new.html", ctx)
    data = request.POST.dict()
    user = await request.auser()
    try:
        comparison, started = await sync_to_async(create_comparison)(user, data)
    except BadInput as e:
        ctx = await sync_to_async(_form_context)(request, data)
        ctx["error"] = str(e)
        return await sync_to_async(render)(request, "compare/new.html", ctx, status=400)
    # Each run starts with its column's turn announced; one that cannot start ends its own turn only.
    await launch_stored(started)
    return redirect("compare_detail", pk=comparison.pk)


@require_GET
def comparison_detail(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = _comparison_for(request, pk)
    # Turns left streaming by a dead process are shown as interrupted, as in a chat.
    for conversation in Conversation.objects.filter(comparison_column__comparison=comparison):
        mark_interrupted(conversation)
    views = column_views(comparison)
    voted = voted_rounds(comparison)
    for v in views:
        answers = v.assistant_turns
        if answers and len(answers) in voted:
            answers[-1].voted_on = True  # type: ignore[attr-defined]  # its round has a vote: no regenerate (services.check_column_regeneration)
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
    await launch_stored(started)
    if request.headers.get("HX-Request"):
        # The sockets show the new turns; the form clears itself on this event.
        return HttpResponse(
            '<div hx-swap-oob="innerHTML:#compare-notice"></div>', headers={"HX-Trigger": "compareSent"}
        )
    return redirect("compare_detail", pk=pk)


def _send(request: HttpRequest, pk: int) -> list[Exchange]:
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


RANKINGS = {
    "pool": "Pool battles: contenders drawn at random from the arena's pool",
    "hand": "Hand-set-up comparisons: match-ups the voters chose themselves",
}


@require_GET
def leaderboard_page(request: HttpRequest) -> HttpResponse:
    votes = Vote.objects.all()
    scope = request.GET.get("scope", "all")
    if scope == "mine":
        votes = votes.filter(comparison__owner=signed_in(request))
    which = request.GET.get("votes", "all")
    if which == "blind":
        votes = votes.filter(blind=True)
    # Pool battles and hand-set-up comparisons are ranked apart: a match-up a voter
    # chose is not a random draw, so mixing them would bias both.
    ranking = request.GET.get("ranking", "")
    if ranking not in RANKINGS:
        ranking = "pool" if votes.filter(comparison__battle__isnull=False).exists() else "hand"
    votes = votes.filter(comparison__battle__isnull=ranking == "hand")
    games = leaderboard.games_from_votes(votes, style=True)
    board = leaderboard.leaderboard(games, bootstrap=LEADERBOARD_BOOTSTRAP)
    styled = leaderboard.style_board(games, bootstrap=LEADERBOARD_BOOTSTRAP // 2)
    rows = [{"s": s, "style": styled.ratings.get(s.entrant)} for s in board.standings]
    return render(request, "compare/leaderboard.html", {
        "board": board,
        "min_votes": leaderboard.MIN_VOTES_FOR_INTERVALS,
        "standings": board.standings,
        "rows": rows,
        "styled": styled,
        "vote_count": votes.count(),
        "scope": scope,
        "which": which,
        "ranking": ranking,
        "rankings": RANKINGS,
    })


def _regenerate_in_column(request: HttpRequest, pk: int) -> Exchange:
    try:
        turn = Turn.objects.select_related("conversation", "model__provider").get(
            pk=pk, conversation__owner=signed_in(request)
        )
    except Turn.DoesNotExist:
        raise Http404("No such turn") from None
    column = column_of(turn.conversation_id)
    if column is None:
        raise BadInput("This answer is not in a comparison: regenerate it from its conversation.")
    # The column's own model and settings, whatever the request says: another model
    # would change what is compared (and show its name).
    try:
        check_column_regeneration(column, turn)
        return store(Regeneration(turn))
    except BadInput as e:
        raise BadInput(in_columns_words(column, turn, str(e))) from None


@require_POST
async def regenerate_answer(request: HttpRequest, pk: int) -> HttpResponse:
    """A column's latest answer again, streaming in place over the column's socket; the
    reply goes to #compare-notice (empty, or the reason it was refused)."""
    try:
        exchange = await sync_to_async(_regenerate_in_column)(request, pk)
    except BadInput as e:
        return HttpResponse(format_html('<p class="error" role="alert">{}</p>', str(e)))
    await launch_stored([exchange])
    return HttpResponse("")
