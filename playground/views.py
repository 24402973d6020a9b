from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from playground.models import Conversation, ModelProfile, Turn
from playground.runs import start_run
from playground.turns import BadInput, branch, clean_params, mark_interrupted, start_exchange


def _conversation_for(request: HttpRequest, pk: int) -> Conversation:
    """The user's own conversation, or 404: another user's is indistinguishable from none."""
    try:
        return Conversation.objects.get(pk=pk, owner=request.user)
    except Conversation.DoesNotExist:
        raise Http404("No such conversation") from None


def _page_context(request: HttpRequest, conversation: Conversation | None) -> dict[str, object]:
    models = list(ModelProfile.objects.filter(enabled=True, provider__enabled=True).select_related("provider"))
    turns = branch(conversation) if conversation else []
    selected = (conversation.model if conversation else None) or (models[0] if models else None)
    return {
        "conversation": conversation,
        "conversations": Conversation.objects.filter(owner=request.user)[:100],
        "models": models,
        "selected_model": selected,
        "turns": turns,
        "resume": ",".join(
            f"{t.pk}:{len(t.reasoning)}:{len(t.content)}" for t in turns if t.is_streaming
        ),
    }


@require_GET
def chat(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/page.html", _page_context(request, None))


@require_GET
def conversation(request: HttpRequest, pk: int) -> HttpResponse:
    conv = _conversation_for(request, pk)
    mark_interrupted(conv)
    return render(request, "chat/page.html", _page_context(request, conv))


def _new_conversation(request: HttpRequest) -> tuple[Conversation, int]:
    try:
        model = ModelProfile.objects.select_related("provider").get(
            pk=int(request.POST.get("model") or 0), enabled=True
        )
    except (ValueError, ModelProfile.DoesNotExist):
        raise BadInput("Choose a model.") from None
    params = clean_params(request.POST.dict(), model)
    conv = Conversation.objects.create(owner=request.user, model=model)
    try:
        exchange = start_exchange(conv, request.POST.get("prompt", ""), model, params)
    except BadInput:
        conv.delete()
        raise
    return conv, exchange.assistant_turn.pk


@require_POST
async def new_conversation(request: HttpRequest) -> HttpResponse:
    try:
        conv, turn_id = await sync_to_async(_new_conversation)(request)
    except BadInput as e:
        ctx = await sync_to_async(_page_context)(request, None)
        ctx["error"] = str(e)
        return await sync_to_async(render)(request, "chat/page.html", ctx, status=400)
    try:
        await start_run(turn_id)
    except Exception:
        pass  # the turn was marked as an error with its reason; the page shows it
    return redirect("conversation", pk=conv.pk)


@require_POST
def delete_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    _conversation_for(request, pk).delete()
    return redirect("chat")


@login_not_required
@require_http_methods(["GET"])
def health(request: HttpRequest) -> HttpResponse:
    Turn.objects.exists()
    return HttpResponse("ok", content_type="text/plain")
