"""Gateway requests as playground conversations, and the one place they start.

`store` writes the request as a conversation in the owner's API folder
(`Conversation.origin == "api"`): the earlier messages as turns, then the prompt
and an empty streaming answer through `start_exchange`, like the chat page.
`launch` starts its run. A caller who turned `store_api_requests` off still gets
a run (runs are stored turns), and `forget` deletes the conversation once the run
has saved its end.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from playground.api.requests import CompletionRequest
from playground.conversations.services import start_exchange
from playground.models import Conversation, Preferences, Turn
from playground.streaming.run import TurnRun, start_run

API_ORIGIN = "api"


def store(user: Any, request: CompletionRequest) -> tuple[Conversation, Turn, bool]:
    """The conversation, its streaming answer turn, and whether the owner keeps it."""
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
        exchange = start_exchange(conversation, request.prompt, model, request.params, parent=parent)
    return conversation, exchange.assistant_turn, keep


async def launch(turn_id: int) -> TurnRun:
    """Start the run of a stored answer turn: the one start path of the gateway.

    Raises when the run cannot start; the turn then holds the error."""
    return await start_run(turn_id)


def forget(conversation_id: int) -> None:
    Conversation.objects.filter(pk=conversation_id, origin=API_ORIGIN).delete()
