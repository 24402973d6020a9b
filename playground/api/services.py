"""Gateway requests as playground conversations, started by the one start path.

`store` writes the request's earlier messages as a conversation in the owner's
API folder (`Conversation.origin == "api"`); `store_exchange` stores it with the
prompt's exchange, as `playground.streaming.launch.store` does for every entry, in
one transaction; the view starts it with `launch_stored` (the run, a failed turn
ended cleanly). An owner who turned `store_api_requests`
off still gets a run (runs are stored turns); `forget` deletes the conversation
once the run has saved its end.

A request with tools, or with tool calls and results in its messages, is stored the
same way (its prompt the last user message) and sent as its messages say
(`tool_request`): the steps after the last user message are in the turn's `sent`.
The run makes one model call; tool calls end the turn ("tool_calls"), for the caller
to run them and send the results back.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db import transaction

from playground import statements
from playground.api.errors import bad_parameter
from playground.api.requests import CompletionRequest
from playground.models import Conversation, Preferences, Turn
from playground.security.secrets import Scrubber
from playground.streaming.launch import Question
from playground.streaming.launch import store as store_start
from playground.turns.errors import TurnError
from playground.turns.services import Exchange, request_for, request_record
from reasoning.adapters.selection import adapter_for
from reasoning.context import ReplayRefused
from reasoning.request import ChatRequest

API_ORIGIN = "api"
# Conversation.objects.create, its INSERT compiled once (no signal is connected to conversations).
_new_conversation = statements.Insert(Conversation)


def store(user: Any, request: CompletionRequest) -> tuple[Conversation, list[Turn], bool]:
    """The request's conversation, its earlier turns (its branch, oldest first), and
    whether the owner keeps it."""
    model = request.model
    keep = Preferences.of(user).store_api_requests
    with transaction.atomic(savepoint=False):  # inside store_exchange's transaction, no savepoint
        conversation = _new_conversation(
            owner=user, model=model, settings=request.params, origin=API_ORIGIN,
            title=(request.prompt.strip().splitlines() or ["API request"])[0][:80],
        )
        parent: Turn | None = None
        turns: list[Turn] = []
        for turn in request.history:
            answer = turn.role == Turn.Role.ASSISTANT
            parent = Turn.objects.create(
                conversation=conversation, parent=parent, role=turn.role, content=turn.content,
                reasoning=turn.reasoning,
                # Marked as this model's own, so the context builder sends the
                # reasoning back exactly when this model needs it (and never else).
                model=model if answer else None, model_label=model.label if answer else "",
                source=model.source if answer else "",
            )
            turns.append(parent)
        if parent is not None:
            conversation.leaf = parent
            conversation.save(update_fields=["leaf"])
    return conversation, turns, keep


def store_exchange(
    user: Any, request: CompletionRequest, within_limits: bool | None = None
) -> tuple[Exchange, bool]:
    """The request's conversation, its earlier turns and the exchange that answers
    it, in one transaction (one thread hop): a start refused there (a limit, a
    control the model cannot take) stores nothing. Returns the exchange, for
    `launch_stored`, and whether the owner keeps the conversation. `within_limits`:
    the owner's run limits as read with the model, in the caller's transaction
    (`Question.within_limits`)."""
    with transaction.atomic(savepoint=False):  # the caller's transaction, when it has one
        conversation, above, keep = store(user, request)
        # Its turns as just written: neither they nor the conversation are read again.
        prompt = Question(
            owner=user, model=request.model, text=request.prompt, params=request.raw, conversation=conversation,
            branch_above=above, within_limits=within_limits,
        )
        exchange = _store_tool_step(prompt, request) if request.uses_tools else store_start(prompt)
    return exchange, keep


def tool_request(base: ChatRequest, request: CompletionRequest) -> ChatRequest:
    """`base` (the stored exchange's request: provider, model, controls) with the API
    request's own messages, tool calls and results included, and its tools. Assistant
    messages are marked as the model's own, so the replay policy of its family applies
    to them (reasoning.context): the reasoning of the current tool chain goes back."""
    source = request.model.source
    messages = [
        dataclasses.replace(m, source=m.source or source) if m.role == "assistant" else m
        for m in request.conversation.messages
    ]
    tools = request.tool_use
    return dataclasses.replace(
        base, messages=messages, tools=tools.tools, tool_choice=tools.choice, parallel_tool_calls=tools.parallel
    )


def check_tool_request(request: CompletionRequest) -> None:
    """Build the request the adapter would send, before anything is stored: tools the
    provider cannot take, or a tool loop it is known to reject (a required reasoning
    carrier missing, reasoning.context), are the caller's 400."""
    try:
        base = request_for(request.model, request.params, [])
    except Exception:
        return  # not the caller's doing (an unreadable key): the start path ends the turn with the reason
    chat = tool_request(base, request)
    try:
        adapter_for(chat).prepare(chat)
    except ValueError as e:
        text = str(e)
        named = next((p for p in ("tool_choice", "parallel_tool_calls") if p in text), None)
        param = named or ("messages" if isinstance(e, ReplayRefused) else "tools")
        raise bad_parameter(param, text) from None
    except Exception:
        return


def _store_tool_step(prompt: Question, request: CompletionRequest) -> Exchange:
    """The exchange as every start stores it, sent with the request's own messages and
    tools; the turn's `sent` records that request."""
    exchange = store_start(prompt)
    if exchange.request is None:
        return exchange
    chat = tool_request(exchange.request, request)
    try:
        prepared = Scrubber.for_provider(chat.provider).redact_request(adapter_for(chat).prepare(chat))
    except Exception as e:
        # Checked before the store (check_tool_request); a failure now ends the turn with its reason.
        error = TurnError.bad_request(e).as_dict()
        Turn.objects.filter(pk=exchange.assistant_turn.pk).update(status=Turn.Status.ERROR, error=error)
        exchange.assistant_turn.error = error
        return dataclasses.replace(exchange, request=None)
    # The request and the context's notes (what went back, what was left out), as every turn keeps them.
    record = request_record(chat, prepared)
    Turn.objects.filter(pk=exchange.assistant_turn.pk).update(sent=record)
    exchange.assistant_turn.sent = record  # as stored (Launched.outcome builds on it)
    return dataclasses.replace(exchange, request=chat)


def forget(conversation_id: int) -> None:
    Conversation.objects.filter(pk=conversation_id, origin=API_ORIGIN).delete()
