"""The synchronous domain logic of a conversation: branches, new exchanges,
and the request a turn is generated from. Everything here touches the database
and is called from views, commands, or `database_sync_to_async` in the run.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.db import DatabaseError, connection, connections, router, transaction
from django.db.models import BooleanField, Count, Expression, ForeignKey, Min, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.sql import InsertQuery
from django.utils import timezone

from playground import statements
from playground.models import Conversation, ModelProfile, Prompt, Turn, UserProviderKey
from playground.security.secrets import Scrubber
from playground.turns import keys, offer
from playground.turns.errors import TurnError
from playground.turns.liveness import WORKER_ID, mark_interrupted
from reasoning.adapters.selection import adapter_for
from reasoning.context import context_notes
from reasoning.controls import UnsupportedControl, check_controls
from reasoning.request import EFFORT_LEVELS, REASONING_MODES, REPLAY_POLICIES, ChatRequest, Message, Thinking
from reasoning.structured import check_schema
from reasoning.toolbox.steps import turn_messages

# Per-turn parameters a user may set, with the type each is coerced to.
PARAMS: dict[str, type] = {
    "thinking": str,
    "effort": str,
    "budget_tokens": int,
    "max_tokens": int,
    "temperature": float,
    "top_p": float,
    "system": str,
    "show_reasoning": bool,
    "reasoning_mode": str,
    "prompt_id": int,  # a Prompt's id; the turn keeps a snapshot of it (Prompt.snapshot)
    "answer_schema": str,  # the conversation's own JSON Schema for answers (JSON text); wins over the prompt's
    "max_steps": int,  # model calls a tool loop may make in one turn (playground.streaming.toolrun)
    "replay_policy": str,  # strip | interleaved | preserved: which stored reasoning goes back (reasoning.context)
}
MAX_STEPS_LIMIT = 50
MAX_STOP_SEQUENCES = 4
# What a turn's params keep of its prompt; never taken from the browser.
PROMPT_SNAPSHOT = ("prompt_name", "prompt_system", "thinking_instructions", "schema")


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
    if params.get("prompt_id") == 0:
        del params["prompt_id"]  # "no prompt" in a select
    if "answer_schema" in params:
        params["answer_schema"] = _schema(params["answer_schema"])
    if params.get("replay_policy", "strip") not in REPLAY_POLICIES:
        raise BadInput(f"replay_policy must be one of {', '.join(REPLAY_POLICIES)}")
    if params.get("thinking", "default") not in {"default", "on", "off"}:
        raise BadInput("thinking must be default, on or off")
    if "effort" in params and params["effort"] != "default":
        if model is None and params["effort"] not in EFFORT_LEVELS:
            raise BadInput(f"effort must be one of {', '.join(EFFORT_LEVELS)}")
        if model is not None and params["effort"] not in (model.efforts or []):
            raise BadInput(offer.effort_refusal(model, params["effort"]))
    elif "effort" in params:
        del params["effort"]
    if "max_tokens" in params and not 1 <= params["max_tokens"] <= 1_000_000:
        raise BadInput("max_tokens must be between 1 and 1,000,000")
    if "budget_tokens" in params and not 0 <= params["budget_tokens"] <= 1_000_000:
        raise BadInput("budget_tokens must be between 0 and 1,000,000")
    if "max_steps" in params and not 1 <= params["max_steps"] <= MAX_STEPS_LIMIT:
        raise BadInput(f"max_steps must be between 1 and {MAX_STEPS_LIMIT}")
    if "temperature" in params and not 0 <= params["temperature"] <= 2:
        raise BadInput("temperature must be between 0 and 2")
    if "temperature" in params and model is not None and not model.supports_temperature:
        # Never dropped silently: the user asked for it, so say it cannot be sent.
        raise BadInput(f"{model.label}: {model.accepts()['temperature']}")
    if len(params.get("system", "")) > settings.MAX_PROMPT_CHARS:
        raise BadInput(f"The system prompt is longer than {settings.MAX_PROMPT_CHARS:,} characters.")
    if "top_p" in params and not 0 <= params["top_p"] <= 1:
        raise BadInput("top_p must be between 0 and 1")
    if (stop := raw.get("stop")) not in (None, "", []):
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
            raise BadInput("stop must be a string or a list of strings")
        if len(stops) > MAX_STOP_SEQUENCES:
            raise BadInput(f"stop takes at most {MAX_STOP_SEQUENCES} sequences")
        params["stop"] = stops
    mode = params.get("reasoning_mode", "hidden" if params.get("show_reasoning") is False else "separate")
    if mode not in REASONING_MODES:
        raise BadInput(f"reasoning_mode must be one of {', '.join(REASONING_MODES)}")
    if mode != "separate":
        params["reasoning_mode"] = mode
    if mode == "hidden":
        params["show_reasoning"] = False  # the page says the reasoning was not shown
    # Refused here, before anything is stored or sent: a control the model cannot
    # honour is never silently dropped (the message says why and what would work).
    try:
        if model is not None:  # an import may name a model that is not here
            check_controls(
                model.provider.kind,
                model.spec(),
                thinking_of(params, model),
                params.get("max_tokens") or model.max_output_tokens,
            )
    except UnsupportedControl as e:
        raise BadInput(offer.refusal(model, e, thinking_of(params, model)) if model else str(e)) from None
    return params


class RunLimit(BadInput):
    """A per-user limit of runs was reached; `retry_after` is the seconds after which
    a start may pass (the API's 429 says it in `Retry-After`)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# How long to wait when the limit of simultaneous runs is reached: when a run ends is
# not known, and a few seconds keeps a retrying client from hammering the server.
BUSY_RETRY_AFTER = 2


def check_run_limits(owner_id: Any, new_runs: int = 1) -> None:
    """Refuse, before anything is stored, a start that would pass the owner's limits:
    MAX_CONCURRENT_RUNS answers generating at once, RUNS_PER_MINUTE answers started
    in the last minute. Counted in the database (one query), so every worker sees the same."""
    if owner_id is None:
        return
    now = timezone.now()
    window = now - timedelta(minutes=1)
    counts = Turn.objects.filter(conversation__owner_id=owner_id, role=Turn.Role.ASSISTANT).aggregate(
        running=Count("pk", filter=Q(status=Turn.Status.STREAMING)),
        recent=Count("pk", filter=Q(created_at__gte=window)),
        oldest=Min("created_at", filter=Q(created_at__gte=window)),
    )
    if counts["running"] + new_runs > settings.MAX_CONCURRENT_RUNS:
        raise RunLimit(
            f"You have {counts['running']} answer(s) generating; at most {settings.MAX_CONCURRENT_RUNS} run at once. "
            "Wait for one to finish or stop it.",
            BUSY_RETRY_AFTER,
        )
    if counts["recent"] + new_runs > settings.RUNS_PER_MINUTE:
        # The oldest start of the window leaves it first (a start of several runs at
        # once may need more to leave; then the retry is told again).
        oldest = counts["oldest"] or now
        wait = max(1, math.ceil((oldest + timedelta(minutes=1) - now).total_seconds()))
        raise RunLimit(f"At most {settings.RUNS_PER_MINUTE} answers a minute; try again in {wait} s.", wait)


def runs_allowed(owner_id: Any, new_runs: int = 1) -> RawSQL:
    """Whether `check_run_limits` would let `new_runs` start, as a column another query
    carries (the model a start reads), so a start reads its model and its limits in one
    statement. False: `check_run_limits` says which limit and when to retry (its query,
    on a refusal only). Each count is found through an index of its own (the answers
    streaming now; those of the last minute, `Turn.created_at`): one pass over every
    answer the owner ever had cost ~0.17 ms per thousand of them (3.5 ms at 20,000)."""
    window = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(minutes=1))
    params = (
        Turn.Status.STREAMING, owner_id, Turn.Role.ASSISTANT, new_runs, settings.MAX_CONCURRENT_RUNS,
        window, owner_id, Turn.Role.ASSISTANT, new_runs, settings.RUNS_PER_MINUTE,
    )
    return RawSQL(_runs_allowed_sql(connection.vendor), params, output_field=BooleanField())


@functools.cache
def _runs_allowed_sql(vendor: str) -> str:
    turn, conversation = Turn._meta, Conversation._meta
    q = connection.ops.quote_name
    owners_answers = (
        f"SELECT COUNT(*) FROM {q(turn.db_table)} t INNER JOIN {q(conversation.db_table)} c"
        f" ON t.{q(str(turn.get_field('conversation').column))} = c.{q(str(conversation.pk.column))}"
    )
    owner = f"c.{q(str(conversation.get_field('owner').column))}"
    # "+owner": SQLite would otherwise start from the owner's conversations (an equality
    # beats a range in its planner) and read all their turns; PostgreSQL plans by cost.
    return (
        f"(({owners_answers} WHERE t.{q('status')} = %s AND {owner} = %s AND t.{q('role')} = %s) + %s <= %s"
        f" AND ({owners_answers} WHERE t.{q('created_at')} >= %s AND +{owner} = %s AND t.{q('role')} = %s)"
        " + %s <= %s)"
    )


def check_prompt(prompt: str) -> str:
    prompt = prompt.strip()
    if not prompt:
        raise BadInput("The prompt is empty.")
    if len(prompt) > settings.MAX_PROMPT_CHARS:
        raise BadInput(f"The prompt is longer than {settings.MAX_PROMPT_CHARS:,} characters.")
    return prompt.replace("\x00", "")


def _schema(text: Any) -> Any:
    if not isinstance(text, str):
        return text  # already parsed: params stored with a turn
    try:
        schema = json.loads(text)
    except (ValueError, RecursionError):
        raise BadInput("The answer schema is not valid JSON.") from None
    if problems := check_schema(schema):
        raise BadInput(f"The answer schema is not a valid JSON Schema: {problems[0]}")
    return schema


def thinking_of(params: dict[str, Any], model: ModelProfile) -> Thinking:
    """The thinking controls of a turn's parameters, as the request carries them."""
    return Thinking(
        mode=params.get("thinking", "default"),
        effort=params.get("effort"),
        budget_tokens=params.get("budget_tokens"),
        # "Reasoning: hidden" asks for no reasoning text; a hidden-reasoning model has none to give.
        include_reasoning=params.get("show_reasoning", True) and model.reasoning != "hidden",
        reasoning_mode=params.get("reasoning_mode", "hidden" if params.get("show_reasoning") is False else "separate"),
    )


def branch(conversation: Conversation, leaf: Turn | None = None) -> list[Turn]:
    """The turns from the root to `leaf` (default: the conversation's leaf), oldest first."""
    return _branch_of({t.pk: t for t in conversation.turns.select_related("model").all()}, conversation, leaf)


# What a start does not read of the turns above it (conversation_turns).
START_SKIPS = ("sent", "error")


def conversation_turns(conversation: Conversation) -> dict[int, Turn]:
    """Every turn of `conversation` (but `START_SKIPS`), by id, and the conversation's own
    row as other tabs left it (its leaf, title, tools), read in the same query and
    copied into `conversation` (one statement, with or without turns). Inside a
    start's transaction, after `lock_for_a_prompt`."""
    # A start reads of them their place in the tree, their state and what goes back to
    # the model (request_for): not each turn's request as sent nor its error (the largest
    # JSON a turn keeps), nor its model. Every turn is read on every prompt: a third of
    # the read's CPU (60 turns: 6.5 -> 4.4 ms). One statement written once, with the
    # conversation's row joined (a new conversation's first prompt included).
    fresh, found = statements.conversation_with_turns(conversation.pk, START_SKIPS)
    for f in Conversation._meta.concrete_fields:
        # As refresh_from_db: a related object cached for another id is dropped.
        value = getattr(fresh, f.attname)
        if isinstance(f, ForeignKey) and f.is_cached(conversation) and getattr(conversation, f.attname) != value:
            f.delete_cached_value(conversation)
        setattr(conversation, f.attname, value)
    turns: dict[int, Turn] = {}
    for turn in found:
        turn.conversation = conversation
        turns[turn.pk] = turn
    return turns


def lock_for_a_prompt(conversation: Conversation) -> None:
    """Two prompts sent at once must not both continue the same leaf: the conversation
    is locked before its branch is read (SQLite's immediate transactions already
    serialise writers)."""
    if connection.features.has_select_for_update:
        Conversation.objects.select_for_update().filter(pk=conversation.pk).first()


def lock_for_a_prompt_column(conversation: Conversation) -> RawSQL:
    """`lock_for_a_prompt` as a column of a start's first query (PostgreSQL locks the
    rows a sub-SELECT ... FOR UPDATE reads): the conversation's id once its row is
    locked, None if it is gone. Read before the turns, as `lock_for_a_prompt` is."""
    q = connection.ops.quote_name
    table, pk = Conversation._meta.db_table, str(Conversation._meta.pk.column)
    return RawSQL(f"(SELECT {q(pk)} FROM {q(table)} WHERE {q(pk)} = %s FOR UPDATE)", (conversation.pk,))


def _branch_of(turns: dict[int, Turn], conversation: Conversation, leaf: Turn | None) -> list[Turn]:
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
    """A prompt and the empty answer to it, stored; with what to send for the answer.

    `request` is None when it could not be built (a missing key, an unknown
    provider kind): the answer is then stored as an error saying why, and a
    launch ends it at once (playground.streaming.launch)."""

    user_turn: Turn
    assistant_turn: Turn
    request: ChatRequest | None = None
    branched: bool = False  # the branch on show changed above the prompt (an edit, a regeneration)


def start_exchange(
    conversation: Conversation,
    prompt: str,
    model: ModelProfile,
    params: dict[str, Any],
    parent: Turn | None = None,
    above: list[Turn] | None = None,
    turns: dict[int, Turn] | None = None,
    runs_allowed: bool | None = None,
) -> Exchange:
    """Store the user's prompt and an empty assistant turn in state "streaming".
    `above`: the conversation's branch as the caller just wrote it (not read again).
    `turns`: all its turns as the caller read them, locked (`conversation_turns`).
    `runs_allowed`: the owner's run limits as the caller read them in this transaction
    (`runs_allowed()`, with the model); None reads them here."""
    prompt = check_prompt(prompt)
    check_model(model)
    if not runs_allowed:
        check_run_limits(conversation.owner_id)
    library_prompt, params = with_prompt(conversation.owner_id, params)
    # No savepoint of its own: inside a caller's transaction (a launch, a comparison),
    # a failure here ends that whole transaction anyway.
    with transaction.atomic(savepoint=False):
        if parent is None and turns is None and above is None:
            # (A branch the caller just wrote is in a conversation it holds: the API's new one.)
            lock_for_a_prompt(conversation)
        everything: dict[int, Turn] | None = turns
        if above is not None and parent is None:
            chain = above
        else:
            if everything is None:
                everything = {t.pk: t for t in conversation.turns.select_related("model").all()}
            chain = _branch_of(everything, conversation, parent)
        if parent is None:
            _check_can_continue(conversation, chain[-1] if chain else None)
        parent = chain[-1] if chain else None
        # Stored with its answer, in one statement (_streaming_answer).
        user_turn = Turn(conversation=conversation, parent=parent, role=Turn.Role.USER, content=prompt)
        first = conversation.title == "New conversation" and not parent
        title = prompt.splitlines()[0][:80] if first else None
        exchange = _streaming_answer(
            user_turn, model, params, [*chain, user_turn], prompt=library_prompt, title=title
        )
        if everything is not None:
            # Its place among its siblings (the ‹ 1/2 › switcher), known from the turns in
            # hand: its render reads none of them again. Its answer is the only one yet.
            earlier = sorted((t for t in everything.values() if t.parent_id == user_turn.parent_id
                              and t.role == Turn.Role.USER), key=lambda t: (t.created_at, t.pk))
            user_turn.sibling_ids = (*(t.pk for t in earlier), user_turn.pk)  # type: ignore[attr-defined]
            exchange.assistant_turn.sibling_ids = (exchange.assistant_turn.pk,)  # type: ignore[attr-defined]
        return exchange


PROMPT_WHILE_STREAMING = "The answer is still streaming: wait for it to finish, or stop it, before sending again."


def _check_can_continue(conversation: Conversation, leaf: Turn | None) -> None:
    """Never two user messages in a row: a prompt continues only a finished answer
    (a provider would otherwise get the new prompt right after the previous one)."""
    if leaf is not None and leaf.status == Turn.Status.AWAITING_TOOL:
        raise BadInput("The answer waits for a tool's result: give it (or stop the turn) before sending again.")
    if leaf is None or (leaf.role == Turn.Role.ASSISTANT and not leaf.is_streaming):
        return
    if leaf.is_streaming and mark_interrupted(conversation, turn_ids=[leaf.pk]):
        return  # its process is gone: the turn is kept as interrupted and may be continued
    if leaf.is_streaming:
        raise BadInput(PROMPT_WHILE_STREAMING)
    raise BadInput("The last prompt has no answer yet; regenerate it or edit it instead.")


def build_request(turn: Turn) -> ChatRequest:
    """The request that generates `turn` from the branch above it."""
    if turn.model is None:
        raise BadInput("The model of this turn no longer exists.")
    user_key = None
    if turn.key_source == "user":
        # Decided when the turn was made: the owner's key, never anyone else's.
        user_key = turn.user_key
        if user_key is None or user_key.user_id != turn.conversation.owner_id:
            raise BadInput("The key this answer was to run with was removed.")
    return request_for(turn.model, turn.params or {}, branch(turn.conversation, turn)[:-1], user_key=user_key)


def request_for(
    model: ModelProfile, p: dict[str, Any], chain: list[Turn], *, user_key: UserProviderKey | None = None
) -> ChatRequest:
    """The request for an answer by `model` with parameters `p` to the turns of `chain`.

    Earlier turns go in with their reasoning and replay data attached; whether
    any of it is sent is the provider's replay rule, applied in reasoning.context.
    """
    messages: list[Message] = []
    for t in chain:
        if t.role == Turn.Role.ASSISTANT and t.steps:
            # A tool loop goes back as its steps: each assistant step with its calls,
            # then their results (reasoning.toolbox.steps).
            messages.extend(turn_messages(t.steps, t.source or None))
        elif t.role != Turn.Role.ASSISTANT or t.content or t.replay:
            messages.append(
                Message(
                    role=t.role,  # type: ignore[arg-type]
                    content=t.content,
                    reasoning=t.reasoning,
                    replay=t.replay,
                    source=t.source or None,
                    # An Inline answer keeps its reasoning between tags in its text: the context
                    # takes them out (and sends the reasoning only where the policy keeps it).
                    inline=t.role == Turn.Role.ASSISTANT and (t.params or {}).get("reasoning_mode") == "inline",
                )
            )
    system = "\n\n".join(s for s in (p.get("prompt_system"), p.get("system")) if s and s.strip())
    return ChatRequest(
        provider=model.provider.config() if user_key is None else user_key.config(),
        model=model.spec(),
        messages=messages,
        system=system or None,
        thinking_instructions=p.get("thinking_instructions"),
        response_schema=answer_schema(p),
        thinking=thinking_of(p, model),
        max_tokens=p.get("max_tokens") or model.max_output_tokens,
        temperature=p.get("temperature") if model.supports_temperature else None,
        top_p=p.get("top_p"),
        stop=tuple(p.get("stop") or ()),
        replay_policy=p.get("replay_policy") or None,
    )


def request_record(request: ChatRequest | None, prepared: Any = None) -> dict[str, Any]:
    """`Turn.sent`: the exact request (when it was built) and the context's notes: what
    went back to the model, what was left out or repaired, or why it was refused."""
    record: dict[str, Any] = {}
    if prepared is not None:
        record = {"method": prepared.method, "url": prepared.url, "headers": dict(prepared.headers),
                  "body": prepared.json}
    if request is not None:
        record["context_notes"] = [note.as_dict() for note in context_notes(request)]
    return record


def answer_schema(params: dict[str, Any]) -> Any:
    """The JSON Schema a turn's answer was asked for: the conversation's own, else its prompt's."""
    return params.get("answer_schema") or params.get("schema")


# ---- branches: edit a prompt, regenerate an answer, switch between siblings --------------


def with_prompt(owner: Any, params: dict[str, Any]) -> tuple[Prompt | None, dict[str, Any]]:
    """The library prompt `params` name and the parameters with its snapshot.

    Resolved before anything is written: a refused prompt stores nothing, and
    the check raises outside the caller's transaction (it has no savepoint)."""
    # A snapshot in `params` comes from a stored turn (clean_params drops those keys):
    # regenerating an answer whose prompt was deleted since runs with the copy it kept.
    kept = {k: params[k] for k in (*PROMPT_SNAPSHOT, "prompt_id") if k in params}
    try:
        prompt = prompt_for(owner, params.get("prompt_id"))
    except BadInput:
        if "prompt_name" not in kept:
            raise
        prompt = None
    params = {k: v for k, v in params.items() if k not in kept}
    params.update(prompt.snapshot() if prompt is not None else kept)
    return prompt, params


def _streaming_answer(
    user_turn: Turn,
    model: ModelProfile,
    params: dict[str, Any],
    chain: list[Turn],
    *,
    prompt: Prompt | None,
    title: str | None = None,
    branched: bool = False,
) -> Exchange:
    """An empty assistant turn under `user_turn` (the last of `chain`), made the
    conversation's leaf (and its title set, in the same write, when the first
    prompt names the conversation). A `user_turn` not stored yet is stored with the
    answer, in one statement (`insert_prompt_and_answer`).

    The request is built here, from the turns already in hand, and stored with
    the turn in its one insert: the run needs no query of its own to start. A
    request that cannot be built is stored as the turn's error."""
    conversation = user_turn.conversation
    if conversation.replay_policy and not params.get("replay_policy"):
        # The conversation's override, kept with the turn (a regenerate reuses it).
        params = {**params, "replay_policy": conversation.replay_policy}
    request: ChatRequest | None = None
    fields: dict[str, Any] = {"status": Turn.Status.STREAMING}
    try:
        user_key = keys.key_for(conversation.owner_id, model.provider)
        fields.update(user_key=user_key, key_source="user" if user_key else "site")
        request = request_for(model, params, chain, user_key=user_key)
        # Only headers known to be public and no known secret are recorded (security.secrets).
        prepared = Scrubber.for_provider(request.provider).redact_request(adapter_for(request).prepare(request))
        fields["sent"] = request_record(request, prepared)
    except Exception as e:
        fields = {
            "status": Turn.Status.ERROR,
            "error": TurnError.bad_request(e).as_dict(),
        }
        if request is not None:  # refused by the context: its notes say what it found
            fields["sent"] = request_record(request)
        request = None
    turn = Turn(
        conversation=conversation,
        parent=user_turn,
        role=Turn.Role.ASSISTANT,
        model=model,
        model_label=model.label,
        source=model.source,
        params=params,
        heartbeat_at=timezone.now(),
        worker=WORKER_ID,  # this process runs it (operations.heartbeat)
        **fields,
    )
    if user_turn.pk is None:
        insert_prompt_and_answer(user_turn, turn)
    else:
        turn.save(force_insert=True)
    # conversation.save(update_fields=...) as one UPDATE compiled once (statements.Update).
    now = timezone.now()
    changes: dict[str, Any] = {"leaf": turn.pk, "model": model.pk, "prompt": prompt.pk if prompt else None,
                               "updated_at": now}
    if title is not None:
        changes["title"] = title
    if not _conversation_update(conversation.pk, changes):
        raise DatabaseError("Save with update_fields did not affect any rows.")
    conversation.leaf, conversation.model, conversation.prompt, conversation.updated_at = turn, model, prompt, now
    if title is not None:
        conversation.title = title
    return Exchange(user_turn, turn, request, branched)


_conversation_update = statements.Update(Conversation)


# The ids of a new exchange's two rows, taken in its INSERT (a CTE read once): the
# answer's parent is the prompt's new id. PostgreSQL draws them from the id's sequence;
# SQLite's AUTOINCREMENT takes the next above both the largest id and the largest ever
# used (sqlite_sequence), which is what it would give the rows itself: a write
# statement holds the database's one write lock, so no other insert comes between.
_NEW_IDS = "new_turn_ids"


def _new_ids_sql(vendor: str) -> str | None:
    q = connection.ops.quote_name
    table, pk = Turn._meta.db_table, str(Turn._meta.pk.column)
    if vendor == "postgresql":
        drawn = f"nextval(pg_get_serial_sequence('{q(table)}', '{pk}'))"
        return f"SELECT {drawn} AS prompt_id, {drawn} AS answer_id"
    if vendor == "sqlite":
        above = (f"max(coalesce((SELECT max({q(pk)}) FROM {q(table)}), 0),"
                 f" coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0))")
        return f"SELECT {above} + 1 AS prompt_id, {above} + 2 AS answer_id"
    return None


# Per database: the exchange's INSERT (its ids' CTE included), and the fields given as
# parameters, the prompt's then the answer's (the ids and the answer's parent are SQL);
# None: its parameters are not simply those values (a field with a placeholder of its own).
_exchange_inserts: dict[str, tuple[str, list[Any], list[Any]] | None] = {}


def insert_prompt_and_answer(prompt: Turn, answer: Turn) -> None:
    """Store a new prompt and its answer (unsaved, the answer's parent the prompt) in
    one INSERT, as `Model.save()` would each (no signals are connected to turns). The
    statement is compiled once per database; each call prepares its values as the
    compiler does (`pre_save`, `get_db_prep_save`)."""
    db = router.db_for_write(Turn)
    connection = connections[db]
    ids = _new_ids_sql(connection.vendor)
    if ids is None:  # another database: one statement each
        prompt.save(force_insert=True, using=db)
        answer.parent = prompt
        answer.save(force_insert=True, using=db)
        return
    compiled = _exchange_inserts.get(db)
    if compiled is None:
        sql, params = _compile_exchange_insert(db, ids, prompt, answer)
    else:
        sql, prompt_fields, answer_fields = compiled
        params = [f.get_db_prep_save(f.pre_save(prompt, True), connection=connection) for f in prompt_fields]
        params += [f.get_db_prep_save(f.pre_save(answer, True), connection=connection) for f in answer_fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        made = {role: new_id for new_id, role in cursor.fetchall()}
    prompt.pk, answer.pk = made[Turn.Role.USER], made[Turn.Role.ASSISTANT]
    answer.parent = prompt
    for turn in (prompt, answer):
        turn._state.adding, turn._state.db = False, db


def _compile_exchange_insert(db: str, ids: str, prompt: Turn, answer: Turn) -> tuple[str, list[Any]]:
    """The exchange's INSERT and this call's parameters, through the ORM's compiler;
    kept for the next calls when its parameters are the fields' prepared values."""
    pk = Turn._meta.pk
    assert pk is not None
    connection = connections[db]
    prompt.pk = RawSQL(f"(SELECT prompt_id FROM {_NEW_IDS})", ())
    answer.pk = RawSQL(f"(SELECT answer_id FROM {_NEW_IDS})", ())
    answer.parent_id = RawSQL(f"(SELECT prompt_id FROM {_NEW_IDS})", ())
    query = InsertQuery(Turn)
    fields = list(Turn._meta.concrete_fields)
    query.insert_values(fields, [prompt, answer])
    compiler = query.get_compiler(using=db)
    compiler.returning_fields = [pk, Turn._meta.get_field("role")]
    ((sql, params),) = compiler.as_sql()
    # MATERIALIZED: read once for both rows (SQLite would otherwise inline it per use).
    sql = f"WITH {_NEW_IDS} AS MATERIALIZED ({ids}) {sql}"
    prompt_fields = [f for f in fields if f is not pk]
    answer_fields = [f for f in prompt_fields if f.name != "parent"]
    # What the compiler gave, from the values its pre_save left on each turn.
    expected = [f.get_db_prep_save(getattr(prompt, f.attname), connection=connection) for f in prompt_fields]
    expected += [f.get_db_prep_save(getattr(answer, f.attname), connection=connection) for f in answer_fields]
    plain = not any(hasattr(f, "get_placeholder") for f in fields)
    same = len(expected) == len(params) and all(map(statements.same_parameter, expected, params))
    _exchange_inserts[db] = (sql, prompt_fields, answer_fields) if plain and same else None
    return sql, list(params)


def prompt_for(owner: Any, prompt_id: Any) -> Prompt | None:
    """The prompt `prompt_id` if `owner` may use it (their own or a built-in one)."""
    if prompt_id in (None, "", 0):
        return None
    prompt = Prompt.available_to(owner).filter(pk=prompt_id).first()
    if prompt is None:
        raise BadInput("That prompt does not exist (any more).")
    return prompt


def check_model(model: ModelProfile) -> None:
    if not model.enabled or not model.provider.enabled:
        raise BadInput(f"{model.label} is disabled.")


def enabled_models() -> QuerySet[ModelProfile]:
    """The models a user may choose: enabled, of an enabled provider (with it, to label them)."""
    return ModelProfile.objects.filter(enabled=True, provider__enabled=True).select_related("provider")


def model_by_id(raw: Any, **also: Expression) -> ModelProfile:
    """The enabled model a form or a socket message names by id, with its provider;
    `also`: `RawSQL` columns read with it (a start's run limits, its session check), as
    attributes of it."""
    try:
        pk = int(raw or 0)
    except (ValueError, TypeError):
        raise BadInput("Choose a model.") from None
    if not 0 < pk < 2**63:  # no such row; a database would refuse the number itself
        raise BadInput("Choose a model.")
    model = statements.enabled_model(pk, **also)  # the statement written once
    if model is None:
        raise BadInput("Choose a model.")
    return cast(ModelProfile, model)


def start_regeneration(user_turn: Turn, model: ModelProfile, params: dict[str, Any]) -> Exchange:
    """A new answer to an existing prompt: a sibling of its earlier answers."""
    if user_turn.role != Turn.Role.USER:
        raise BadInput("Only a prompt can be answered again.")
    check_model(model)
    check_run_limits(user_turn.conversation.owner_id)
    library_prompt, params = with_prompt(user_turn.conversation.owner_id, params)
    with transaction.atomic(savepoint=False):
        chain = branch(user_turn.conversation, user_turn)
        return _streaming_answer(user_turn, model, params, chain, prompt=library_prompt, branched=True)


def start_edit(edited: Turn, prompt: str, model: ModelProfile, params: dict[str, Any]) -> Exchange:
    """An edited prompt run again: a new user turn beside `edited` (same parent),
    so the original and its answers stay reachable as another branch."""
    if edited.role != Turn.Role.USER:
        raise BadInput("Only a prompt can be edited.")
    prompt = check_prompt(prompt)
    check_model(model)
    check_run_limits(edited.conversation.owner_id)
    library_prompt, params = with_prompt(edited.conversation.owner_id, params)
    with transaction.atomic(savepoint=False):
        above = branch(edited.conversation, edited.parent) if edited.parent_id else []
        user_turn = Turn.objects.create(
            conversation=edited.conversation, parent=edited.parent, role=Turn.Role.USER, content=prompt
        )
        return _streaming_answer(
            user_turn, model, params, [*above, user_turn], prompt=library_prompt, branched=True
        )


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
