"""Gateway requests as playground conversations, started by the one start path.

`store` writes the request's earlier messages as a conversation in the owner's
API folder (`Conversation.origin == "api"`); `launch_request` hands the prompt to
`playground.streaming.launch` (validation, the exchange, the run, a failed turn
ended cleanly), like every other entry. An owner who turned `store_api_requests`
off still gets a run (runs are stored turns); `forget` deletes the conversation
once the run has saved its end.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from playground.api.requests import CompletionRequest
from playground.models import Conversation, Preferences, Turn
from playground.streaming.launch import Launched, Question, launch

API_ORIGIN = "api"


def store(user: Any, request: CompletionRequest) -> tuple[Conversation, bool]:
    """The request's conversation with its earlier turns, and whether the owner keeps it."""
    model = request.model
    keep = Preferences.of(user).store_api_requests
    with transaction.atomic():
        conversation = Conversation.objects.create(
            owner=user, model=model, settings=request.params, origin=API_ORIGIN,
            title=(request.prompt.strip().splitlines() or ["API request"])[0][:80],
        )  # fmt: skip
        parent: Turn | None = None
        for turn in request.history:
            answer = turn.role == Turn.Role.ASSISTANT
            parent = Turn.objects.create(
                conversation=conversation, parent=parent, role=turn.role, content=turn.content,
                reasoning=turn.reasoning,
                # Marked as this model's own, so the context builder sends the
                # reasoning back exactly when this model needs it (and never else).
                model=model if answer else None, model_label=model.label if answer else "",
                source=model.source if answer else "",
            )  # fmt: skip
        if parent is not None:
            conversation.leaf = parent
            conversation.save(update_fields=["leaf"])
    return conversation, keep


async def launch_request(
    user: Any, conversation: Conversation, request: CompletionRequest, *, follow: bool
) -> Launched:
    """Start the answer to the request's prompt at the end of `conversation`."""
    prompt = Question(
        owner=user, model=request.model, text=request.prompt, params=request.raw, conversation=conversation
    )
    return await launch(prompt, follow=follow)


def forget(conversation_id: int) -> None:
    Conversation.objects.filter(pk=conversation_id, origin=API_ORIGIN).delete()
