"""The synchronous domain logic of a conversation: branches, new exchanges,
and the request a turn is generated from. Everything here touches the database
and is called from views, commands, or `database_sync_to_async` in the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone

from playground.models import Conversation, ModelProfile, Turn
from reasoning.request import EFFORT_LEVELS, ChatRequest, Message, Thinking

# Per-turn parameters a user may set, with the type each is coerced to.
PARAMS: dict[str, type] = {
    "thinking": str,
    "effort": str,
    "budget_tokens": int,
    "max_tokens": int,
    "temperature": float,
    "system": str,
    "show_reasoning": bool,
}


class BadInput(ValueError):
    """Input a user can correct; the message is shown to them."""


def clean_params(raw: dict[str, Any], model: ModelProfile | None) -> dict[str, Any]:
    """Coerce and check the controls a user sent; unknown or empty ones are dropped.
    Without a model (an import naming one not here) any known effort level passes."""
    params: dict[str, Any] = {}
    for name, kind in PARAMS.items():
        value = raw.get(name)
        if value in (None, ""):
            continue
        try:
            if kind is bool:
                params[name] = value in (True, "1", "true", "on", "yes")
            else:
                params[name] = kind(value)
        except (TypeError, ValueError):
            raise BadInput(f"{name} must be a {kind.__name__}, not {value!r}") from None
    if params.get("thinking", "default") not in {"default", "on", "off"}:
        raise BadInput("thinking must be default, on or off")
    if "effort" in params and params["effort"] != "default":
        if model is None and params["effort"] not in EFFORT_LEVELS:
            raise BadInput(f"effort must be one of {', '.join(EFFORT_LEVELS)}")
        if model is not None and params["effort"] not in (model.efforts or []):
            raise BadInput(f"{model.label} does not take effort {params['effort']!r}")
    elif "effort" in params:
        del params["effort"]
    if "max_tokens" in params and not 1 <= params["max_tokens"] <= 1_000_000:
        raise BadInput("max_tokens must be between 1 and 1,000,000")
    if "budget_tokens" in params and not 0 <= params["budget_tokens"] <= 1_000_000:
        raise BadInput("budget_tokens must be between 0 and 1,000,000")
    if "temperature" in params and not 0 <= params["temperature"] <= 2:
        raise BadInput("temperature must be between 0 and 2")
    if len(params.get("system", "")) > settings.MAX_PROMPT_CHARS:
        raise BadInput(f"The system prompt is longer than {settings.MAX_PROMPT_CHARS:,} characters.")
    return params


def check_run_limits(owner: Any, new_runs: int = 1) -> None:
    """Refuse, before anything is stored, a start that would pass the owner's limits:
    MAX_CONCURRENT_RUNS answers generating at once, RUNS_PER_MINUTE answers started
    in the last minute. Counted in the database, so every worker sees the same."""
    if owner is None or not getattr(owner, "pk", None):
        return
    mine = Turn.objects.filter(conversation__owner=owner, role=Turn.Role.ASSISTANT)
    running = mine.filter(status=Turn.Status.STREAMING).count()
    if running + new_runs > settings.MAX_CONCURRENT_RUNS:
        raise BadInput(
            f"You have {running} answer(s) generating; at most {settings.MAX_CONCURRENT_RUNS} run at once. "
            "Wait for one to finish or stop it."
        )
    recent = mine.filter(created_at__gte=timezone.now() - timedelta(minutes=1)).count()
    if recent + new_runs > settings.RUNS_PER_MINUTE:
        raise BadInput(f"At most {settings.RUNS_PER_MINUTE} answers a minute; try again in a minute.")


def check_prompt(prompt: str) -> str:
    prompt = prompt.strip()
    if not prompt:
        raise BadInput("The prompt is empty.")
    if len(prompt) > settings.MAX_PROMPT_CHARS:
        raise BadInput(f"The prompt is longer than {settings.MAX_PROMPT_CHARS:,} characters.")
    return prompt.replace("\x00", "")


def branch(conversation: Conversation, leaf: Turn | None = None) -> list[Turn]:
    """The turns from the root to `leaf` (default: the conversation's leaf), oldest first."""
    turns = {t.pk: t for t in conversation.turns.select_related("model").all()}
    if not turns:
        return []
    leaf_id = leaf.pk if leaf else conversation.leaf_id
    if leaf_id not in turns:
        leaf_id = max(turns.values(), key=lambda t: (t.created_at, t.pk)).pk
    chain: list[Turn] = []
    node: Turn | None = turns[leaf_id]
    while node is not None:
        chain.append(node)
        node = turns.get(node.parent_id) if node.parent_id else None
    chain.reverse()
    return chain


@dataclass(frozen=True)
class Exchange:
    user_turn: Turn
    assistant_turn: Turn


def start_exchange(
    conversation: Conversation,
    prompt: str,
    model: ModelProfile,
    params: dict[str, Any],
    parent: Turn | None = None,
) -> Exchange:
    """Store the user's prompt and an empty assistant turn in state "streaming"."""
    prompt = check_prompt(prompt)
    if not model.enabled or not model.provider.enabled:
        raise BadInput(f"{model.label} is disabled.")
    check_run_limits(conversation.owner)
    with transaction.atomic():
        if parent is None:
            chain = branch(conversation)
            parent = chain[-1] if chain else None
        user_turn = Turn.objects.create(
            conversation=conversation, parent=parent, role=Turn.Role.USER, content=prompt
        )
        first = conversation.title == "New conversation" and not parent
        title = prompt.splitlines()[0][:80] if first else None
        assistant_turn = _streaming_answer(user_turn, model, params, title=title)
    return Exchange(user_turn, assistant_turn)


def build_request(turn: Turn) -> ChatRequest:
    """The request that generates `turn` from the branch above it.

    Earlier turns go in with their reasoning and replay data attached; whether
    any of it is sent is the provider's replay rule, applied in reasoning.context.
    """
    model = turn.model
    if model is None:
        raise BadInput("The model of this turn no longer exists.")
    chain = branch(turn.conversation, turn)[:-1]
    messages = [
        Message(
            role=t.role,  # type: ignore[arg-type]
            content=t.content,
            reasoning=t.reasoning,
            replay=t.replay,
            source=t.source or None,
        )
        for t in chain
        if t.role != Turn.Role.ASSISTANT or t.content or t.replay
    ]
    p = turn.params or {}
    return ChatRequest(
        provider=model.provider.config(),
        model=model.spec(),
        messages=messages,
        system=p.get("system") or None,
        thinking=Thinking(
            mode=p.get("thinking", "default"),
            effort=p.get("effort"),
            budget_tokens=p.get("budget_tokens"),
            # "Reasoning: hidden" asks for no reasoning text; a hidden-reasoning model has none to give.
            include_reasoning=p.get("show_reasoning", True) and model.reasoning != "hidden",
        ),
        max_tokens=p.get("max_tokens") or model.max_output_tokens,
        temperature=p.get("temperature") if model.supports_temperature else None,
    )


def stale_after() -> float:
    """Seconds without a checkpoint after which a "streaming" turn is taken for dead.

    A live run, in any worker, bumps `heartbeat_at` every CHECKPOINT_INTERVAL; the
    margin covers a busy database or a paused process. Too small a value would mark
    live turns of other workers (their final save still wins, but watchers would
    have seen "interrupted" for a while).
    """
    configured = float(getattr(settings, "STREAM_STALE_AFTER", 0) or 0)
    return configured or max(10.0, 5 * float(settings.CHECKPOINT_INTERVAL))


def mark_interrupted(conversation: Conversation | None = None, turn_ids: list[int] | None = None) -> int:
    """Turns left "streaming" whose run stopped checkpointing belong to a dead
    process: keep their text and say so. Safe with several workers: the age is
    measured on the database's clock, which all workers share, and runs alive in
    this process are never touched."""
    from playground.streaming.run import RUNS  # runs imports this module

    turns = Turn.objects.filter(
        status=Turn.Status.STREAMING, heartbeat_at__lt=Now() - timedelta(seconds=stale_after())
    ).exclude(pk__in=list(RUNS))
    if conversation is not None:
        turns = turns.filter(conversation=conversation)
    if turn_ids is not None:
        turns = turns.filter(pk__in=turn_ids)
    # Look before writing: this runs on every page load and every few seconds per
    # watching socket, and nearly always finds nothing. A read takes no write lock
    # (SQLite has one for the whole database, which the checkpoints need).
    stale = list(turns.values_list("pk", flat=True))
    if not stale:
        return 0
    # The update repeats the conditions: a run may have checkpointed meanwhile.
    return turns.filter(pk__in=stale).update(
        status=Turn.Status.INTERRUPTED,
        error={
            "kind": "interrupted",
            "message": "The server stopped while this turn was streaming.",
            "status_code": None,
        },
    )


# ---- branches: edit a prompt, regenerate an answer, switch between siblings --------------


def _streaming_answer(
    user_turn: Turn, model: ModelProfile, params: dict[str, Any], *, title: str | None = None
) -> Turn:
    """An empty assistant turn under `user_turn`, made the conversation's leaf (and its
    title set, in the same write, when the first prompt names the conversation)."""
    conversation = user_turn.conversation
    turn = Turn.objects.create(
        conversation=conversation,
        parent=user_turn,
        role=Turn.Role.ASSISTANT,
        model=model,
        model_label=model.label,
        source=model.source,
        params=params,
        status=Turn.Status.STREAMING,
        heartbeat_at=timezone.now(),
    )
    conversation.leaf = turn
    conversation.model = model
    fields = ["leaf", "model", "updated_at"]
    if title is not None:
        conversation.title = title
        fields.append("title")
    conversation.save(update_fields=fields)
    return turn


def _check_model(model: ModelProfile) -> None:
    if not model.enabled or not model.provider.enabled:
        raise BadInput(f"{model.label} is disabled.")


def start_regeneration(user_turn: Turn, model: ModelProfile, params: dict[str, Any]) -> Turn:
    """A new answer to an existing prompt: a sibling of its earlier answers."""
    if user_turn.role != Turn.Role.USER:
        raise BadInput("Only a prompt can be answered again.")
    _check_model(model)
    check_run_limits(user_turn.conversation.owner)
    with transaction.atomic():
        return _streaming_answer(user_turn, model, params)


def start_edit(edited: Turn, prompt: str, model: ModelProfile, params: dict[str, Any]) -> Exchange:
    """An edited prompt run again: a new user turn beside `edited` (same parent),
    so the original and its answers stay reachable as another branch."""
    if edited.role != Turn.Role.USER:
        raise BadInput("Only a prompt can be edited.")
    prompt = check_prompt(prompt)
    _check_model(model)
    check_run_limits(edited.conversation.owner)
    with transaction.atomic():
        user_turn = Turn.objects.create(
            conversation=edited.conversation, parent=edited.parent, role=Turn.Role.USER, content=prompt
        )
        return Exchange(user_turn, _streaming_answer(user_turn, model, params))


def newest_leaf(turn: Turn) -> Turn:
    """The newest turn under `turn` (itself included). A turn is always created
    after its parent, so the newest descendant has no children: it is a leaf."""
    children: dict[int | None, list[Turn]] = {}
    for t in turn.conversation.turns.all():
        children.setdefault(t.parent_id, []).append(t)
    newest, stack = turn, [turn]
    while stack:
        node = stack.pop()
        if (node.created_at, node.pk) > (newest.created_at, newest.pk):
            newest = node
        stack.extend(children.get(node.pk, []))
    return newest


def show_branch(turn: Turn) -> Turn:
    """Make the branch through `turn` the one on show; returns the new leaf."""
    leaf = newest_leaf(turn)
    conversation = turn.conversation
    conversation.leaf = leaf
    conversation.save(update_fields=["leaf", "updated_at"])
    return leaf
