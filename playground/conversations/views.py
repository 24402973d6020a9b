from __future__ import annotations

import contextlib
import json
import secrets
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from playground.accounts.users import signed_in
from playground.conversations import exports, sidebar
from playground.conversations.fragments import annotate_siblings, controls_context, sent_summary, totals
from playground.conversations.replay_views import policy_from
from playground.conversations.sidebar_context import sidebar_context
from playground.conversations.tool_views import selection_from
from playground.models import ComparisonColumn, Conversation, ModelProfile, Preferences, Turn
from playground.security.secrets import REDACTED, is_public_header
from playground.streaming.launch import Edit, Question, Regeneration, launch_stored, store
from playground.turns import blind
from playground.turns.liveness import mark_interrupted
from playground.turns.services import (
    BadInput,
    Exchange,
    branch,
    clean_params,
    enabled_models,
    model_by_id,
    show_branch,
)


def _conversation_for(request: HttpRequest, pk: int) -> Conversation:
    """The user's own conversation, or 404: another user's is indistinguishable from none."""
    try:
        return Conversation.objects.select_related("model__provider").get(pk=pk, owner=signed_in(request))
    except Conversation.DoesNotExist:
        raise Http404("No such conversation") from None


def _turn_for(request: HttpRequest, pk: int) -> Turn:
    try:
        return Turn.objects.select_related("conversation", "model__provider").get(
            pk=pk, conversation__owner=signed_in(request)
        )
    except Turn.DoesNotExist:
        raise Http404("No such turn") from None


def _enabled_models() -> list[ModelProfile]:
    return list(enabled_models())


def _by_provider(models: list[ModelProfile]) -> list[tuple[str, list[ModelProfile]]]:
    """The model picker's groups, one per provider, in the order the models come."""
    groups: dict[str, list[ModelProfile]] = {}
    for model in models:
        groups.setdefault(model.provider.name, []).append(model)
    return list(groups.items())


def _last_model_used(request: HttpRequest, models: list[ModelProfile]) -> int | None:
    model_id: int | None = (
        # Not a compare column's: a blind one would name its hidden model here.
        Conversation.objects.filter(owner=signed_in(request), model__isnull=False, comparison_column__isnull=True)
        .filter(model__in=[m.pk for m in models])  # one it can still send to
        .exclude(origin="api")
        .order_by("-updated_at")
        .values_list("model_id", flat=True)
        .first()
    )
    return model_id


def _page_context(request: HttpRequest, conversation: Conversation | None) -> dict[str, object]:
    models = _enabled_models()
    turns = branch(conversation) if conversation else []
    annotate_siblings(turns)
    preferences = Preferences.of(signed_in(request))
    enabled = {m.pk: m for m in models}
    # An open conversation shows its own model: the one its last answer came from (or
    # that was last picked in it), else the last answer's on the branch on show (an
    # imported conversation has no model of its own); never one no longer enabled,
    # which the picker cannot show and the send would refuse.
    own = None
    if conversation is not None:
        answered = [t.model_id for t in reversed(turns) if t.role == Turn.Role.ASSISTANT and t.model_id]
        own = next((enabled[pk] for pk in [conversation.model_id, *answered] if pk in enabled), None)
    # A new chat starts on the model chosen in Settings, else on the last one used.
    selected = (
        own
        or enabled.get(preferences.default_model_id or 0)
        or enabled.get(_last_model_used(request, models) or 0)
        or (models[0] if models else None)
    )
    return {
        **sidebar_context(request),
        "enter_sends": preferences.enter_sends,
        "conversation": conversation,
        "models": models,
        "model_groups": _by_provider(models),
        "selected_model": selected,
        "controls": controls_context(selected, conversation.settings if conversation else {}),
        "totals": totals(conversation) if conversation else None,
        "turns": turns,
        "resume": ",".join(f"{t.pk}:{len(t.reasoning)}:{len(t.content)}" for t in turns if t.is_streaming),
    }


@require_GET
def chat(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/page.html", _page_context(request, None))


@require_GET
def conversation(request: HttpRequest, pk: int) -> HttpResponse:
    conv = _conversation_for(request, pk)
    if column := blind.hidden_column(conv.pk):
        return redirect(column.comparison)  # as a chat it would name the model before the vote
    mark_interrupted(conv)
    context = _page_context(request, conv)
    if q := request.GET.get("q", "").strip()[:200]:
        # Opened from a search result (…?q=…#t<turn>-<field>): the page marks the
        # matches (static/js/search_match.js) and the sidebar still lists the results.
        context.update(query=q, match_query=q, results=sidebar.search(signed_in(request), q))
    return render(request, "chat/page.html", context)


def _model_from(data: Any) -> ModelProfile:
    return model_by_id(data.get("model"))


def _new_conversation(request: HttpRequest) -> Exchange:
    tools = selection_from(request.POST)  # the Tools picker, checked before anything is stored
    question = Question(
        owner=signed_in(request),
        model=request.POST.get("model"),
        text=request.POST.get("prompt", ""),
        params=request.POST.dict(),
        tools=tools,  # refused with the reason for a model that takes no tools
    )
    replay = policy_from(request.POST.get("replay_policy"))  # the replay switch, kept for the next messages
    exchange = store(question)
    if tools or replay:
        conversation = exchange.assistant_turn.conversation  # the run is given its tools from it
        conversation.tools, conversation.replay_policy = tools, replay
        conversation.save(update_fields=["tools", "replay_policy"])
    return exchange


def _refused_new_chat(request: HttpRequest, message: str) -> HttpResponse:
    """A first prompt the server refused. The page's composer sent it with htmx and
    keeps the prompt, model and controls as they are: only the reason goes back, beside
    the composer. Without JavaScript the page comes back with all of them as sent."""
    if request.headers.get("HX-Request"):
        return render(request, "chat/_notice.html", {"message": message})
    ctx = _page_context(request, None)
    ctx["error"] = message
    ctx["draft"] = request.POST.get("prompt", "")
    with contextlib.suppress(BadInput):
        sent_model = _model_from(request.POST)
        ctx["selected_model"] = sent_model
        ctx["controls"] = controls_context(sent_model, request.POST.dict())
    return render(request, "chat/page.html", ctx, status=400)


@require_POST
async def new_conversation(request: HttpRequest) -> HttpResponse:
    try:
        exchange = await sync_to_async(_new_conversation)(request)
    except BadInput as e:
        return await sync_to_async(_refused_new_chat)(request, str(e))
    # A turn that cannot start is saved as an error with its reason: the page shows it.
    await launch_stored([exchange])
    conversation_url = reverse("conversation", args=[exchange.user_turn.conversation_id])
    if request.headers.get("HX-Request"):
        # A GET of the new conversation: a reload there sends nothing again.
        return HttpResponse(status=204, headers={"HX-Redirect": conversation_url})
    return redirect(conversation_url)


@require_POST
def delete_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    _conversation_for(request, pk).delete()
    return redirect("chat")


@require_POST
def rename_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    conv = _conversation_for(request, pk)
    title = " ".join(request.POST.get("title", "").split())[:200]
    if title:
        conv.title = title
        conv.save(update_fields=["title", "updated_at"])
    return redirect(conv)


@require_POST
def save_settings(request: HttpRequest, pk: int) -> HttpResponse:
    """The controls as the conversation's defaults (sent again with every prompt)."""
    conv = _conversation_for(request, pk)
    try:
        model = _model_from(request.POST)
        params = clean_params(request.POST.dict(), model)
    except BadInput as e:
        return HttpResponse(str(e), status=400, content_type="text/plain")
    conv.settings = params
    conv.model = model
    conv.save(update_fields=["settings", "model", "updated_at"])
    return HttpResponse(status=204)


@require_GET
def model_controls(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        model = enabled_models().get(pk=pk)
    except ModelProfile.DoesNotExist:
        raise Http404("No such model") from None
    current: dict[str, Any] = {}
    conv_id = None
    if raw := request.GET.get("conversation"):
        try:
            conv_id = _conversation_for(request, int(raw)).pk
        except ValueError:
            raise Http404("No such conversation") from None
        current = Conversation.objects.get(pk=conv_id).settings or {}
    return render(
        request,
        "chat/_controls.html",
        {"controls": controls_context(model, current), "conversation_id": conv_id},
    )


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """The sidebar's list: grouped by date, or the matches of a search with a snippet each."""
    q = request.GET.get("q", "").strip()[:200]
    current = None
    with contextlib.suppress(ValueError):
        current = int(request.GET.get("current") or 0) or None
    context: dict[str, Any] = {"query": q, "conversation": {"pk": current}}
    if q:
        context["results"] = sidebar.search(signed_in(request), q)
    else:
        context["groups"] = sidebar.grouped(signed_in(request))
    return render(request, "chat/_conversation_list.html", context)


@require_POST
def pin_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    conv = _conversation_for(request, pk)
    conv.pinned = request.POST.get("pinned") == "1"
    # Pinning is not activity: the conversation keeps its place among the dates.
    Conversation.objects.filter(pk=conv.pk).update(pinned=conv.pinned)
    back = request.POST.get("next", "")
    return redirect(back if back and _safe_next(request) else conv.get_absolute_url())


def _safe_next(request: HttpRequest) -> bool:
    from django.utils.http import url_has_allowed_host_and_scheme

    return url_has_allowed_host_and_scheme(request.POST.get("next"), allowed_hosts={request.get_host()})


@require_POST
def share_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    """Make (or update) the conversation's read-only link; `revoke` takes it away."""
    conv = _conversation_for(request, pk)
    if request.POST.get("revoke"):
        conv.share_token = None
    elif not conv.share_token:
        conv.share_token = secrets.token_urlsafe(24)
    conv.share_reasoning = request.POST.get("reasoning") == "1"
    Conversation.objects.filter(pk=conv.pk).update(share_token=conv.share_token, share_reasoning=conv.share_reasoning)
    return redirect(reverse("conversation", args=[conv.pk]) + "#share")


@login_not_required
@require_GET
def shared_conversation(request: HttpRequest, token: str) -> HttpResponse:
    """A shared conversation, read only, for anyone with the link: the branch on show,
    its reasoning only if the owner chose so, and nothing else of the owner's."""
    try:
        conv = Conversation.objects.get(share_token=token) if token else None
    except Conversation.DoesNotExist:
        conv = None
    if conv is None:
        raise Http404("No such link")
    turns = branch(conv)
    response = render(
        request,
        "chat/shared.html",
        # As "shared", not "conversation": the sidebar of a signed-in reader marks their own.
        {"shared": conv, "turns": turns, "readonly": True, "hide_reasoning": not conv.share_reasoning},
    )
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"  # the token must not leak through a link in the text
    return response


def _redirect_to(request: HttpRequest, conv: Conversation) -> HttpResponse:
    """htmx follows HX-Redirect; a plain form follows a 303."""
    url = conv.get_absolute_url()
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return redirect(url)


def _in_place(request: HttpRequest, conv: Conversation) -> HttpResponse:
    """An edit or a regeneration sent by htmx stays on the page: the conversation's socket
    renders the new branch in place (turn.started with `branch`) and streams its answer,
    as for a prompt from the composer, so the scroll position and the composer's draft
    stay. The empty answer clears an earlier refusal from #notice. A plain form, with
    no socket to show it, gets the conversation page."""
    if request.headers.get("HX-Request"):
        # branchStarted: a page whose socket is down loads again (static/js/branch_in_place.js).
        return HttpResponse("", headers={"HX-Trigger": "branchStarted"})
    return redirect(conv.get_absolute_url())


def _bad(request: HttpRequest, message: str) -> HttpResponse:
    if request.headers.get("HX-Request"):
        # Swapped into #notice, the hx-target of the edit form and the turn's buttons: the
        # reason itself. An out-of-band notice would be wiped by the empty rest of the answer.
        return HttpResponse(format_html('<p class="error" role="alert">{}</p>', message))
    return HttpResponse(message, status=400, content_type="text/plain")


def _regenerate(request: HttpRequest, pk: int) -> Exchange:
    turn = _turn_for(request, pk)
    if ComparisonColumn.objects.filter(conversation_id=turn.conversation_id).exists():
        # A compare column answers with its own model and settings (playground.compare.views
        # regenerates it): a model from this request would change what is compared.
        raise BadInput("This answer is in a comparison: regenerate it from its column.")
    model = request.POST.get("model") or None
    return store(Regeneration(turn, model, request.POST.dict() if model else None))


@require_POST
async def regenerate(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        exchange = await sync_to_async(_regenerate)(request, pk)
    except BadInput as e:
        return await sync_to_async(_bad)(request, str(e))
    await launch_stored([exchange])
    return _in_place(request, exchange.user_turn.conversation)


def _edit(request: HttpRequest, pk: int) -> Exchange:
    turn = _turn_for(request, pk)
    return store(Edit(turn, request.POST.get("prompt", ""), request.POST.get("model"), request.POST.dict()))


@require_POST
async def edit(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        exchange = await sync_to_async(_edit)(request, pk)
    except BadInput as e:
        return await sync_to_async(_bad)(request, str(e))
    await launch_stored([exchange])
    return _in_place(request, exchange.user_turn.conversation)


@require_POST
def switch_branch(request: HttpRequest, pk: int) -> HttpResponse:
    turn = _turn_for(request, pk)
    show_branch(turn)
    return _redirect_to(request, turn.conversation)


@require_GET
def turn_request(request: HttpRequest, pk: int) -> HttpResponse:
    """The context inspector: exactly what was sent to the provider for this turn."""
    turn = _turn_for(request, pk)
    if blind.hidden_column(turn.conversation_id):
        # The URL and body name the provider and model: nothing to show before the vote.
        return render(request, "chat/_request.html", {"turn": turn, "sent": {}, "blind": True})
    sent = turn.sent or {}
    # Whatever was recorded, only headers known to be public are ever shown.
    if isinstance(sent.get("headers"), dict):
        sent = {**sent, "headers": {k: v if is_public_header(k) else REDACTED for k, v in sent["headers"].items()}}
    body = sent.get("body")
    return render(
        request,
        "chat/_request.html",
        {
            "turn": turn,
            "sent": sent,
            "body_json": json.dumps(body, indent=2, ensure_ascii=False) if body is not None else "",
            "summary": sent_summary(turn),
        },
    )


@require_GET
def turn_raw(request: HttpRequest, pk: int) -> HttpResponse:
    """The model's output as plain text: for the raw view and the copy buttons."""
    turn = _turn_for(request, pk)
    part = request.GET.get("part")
    if part in ("reasoning", "content"):
        return HttpResponse(getattr(turn, part), content_type="text/plain; charset=utf-8")
    if column := blind.hidden_column(turn.conversation_id):
        turn.model_label = column.blind_name  # rendered, never saved
    return render(request, "chat/_raw.html", {"turn": turn})


def _exportable(request: HttpRequest, pk: int) -> Conversation:
    """An export names the model on every turn: a blind column has none before the vote."""
    conv = _conversation_for(request, pk)
    if blind.hidden_column(conv.pk):
        raise PermissionDenied("Vote or reveal the models first")
    return conv


@require_GET
def export_markdown(request: HttpRequest, pk: int) -> HttpResponse:
    conv = _exportable(request, pk)
    response = HttpResponse(exports.to_markdown(conv), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="conversation-{conv.pk}.md"'
    return response


@require_GET
def export_json(request: HttpRequest, pk: int) -> HttpResponse:
    conv = _exportable(request, pk)
    response = JsonResponse(exports.to_json(conv), json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="conversation-{conv.pk}.json"'
    return response


@require_POST
def import_conversation(request: HttpRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise BadInput("Choose a JSON file exported from this playground.")
        if upload.size and upload.size > exports.MAX_BYTES:
            raise BadInput("Import refused: the file is larger than 10 MB.")
        conv = exports.import_conversation(request.user, upload.read(exports.MAX_BYTES + 1))
    except BadInput as e:
        ctx = _page_context(request, None)
        ctx["error"] = str(e)
        return render(request, "chat/page.html", ctx, status=400)
    return redirect(reverse("conversation", args=[conv.pk]))


@login_not_required
@require_http_methods(["GET"])
def health(request: HttpRequest) -> HttpResponse:
    Turn.objects.exists()
    return HttpResponse("ok", content_type="text/plain")
