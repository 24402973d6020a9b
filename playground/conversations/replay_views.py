"""The replay policy in the chat page: which stored reasoning goes back to the model
(reasoning.context), switched for the next message in one click, and a turn sent
again with another policy as a new branch, so the two answers can be compared."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from playground.accounts.users import signed_in
from playground.models import Conversation, Turn
from playground.streaming.launch import Regeneration, launch_stored, store
from playground.turns import blind
from playground.turns.services import BadInput, Exchange
from reasoning.request import REPLAY_POLICIES


def policy_from(raw: str | None) -> str:
    """A policy a form sent: one of REPLAY_POLICIES, or "" for the model's own."""
    policy = (raw or "").strip()
    if policy and policy not in REPLAY_POLICIES:
        raise BadInput(f"The replay policy is one of {', '.join(REPLAY_POLICIES)}, not {policy[:20]!r}.")
    return policy


@require_POST
def set_replay(request: HttpRequest, pk: int) -> HttpResponse:
    """The conversation's policy for its next messages ("" = the model's default)."""
    conversation = get_object_or_404(Conversation, pk=pk, owner=signed_in(request))
    try:
        conversation.replay_policy = policy_from(request.POST.get("replay_policy"))
    except BadInput as e:
        return HttpResponse(str(e), status=400, content_type="text/plain")
    conversation.save(update_fields=["replay_policy", "updated_at"])
    return render(request, "chat/_replay_switch.html", {"conversation": conversation,
                                                        "selected_model": conversation.model})


def _resend(request: HttpRequest, pk: int) -> Exchange:
    turn = get_object_or_404(Turn.objects.select_related("conversation", "model__provider"), pk=pk,
                             conversation__owner=signed_in(request), role=Turn.Role.ASSISTANT)
    if blind.hidden_column(turn.conversation_id):
        raise BadInput("This answer belongs to a blind comparison: resend it after the vote.")
    policy = policy_from(request.POST.get("replay_policy"))
    if not policy:
        raise BadInput("Choose the policy to resend with.")
    if turn.model is None:
        raise BadInput("The model of this turn no longer exists.")
    # The same model and controls, the other policy: a sibling of this answer.
    return store(Regeneration(turn, turn.model, {**(turn.params or {}), "replay_policy": policy}))


@require_POST
async def resend_with_policy(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        exchange = await sync_to_async(_resend)(request, pk)
    except BadInput as e:
        return HttpResponse(str(e), status=400, content_type="text/plain")
    await launch_stored([exchange])
    url = exchange.user_turn.conversation.get_absolute_url()
    return HttpResponse(status=204, headers={"HX-Redirect": url})
