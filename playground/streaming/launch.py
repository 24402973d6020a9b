"""The one way a turn starts, for every entry: the chat socket, the views (a new
conversation, regenerate, edit), a comparison, `manage.py ask` and the
OpenAI-compatible API.

    launched = await launch(Question(owner=user, model=model, text="Why?", params={...}))

1. **Validate and store**, in one thread hop and one transaction: the prompt and
   the empty answer, with the request it is generated from built from the turns
   already in hand and stored with it (`store()`). Input a user can correct
   raises `BadInput` and stores nothing.
2. **Start the run**: the provider request goes out now, while the rest is done;
   the run's frames are held until the turn is announced.
3. **Announce** the turn to the conversation's group ("turn.started"), so every
   socket watching the conversation shows it; then release the frames.

Any failure after the store — a request that cannot be built (a missing key, an
unknown provider kind), a run that cannot start, an announcement that cannot be
sent — ends the turn the same way: saved as an error with its reason, and
"turn.done" sent to every watcher. `launch` never raises once the turn is
stored: `Launched.failed` says so, and the saved turn says why.

A caller that consumes the turn itself (`ask`, the API's SSE output) passes
`follow=True` and reads `Launched.deltas()`: every character of the reasoning
and the answer once, in order, handed over by the run as it parses each chunk
(`tap.DirectTap`: no frame interval, no channel layer; the run lives in this
process), then `await launched.outcome()` for the saved turn:

    launched = await launch(Question(user, model, prompt, params, history=earlier), follow=True)
    try:
        async for piece in launched.deltas():  # Piece(block="r" or "c", text)
            ...                                # reasoning_content / content chunks
    except asyncio.CancelledError:             # the client went away
        await launched.stop()                  # the upstream request closes; text kept
        raise
    turn = await launched.outcome()            # status, error, usage, finish_reason

`launched.failed` (no run: the saved turn's `error` says why) is known at once,
before any delta; `BadInput` is raised before anything is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction

from playground.db_threads import off_the_shared_thread
from playground.models import Conversation, ModelProfile, Turn
from playground.streaming.follower import Piece
from playground.streaming.run import TurnRun, _update_turn, begin, saved_turn, stop_run
from playground.streaming.tap import DirectTap, ToolNote
from playground.tools import max_steps
from playground.turns.errors import TurnError
from playground.turns.functions import specs as function_specs
from playground.turns.liveness import sweep_once
from playground.turns.services import (
    BadInput,
    Exchange,
    branch,
    check_model,
    clean_params,
    conversation_turns,
    lock_for_a_prompt,
    lock_for_a_prompt_column,
    model_by_id,
    runs_allowed,
    start_edit,
    start_exchange,
    start_regeneration,
)
from reasoning.request import Message

log = logging.getLogger(__name__)

# A model given as a ModelProfile, or by its id as a form or socket message has it.
ModelRef = ModelProfile | int | str | None
# How a screen renders a new exchange (its prompt and empty answer) as HTML: given by
# the screen (the chat page: conversations.fragments.render_new_exchange), since the
# runtime knows no screen.
ExchangeRenderer = Callable[[Turn, Turn], str]
# How a screen renders a finished turn once for all its sockets, from the turn as saved
# (the chat page: conversations.fragments.render_finished_once); carried in "turn.done".
FinishedRenderer = Callable[[Turn], dict[str, Any]]


# ---- what to start ------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """A new exchange: `text` answered by `model` at the end of `conversation`'s
    branch; with no conversation, in a new one of `owner`'s (its controls set to
    `params`). `params` are the raw controls; they are checked here
    (turns.services.PARAMS). `history` is stored first, as earlier turns
    at the end of the branch: the API's messages before the last prompt."""

    owner: Any
    model: ModelRef
    text: str
    params: dict[str, Any] = field(default_factory=dict)
    conversation: Conversation | None = None
    history: Sequence[Message] = ()
    # The tools the conversation offers from now on ("server" or "server:tool",
    # playground.tools); None keeps the conversation's own selection.
    tools: Sequence[str] | None = None
    # The conversation's whole branch, oldest first, as the caller has just written it
    # (the API stores a request's earlier messages first): neither it nor the
    # conversation is read again.
    branch_above: Sequence[Turn] | None = None
    # The owner's run limits as the caller read them with `model`, in the transaction
    # that stores this (`turns.services.runs_allowed`; the API's model read); None:
    # read here.
    within_limits: bool | None = None


@dataclass(frozen=True)
class Regeneration:
    """Another answer to a prompt: `turn` is the prompt or one of its answers.
    With no model, the model and controls of `turn` are used again."""

    turn: Turn
    model: ModelRef = None
    params: dict[str, Any] | None = None


@dataclass(frozen=True)
class Edit:
    """`turn`, a prompt, asked again as `text`: a new branch beside it."""

    turn: Turn
    text: str
    model: ModelRef
    params: dict[str, Any] = field(default_factory=dict)


Start = Question | Regeneration | Edit


def store(start: Start, allowed: Callable[[], bool] | None = None) -> Exchange:
    """Validate `start` and store its exchange (synchronous: views call it inside
    their own database work, then `launch_stored`). `allowed`: see `launch`."""
    if isinstance(start, Question):
        return _store_prompt(start, allowed)
    if allowed is not None and not allowed():
        raise NotAllowed
    if isinstance(start, Regeneration):
        prompt = start.turn if start.turn.role == Turn.Role.USER else start.turn.parent
        if prompt is None:
            raise BadInput("This answer has no prompt to answer again.")
        if start.model is not None:
            model = _model(start.model)
            params = clean_params(start.params or {}, model)
        elif start.turn.model is not None:
            model, params = start.turn.model, dict(start.turn.params or {})
        else:
            raise BadInput("The model of this turn no longer exists; choose one.")
        return start_regeneration(prompt, model, params)
    model = _model(start.model)
    return start_edit(start.turn, start.text, model, clean_params(start.params, model))


def _model(ref: ModelRef) -> ModelProfile:
    model = ref if isinstance(ref, ModelProfile) else model_by_id(ref)
    check_model(model)
    return model


def _prompt_model(start: Question, allowed: Callable[[], bool] | None) -> tuple[ModelProfile, bool | None]:
    """The model of a prompt, asked for by id, read with the owner's run limits, the
    socket's session check and (where rows are locked) the conversation's row locked
    for the prompt (`lock_for_a_prompt`): one statement for all; with whether the
    limits let it start (None: not read, `start_exchange` reads them). `allowed` says
    no: raises `NotAllowed` before anything else is looked at."""
    session = getattr(allowed, "columns", lambda: None)()
    owner_id = getattr(start.owner, "pk", None)
    if isinstance(start.model, ModelProfile) or (session is None and owner_id is None):
        if allowed is not None and not allowed():
            raise NotAllowed
        return _model(start.model), start.within_limits
    also = {**(session or {}), **({"runs_allowed": runs_allowed(owner_id)} if owner_id is not None else {})}
    if _reads_its_turns(start) and connection.features.has_select_for_update:
        also["conversation_locked"] = lock_for_a_prompt_column(start.conversation)  # type: ignore[arg-type]
    try:
        model = model_by_id(start.model, **also)
    except BadInput:
        if allowed is not None and not allowed():  # the session first, as when asked on its own
            raise NotAllowed from None
        raise
    if session is not None:
        if not allowed.verdict(model):  # type: ignore[union-attr]  # has columns(): a SessionCheck
            raise NotAllowed
    elif allowed is not None and not allowed():
        raise NotAllowed
    check_model(model)
    return model, getattr(model, "runs_allowed", None)


def _reads_its_turns(start: Question) -> bool:
    """A prompt that reads its conversation's turns, locked (`conversation_turns`)."""
    return start.conversation is not None and start.branch_above is None and not start.history


def _store_prompt(start: Question, allowed: Callable[[], bool] | None = None) -> Exchange:
    # One transaction from the model's read on: the run limits read with it hold until
    # the answer is stored (SQLite's immediate transactions serialise the starts).
    with transaction.atomic():  # a savepoint inside a view's transaction: it goes on after a BadInput
        model, within_limits = _prompt_model(start, allowed)
        params = clean_params(start.params, model)
        _check_prompt_start(start, model)
        conversation = start.conversation
        if conversation is None:
            conversation = Conversation.objects.create(
                owner=start.owner, model=model, settings=params, tools=list(start.tools or ())
            )
        turns = None
        if start.conversation is not None and start.branch_above is None:
            # Its leaf and title as other tabs left them, read with its turns.
            if start.history:
                conversation.refresh_from_db()
            else:
                if getattr(model, "conversation_locked", None) is None:  # not locked with the model
                    lock_for_a_prompt(conversation)
                turns = conversation_turns(conversation)
            if conversation.owner_id != getattr(start.owner, "pk", None):
                raise BadInput("No such conversation.")
            if start.tools is not None and list(start.tools) != conversation.tools:
                conversation.tools = list(start.tools)
                conversation.save(update_fields=["tools"])
        parent = None
        if start.history and start.conversation is not None:
            above = branch(conversation)
            parent = above[-1] if above else None
        for message in start.history:
            parent = Turn.objects.create(
                conversation=conversation, parent=parent, role=message.role, content=message.content,
                status=Turn.Status.COMPLETE,
            )
        known = None if start.history or start.branch_above is None else list(start.branch_above)
        return start_exchange(
            conversation, start.text, model, params, parent=parent if start.history else None, above=known,
            turns=turns, runs_allowed=within_limits,
        )


def _check_prompt_start(start: Question, model: ModelProfile) -> None:
    if not start.text.strip():
        raise BadInput("The prompt is empty.")
    if model.options.get("supports_tools") is False:
        offered = start.tools if start.tools is not None else (start.conversation.tools if start.conversation else ())
        functions = start.conversation.functions if start.conversation else ()
        if offered or functions:
            # Its capabilities say so (Providers page): refused here, not by the provider mid-run.
            raise BadInput(
                f"{model.label} takes no tools: turn the tools and functions off for this conversation, "
                "or choose another model."
            )


# ---- starting what is stored ----------------------------------------------------------------


@dataclass
class Launched:
    conversation_id: int
    group: str  # the conversation's channel-layer group: every watcher of it
    user_turn_id: int
    turn_id: int
    run: TurnRun | None = None  # None once failed: the turn is saved as an error
    error: dict[str, Any] | None = None  # why it could not start
    _tap: DirectTap | None = None  # with follow=True: the run hands its text here
    _outcome: Turn | None = None  # the saved turn, read once
    _stored: Turn | None = None  # the answer as stored at the start

    @property
    def failed(self) -> bool:
        return self.run is None

    async def deltas(self, *, tools: bool = False) -> AsyncIterator[Any]:
        """The turn's text as it streams: pieces of reasoning ("r") and answer ("c"),
        each character once and in order, as the run parses them; at the end,
        whatever the run did not hand over, from the saved turn. A reclassification
        (answer text that was reasoning) comes as two pieces with `replace` set.
        Needs `launch(..., follow=True)`.

        In a tool loop each step's text starts afresh; with `tools=True` the tool
        messages (tool_frames: tool.start/args/result/awaiting, turn.step) come
        too, as `ToolNote`s between the pieces, in order."""
        tap = self._tap
        if tap is None:
            raise RuntimeError("launch(..., follow=True) to read the deltas")
        have = {"r": 0, "c": 0}
        run = self.run
        try:
            if run is not None:  # a turn that never ran has only its saved text
                async for piece in tap.pieces():
                    if isinstance(piece, ToolNote):
                        if piece.kind == "turn.step":
                            have = {"r": 0, "c": 0}  # a new model call: its text starts at 0
                        if tools:
                            yield piece
                        continue
                    have[piece.block] = len(piece.text) if piece.replace else have[piece.block] + len(piece.text)
                    yield piece
            turn = await self.outcome()
            for block, text in (("r", turn.reasoning), ("c", turn.content)):
                if len(text) > have[block]:
                    yield Piece(block, text[have[block] :])
        finally:
            if run is not None and tap in run.taps:
                run.taps.remove(tap)

    async def outcome(self) -> Turn:
        """The turn as saved once its run has ended."""
        if self.run is not None and self.run.task is not None:
            await asyncio.shield(self.run.task)
        if self._outcome is None:  # the API's stream and its final chunk both ask
            saved = self.run.saved if self.run is not None else None
            if saved is not None and self._stored is not None:
                self._outcome = saved_turn(self._stored, saved)  # no need to read it back
            else:  # it never ran, or its final save failed: the database says what is kept
                self._outcome = await Turn.objects.select_related("model").aget(pk=self.turn_id)
        return self._outcome

    async def stop(self) -> None:
        """Stop the run (the partial text is kept, as "stopped")."""
        await stop_run(self.turn_id)


class NotAllowed(Exception):
    """`launch`'s `allowed` said no (the socket's session ended): nothing is stored."""


async def launch(
    start: Start, *, render: ExchangeRenderer | None = None, follow: bool = False,
    client: httpx.AsyncClient | None = None, allowed: Callable[[], bool] | None = None,
    render_done: FinishedRenderer | None = None,
) -> Launched:
    """Store `start`'s exchange and start its run; see the module docstring.

    `render`: render the new exchange once here, with it, for every chat socket (the
    socket that sends the prompt does; elsewhere each socket renders its own).
    `follow`: join the conversation's group first, to read `Launched.deltas()`.
    `client`: the httpx client of the run (default: the loop's pooled one).
    `allowed`: asked first, in the same thread hop as the store (a socket's session
    check; a `SessionCheck` is read with a prompt's model, in the same statement):
    False raises `NotAllowed`.
    `render_done`: render the finished turn once, in the run, for every chat socket.
    Raises `BadInput` (nothing stored) for input a user can correct.
    """
    await sweep_once()
    # One hop for the check and the store: 200 prompts sent at once would otherwise wait
    # in stages on the shared thread (every check, then every store), and no turn would
    # show its first frame before all 200 were stored.
    exchange = await database_sync_to_async(store)(start, allowed)
    (launched,) = await launch_stored(
        [exchange], render=render, follow=follow, client=client, render_done=render_done
    )
    return launched


async def launch_stored(
    exchanges: Sequence[Exchange],
    *,
    render: ExchangeRenderer | None = None,
    follow: bool = False,
    client: httpx.AsyncClient | None = None,
    render_done: FinishedRenderer | None = None,
) -> list[Launched]:
    """Start the runs of exchanges already stored (a comparison stores all its
    columns in one transaction): every run first, then every announcement, so
    each column shows its turn before any frame; a failure ends its own turn only."""
    _layer()  # no layer, no way to the watchers: fail before any run starts
    launched = []
    for exchange in exchanges:
        conversation = exchange.assistant_turn.conversation
        one = Launched(conversation.pk, conversation.group_name, exchange.user_turn.pk, exchange.assistant_turn.pk,
                       _stored=exchange.assistant_turn)
        if follow:
            one._tap = DirectTap()
        if exchange.request is None:
            one.error = exchange.assistant_turn.error or TurnError("bad_request", "not started").as_dict()
        else:
            try:
                run = TurnRun(one.turn_id, one.group, exchange.request, client=client, held=asyncio.Event(),
                              tool_selection=list(conversation.tools or ()),
                              functions=function_specs(conversation.functions),
                              max_steps=max_steps(exchange.assistant_turn.params),
                              priced_by=exchange.assistant_turn.model,
                              stored=exchange.assistant_turn, render_done=render_done)
                if one._tap is not None:
                    run.taps.append(one._tap)
                one.run = begin(run)
            except Exception as e:
                one.error = _failure(e)
        launched.append(one)
    try:
        for one, exchange in zip(launched, exchanges, strict=True):
            try:
                await _announce(one, exchange, render=render)
            except Exception as e:
                one.error = one.error or _failure(e)
                if one.run is not None:
                    await _abandon(one.run)
                    one.run = None
    finally:
        for one in launched:
            if one.run is not None and one.run.held is not None:
                one.run.held.set()
    for one, exchange in zip(launched, exchanges, strict=True):
        if one.failed:
            await _end_failed(one, saved=exchange.request is None)
    return launched


async def _announce(one: Launched, exchange: Exchange, *, render: ExchangeRenderer | None) -> None:
    message: dict[str, Any] = {"type": "turn.started", "user_turn": one.user_turn_id, "turn": one.turn_id}
    if exchange.branched:
        message["branch"] = True  # the branch on show changed: sockets render it whole
    elif render is not None:
        try:
            message["html"] = await off_the_shared_thread(render)(
                exchange.user_turn, exchange.assistant_turn
            )
        except Exception:  # each socket renders its own instead
            log.warning("turn %s: the new exchange did not render", one.turn_id, exc_info=True)
    await _layer().group_send(one.group, message)


async def _abandon(run: TurnRun) -> None:
    """A run whose turn could not be announced: stop it and wait for its save."""
    if run.held is not None:
        run.held.set()
    # A task cancelled before it first runs never runs its body, so the run would
    # neither save nor leave RUNS: let it start first.
    await asyncio.sleep(0)
    run.stop()
    if run.task is not None:
        await asyncio.gather(asyncio.shield(run.task), return_exceptions=True)


def _layer() -> BaseChannelLayer:
    layer = get_channel_layer()
    if layer is None:
        raise ImproperlyConfigured("CHANNEL_LAYERS names no default layer: runs have no way to their watchers")
    return layer


def _failure(e: Exception) -> dict[str, Any]:
    log.warning("a turn could not start: %s", e, exc_info=True)
    return TurnError("bad_request", f"The turn could not start: {e}").as_dict()


async def _end_failed(one: Launched, *, saved: bool) -> None:
    """The one way a turn that never ran ends: an error with its reason, told to every watcher."""
    if not saved:
        try:
            await database_sync_to_async(_update_turn)(
                one.turn_id, {"status": Turn.Status.ERROR, "error": one.error}, True
            )
        except Exception:
            log.exception("turn %s: its failure to start was not saved", one.turn_id)
    try:
        await _layer().group_send(one.group, {"type": "turn.done", "turn": one.turn_id})
    except Exception:
        log.exception("turn %s: turn.done not sent", one.turn_id)
