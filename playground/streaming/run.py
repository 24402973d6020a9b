"""A run drives one generation, apart from any socket.

    adapter events ──> TurnRun.main ──(pending text)──> flusher ──> channel layer group
                              │                                   "conversation-<id>"
                              └──────────> checkpointer (≤ 1 write / CHECKPOINT_INTERVAL)

The per-delta path only appends to lists and sets an event: no database call,
no channel-layer send. The flusher sends the first delta at once and then at
most one frame per FRAME_INTERVAL; each frame carries the offsets of its text,
so a watcher that missed frames (a dropped message, a late socket) notices the
gap and asks the run for the missing text ("run.resume"). The run listens on the
group "run-<turn id>", so Stop and resume reach it from any worker.

Cancelling the task (Stop) raises inside the adapter's `async with` stream, which
closes the upstream HTTP request; the partial text is saved as "stopped".

The end of a run is always, in this order: the last frame, the final save, then
"turn.done" to the group. Sockets re-render the turn from the database on
"turn.done", so the save must come first; a frame that a slow layer delivers
after "turn.done" is ignored by the sockets (they forget the turn on "turn.done").
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import logging
import time
import traceback
import weakref
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings
from django.db.models.functions import Now

from playground import statements
from playground.db_threads import detached_context, off_the_shared_thread
from playground.models import ModelProfile, Turn, decimal_that_fits
from playground.operations import context, heap, metrics
from playground.security.secrets import Scrubber
from playground.streaming import checkpoint as checkpoints
from playground.streaming import tool_frames
from playground.streaming.layers import InMemoryChannelLayer
from playground.streaming.tap import DirectTap
from playground.turns.errors import TurnError
from playground.turns.liveness import LIVE_RUNS, WORKER_ID
from reasoning import replay as stored_replay
from reasoning.adapters.selection import adapter_for
from reasoning.checked import Checked
from reasoning.errors import ProviderError
from reasoning.events import (
    CallDone,
    ContentDelta,
    Event,
    Finish,
    ReasoningDelta,
    Reclassified,
    ReplayData,
    ToolCallDone,
    ToolCallStart,
    Usage,
)
from reasoning.request import ChatRequest, Message, PreparedRequest, ToolCall, ToolSpec
from reasoning.toolbox import Toolbox
from reasoning.toolbox import steps as tool_steps
from reasoning.toolbox.functions import with_functions
from reasoning.wire import make_client

log = logging.getLogger(__name__)

RUNS: dict[int, TurnRun] = LIVE_RUNS  # turn id -> live run in this process (liveness spares them)
# One pooled client per event loop: a client's connections belong to the loop
# that opened them (tests and the `ask` command each run their own loop). It is
# made again if the timeout settings change (tests use small ones).
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[tuple[Any, ...], httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def http_client() -> httpx.AsyncClient:
    """The pooled client of the running loop, sized for many long, mostly silent streams.

    The read timeout applies to each read, so it is both "no first byte within
    the timeout" and "a stall mid-stream longer than the timeout".
    """
    loop = asyncio.get_running_loop()
    knobs = (
        float(settings.UPSTREAM_READ_TIMEOUT),
        float(settings.UPSTREAM_CONNECT_TIMEOUT),
        float(settings.UPSTREAM_POOL_TIMEOUT),
        float(settings.UPSTREAM_MAX_CONNECTIONS),
        str(settings.UPSTREAM_HTTP),
    )
    known, client = _clients.get(loop, ((), None))
    if client is None or client.is_closed or known != knobs:
        client = make_client(
            read_timeout=knobs[0],
            connect_timeout=knobs[1],
            pool_timeout=knobs[2],
            max_connections=int(knobs[3]),
            backend=knobs[4],
        )
        _clients[loop] = (knobs, client)
    return client


# How long a run's end waits for its helpers (the checkpointer, the listener) to stop
# after cancelling them: each stops at once unless a cancel was lost (`_listener`).
HELPERS_GRACE = 1.0


def run_group(turn_id: int) -> str:
    return f"run-{turn_id}"


@dataclass
class TurnRun:
    turn_id: int
    group: str  # the conversation's group: every socket watching it
    request: ChatRequest
    source_prepared: PreparedRequest | None = None
    # The turn's model as it was when the turn started (its prices): the final save
    # prices the turn from it rather than reading the turn and its model back.
    priced_by: ModelProfile | None = None
    # The answer as stored when the turn started, and how a screen renders it once
    # finished: given both, the run renders the saved turn once, for every socket,
    # and carries it in "turn.done" (each socket rendering it again from the database
    # cost four queries per socket per turn: issue 23.3).
    stored: Turn | None = None
    render_done: Callable[[Turn], dict[str, Any]] | None = None
    layer: BaseChannelLayer | None = None
    client: httpx.AsyncClient | None = None
    # Every provider string passes through it before it is kept (security.secrets);
    # made from the request's provider unless given (with extra secrets, say).
    scrubber: Scrubber = None  # type: ignore[assignment]

    reasoning: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    replay: dict[str, Any] | None = None  # reasoning.replay's one stored shape
    calls: list[CallDone] = field(default_factory=list)  # a chain of thought's two calls; a tool loop's steps
    usage: Usage | None = None
    finish_reason: str | None = None
    status: str = Turn.Status.STREAMING
    error: dict[str, Any] | None = None
    first_reasoning_ms: int | None = None
    first_content_ms: int | None = None
    last_reasoning_ms: int | None = None
    upstream_error: str | None = None  # the ProviderError's kind, for /metrics

    _r_len: int = 0
    _c_len: int = 0
    _r_sent: int = 0  # offsets up to which frames have been published
    _c_sent: int = 0
    _started: float = 0.0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _nap_future: asyncio.Future[None] | None = None
    _dirty: bool = False
    _finishing: bool = False
    # Set while the turn is not yet announced to its watchers: frames wait for it,
    # so none reaches a socket before the turn it belongs to (see launch.py).
    held: asyncio.Event | None = None
    _reclassified: bool = False  # the answer so far became reasoning; the next frame says so
    task: asyncio.Task[None] | None = None
    # Readers in this process (the API, `ask`) given each piece as it is parsed (tap.py).
    taps: list[DirectTap] = field(default_factory=list)
    frames_sent: int = 0
    saves: int = 0
    saved: dict[str, Any] | None = None  # the fields of the final save, once it succeeded

    # ---- the tool loop (see `_loop`) ----
    # What the conversation offers ("server" or "server:tool" entries); the toolbox
    # is opened from it when the run starts, unless one is given (tests, toolpage).
    tool_selection: list[str] = field(default_factory=list)
    # Functions a person answers (playground.turns.functions): offered beside
    # the selection's tools; a call of one pauses the turn.
    functions: list[ToolSpec] = field(default_factory=list)
    toolbox: Toolbox | None = None
    max_steps: int = 8
    steps: list[dict[str, Any]] = field(default_factory=list)  # finished steps (reasoning.toolbox.steps)
    step: int = 0  # index of the step streaming now; its text is `reasoning`/`content`
    _step_calls: dict[int, dict[str, Any]] = field(default_factory=dict)  # its tool calls, by index
    _outbox: list[dict[str, Any]] = field(default_factory=list)  # tool messages, sent after the text
    _send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _step_usage: Usage | None = None
    _step_open: bool = True  # the streaming step is not yet in `steps`
    _notices: list[str] = field(default_factory=list)  # for the user: servers that did not start
    _step_started_ms: int = 0  # when the current step's model call began
    _step_first_content_ms: int | None = None
    # The answer's start went to the watchers with the thinking time (`_thought_clock`).
    _thought_time_sent: bool = False

    def __post_init__(self) -> None:
        if self.scrubber is None:
            self.scrubber = Scrubber.for_provider(self.request.provider)

    # ---- the per-delta path: keep it to appends and a flag --------------------------

    def _on_reasoning(self, text: str) -> None:
        now = self._elapsed_ms()
        if self.first_reasoning_ms is None:
            self.first_reasoning_ms = now
        self.last_reasoning_ms = now
        self.reasoning.append(text)
        self._r_len += len(text)
        self._dirty = True
        self._wake.set()
        for tap in self.taps:
            tap.delta("r", text)

    def _on_content(self, text: str) -> None:
        if self._step_first_content_ms is None:
            self._step_first_content_ms = self._elapsed_ms()
        if self.first_content_ms is None:
            self.first_content_ms = self._elapsed_ms()
            # The answer starting is news (the page folds the thought): its first
            # frame goes now, not at the end of the current frame interval.
            self._end_nap()
        self.content.append(text)
        self._c_len += len(text)
        self._dirty = True
        self._wake.set()
        for tap in self.taps:
            tap.delta("c", text)

    def _on_reclassified(self, *, keep: bool = True) -> None:
        """A close tag with no open tag: the answer so far was reasoning (dropped when
        reasoning is hidden). Rare (once per turn at most), so it may copy the text;
        the next frame replaces both blocks."""
        moved = "".join(self.content)
        if not moved:
            return
        if keep:
            self.reasoning.append(moved)
            self._r_len += len(moved)
        self.content.clear()
        self._c_len = 0
        now = self._elapsed_ms()
        if self.first_reasoning_ms is None and keep:
            self.first_reasoning_ms = self.first_content_ms
        self.last_reasoning_ms = now if keep else self.last_reasoning_ms
        self.first_content_ms = None  # the answer has not started after all
        self._thought_time_sent = False
        self._reclassified = True
        self._dirty = True
        self._wake.set()
        self._end_nap()
        for tap in self.taps:
            tap.replace("".join(self.reasoning), "")

    def _elapsed_ms(self) -> int:
        return int((time.monotonic() - self._started) * 1000)

    # ---- the run ---------------------------------------------------------------------

    async def main(self) -> None:
        self.layer = self.layer or get_channel_layer()
        self.client = self.client or http_client()
        self._started = time.monotonic()
        context.turn_id.set(self.turn_id)  # log lines of this run and its helpers name the turn
        metrics.run_started(self)
        flusher = asyncio.create_task(self._flusher(), name=f"flush-{self.turn_id}")
        others = [
            asyncio.create_task(self._checkpointer(), name=f"checkpoint-{self.turn_id}"),
            asyncio.create_task(self._listener(), name=f"listen-{self.turn_id}"),
        ]
        scrub = self.scrubber
        r_stream, c_stream = scrub.stream(), scrub.stream()
        try:
            if self.tool_selection and self.toolbox is None:
                self.toolbox = await _open_toolbox(self.tool_selection)
            self.toolbox = with_functions(self.toolbox, self.functions)
            if self.toolbox is not None and self.toolbox.specs:
                self.request = dataclasses.replace(self.request, tools=self.toolbox.specs)
            for server, why in self.toolbox.problems if self.toolbox is not None else ():
                # A server that could not start: its tools are not offered, and the user is told.
                self._notices.append(self.scrubber.scrub(f"The MCP server {server} is not available: {why}"))
                self._post(tool_frames.tool_notice(self.turn_id, self.step, self._notices[-1]))
            while True:
                await self._stream_step(r_stream, c_stream)
                if not self._step_calls or self.toolbox is None:
                    break  # a step without calls: its content is the answer
                if self.finish_reason in ("length", "content_filter"):
                    break  # its calls were cut off: never run half-written arguments
                if await self._tool_step(r_stream, c_stream):
                    break  # the loop ended: a call awaits a person, or the step limit
            if self.status == Turn.Status.STREAMING:
                self.status = Turn.Status.COMPLETE
        except asyncio.CancelledError:
            self.status = Turn.Status.STOPPED
            self.finish_reason = "cancelled"
            # Stop is an outcome, not a failure: the task goes on to save.
            if (task := asyncio.current_task()) is not None:
                task.uncancel()
        except ProviderError as e:
            self.status = Turn.Status.ERROR
            self.error = scrub.scrub_data(e.as_dict())
            self.upstream_error = e.kind
        except _StepLimit:
            self.status = Turn.Status.ERROR
            self.error = TurnError("step_limit", (
                f"The tool loop stopped at its limit of {self.max_steps} model calls; the last step's tool calls "
                "were not run. Raise max_steps to let the model go on."
            )).as_dict()
        except _TooLong:
            self.status = Turn.Status.ERROR
            limit = settings.MAX_TURN_CHARS
            self.error = TurnError("too_long", f"The answer passed {limit:,} characters and was cut there.").as_dict()
        except Exception as e:
            # The traceback's text goes through the scrubber too: an exception may quote
            # what the provider sent.
            log.error("run of turn %s failed: %s", self.turn_id, scrub.scrub(traceback.format_exc()))
            self.status = Turn.Status.ERROR
            self.error = TurnError("internal", scrub.scrub(f"{type(e).__name__}: {e}")).as_dict()
        finally:
            # A tail held back as the possible start of a secret was not one.
            if text := r_stream.flush():
                self._on_reasoning(text)
            if text := c_stream.flush():
                self._on_content(text)
            if self.steps or self._step_calls or self.toolbox is not None:
                self._close_step()  # the last step joins the others
                for call in self.steps[-1]["tool_calls"]:
                    if call["result"] is None and call["status"] == tool_steps.RUNNING:
                        call["status"] = "not_run"  # stopped, failed or cut by the step limit
            if self.toolbox is not None:
                # Stop a stdio server's process before the turn is done, whatever ended the turn.
                await self._shielded(_close_toolbox(self.toolbox))
            self._finishing = True
            # The flusher is not cancelled mid-send: `_finishing` tells it to send
            # the last frame and return, so no published offset is ever lost.
            self._wake.set()
            self._end_nap()
            for helper in others:
                helper.cancel()
            await self._shielded(self._end(flusher, others))

    async def _stream_step(self, r_stream: Any, c_stream: Any) -> None:
        """One model call: its events into the current step."""
        scrub = self.scrubber
        # Every provider value is checked where it enters (reasoning.checked).
        adapter = Checked(adapter_for(self.request))
        if self.toolbox is not None:
            # Each call of a tool loop is kept for the inspector (Turn.sent["calls"]).
            prepared = scrub.redact_request(adapter.prepare(self.request))
            self.calls.append(CallDone(step=f"step {self.step + 1}", request=prepared, usage=Usage()))
        # aclosing: whatever ends the loop (Stop, an error here), the adapter's
        # `async with` exits now and closes the upstream request. (Adapters are
        # async generators; their protocol says only AsyncIterator.)
        assert self.client is not None
        stream = cast(AsyncGenerator[Event, None], adapter.stream(self.request, self.client))
        async with contextlib.aclosing(stream) as events:
            async for event in events:
                if self._r_len + self._c_len > settings.MAX_TURN_CHARS:
                    raise _TooLong
                if isinstance(event, ReasoningDelta):
                    if text := r_stream.feed(event.text):
                        self._on_reasoning(text)
                elif isinstance(event, ContentDelta):
                    if text := c_stream.feed(event.text):
                        self._on_content(text)
                elif isinstance(event, Usage):
                    self._step_usage = event
                    self.usage = _added(self.usage, event) if self.step else event
                elif isinstance(event, Reclassified):
                    self._on_reclassified(keep=event.keep)
                elif isinstance(event, ReplayData):
                    self.replay = stored_replay.fold(self.replay, scrub.scrub_data(event.payload))
                elif isinstance(event, Finish):
                    self.finish_reason = scrub.scrub(event.reason) if event.reason else event.reason
                elif isinstance(event, ToolCallStart):
                    self._on_call_start(event)
                elif isinstance(event, ToolCallDone):
                    self._on_call_done(event)
                elif isinstance(event, CallDone):
                    self.calls.append(dataclasses.replace(event, request=scrub.redact_request(event.request)))
        if self.toolbox is not None and self.calls and self._step_usage is not None:
            self.calls[-1] = dataclasses.replace(self.calls[-1], usage=self._step_usage)

    # ---- the tool loop ---------------------------------------------------------------------

    def _on_call_start(self, event: ToolCallStart) -> None:
        server = self.toolbox.server_of(event.name) if self.toolbox is not None else ""
        call = tool_steps.new_call(self.scrubber.scrub(event.id), self.scrubber.scrub(event.name), server=server)
        self._step_calls[event.index] = call
        self._post(tool_frames.tool_start(self.turn_id, self.step, event.index, call))

    def _on_call_done(self, event: ToolCallDone) -> None:
        call = self._step_calls.get(event.index)
        if call is None:  # an adapter that gives only the finished call
            server = self.toolbox.server_of(event.name) if self.toolbox is not None else ""
            call = self._step_calls[event.index] = tool_steps.new_call(event.id, event.name, server=server)
            self._post(tool_frames.tool_start(self.turn_id, self.step, event.index, call))
        call.update(
            id=self.scrubber.scrub(event.id) or call["id"],
            name=self.scrubber.scrub(event.name) or call["name"],
            arguments=self.scrubber.scrub(event.arguments),
        )
        self._dirty = True
        self._post(tool_frames.tool_args(self.turn_id, self.step, event.index, call))

    def _post(self, message: dict[str, Any]) -> None:
        """A tool message for the watchers: it goes after the text streamed before it
        (the frames wait for the flush; a tap has had that text already)."""
        for tap in self.taps:
            tap.note(message)
        self._outbox.append(message)
        self._wake.set()
        self._end_nap()

    async def _tool_step(self, r_stream: Any, c_stream: Any) -> bool:
        """The current step ended with tool calls: run them (at once, in parallel),
        then start the next step. True when the loop ends here instead: a call
        is answered by hand (the turn waits, "awaiting_tool"), or the step limit."""
        assert self.toolbox is not None
        if self.step + 1 >= self.max_steps:
            raise _StepLimit
        if text := r_stream.flush():
            self._on_reasoning(text)
        if text := c_stream.flush():
            self._on_content(text)
        step = self._close_step()
        toolbox = self.toolbox

        async def run(index: int, call: dict[str, Any]) -> None:
            if toolbox.answers_later(call["name"]):
                call["status"] = tool_steps.AWAITING
                self._post(tool_frames.tool_awaiting(self.turn_id, self.step, index, call))
                return
            result = await toolbox.call(ToolCall(call["id"], call["name"], call["arguments"]))
            call.update(
                result=self.scrubber.scrub(result.content),
                is_error=result.is_error,
                server=result.server or call["server"],
                duration_ms=result.duration_ms,
                status=tool_steps.DONE,
            )
            self._dirty = True
            self._post(tool_frames.tool_result(self.turn_id, self.step, index, call))

        indexed = sorted(self._step_calls.items())
        await asyncio.gather(*(run(index, call) for index, call in indexed))
        if tool_steps.awaiting([step]):
            self.status = Turn.Status.AWAITING_TOOL
            return True
        await self._next_step(step)
        return False

    def _close_step(self) -> dict[str, Any]:
        """The current step, finished, joins `steps` (once)."""
        if not self._step_open:
            return self.steps[-1]
        step = tool_steps.new_step(tool_steps_source(self.request))
        step.update(
            reasoning="".join(self.reasoning),
            content="".join(self.content),
            replay=self.replay,
            finish_reason=self.finish_reason or "",
            tool_calls=[call for _, call in sorted(self._step_calls.items())],
        )
        if self._notices and not self.steps:
            step["notices"] = list(self._notices)
        # The step's own timings: thinking until its text began (or its last thought), and all of it.
        now = self._elapsed_ms()
        thought_until = self._step_first_content_ms or self.last_reasoning_ms
        step["thinking_ms"] = (
            max((thought_until or now) - self._step_started_ms, 0) if step["reasoning"] else None
        )
        step["duration_ms"] = max(now - self._step_started_ms, 0)
        self.steps.append(step)
        self._step_open = False
        self._dirty = True
        return step

    async def _next_step(self, step: dict[str, Any]) -> None:
        """Send what is left of the last step, save it, and start the next one: the
        request gains the step and its results (reasoning.toolbox.steps)."""
        if self.held is not None:
            await self.held.wait()
        async with self._send_lock:
            await self._send_frame()
            self.reasoning, self.content = [], []
            self._r_len = self._c_len = self._r_sent = self._c_sent = 0
            self.replay = None
            self.finish_reason = None
            self._step_calls = {}
            self._step_usage = None
            self._step_open = True
            self._step_started_ms = self._elapsed_ms()
            self._step_first_content_ms = None
            self.step += 1
            self.request = dataclasses.replace(
                self.request, messages=[*self.request.messages, *next_messages(step, self.request)]
            )
            # Saved before it is announced: a watcher that re-renders on "turn.step" finds it.
            self._dirty = True
            await self._save(final=False)
            assert self.layer is not None
            boundary = tool_frames.turn_step(self.turn_id, self.step)
            for tap in self.taps:
                tap.note(boundary)
            await self.layer.group_send(self.group, boundary)

    async def _shielded(self, work: Any) -> None:
        """Run the end of a run to completion even if this task is cancelled again
        (a second Stop, server shutdown): the final save must happen."""
        inner = asyncio.ensure_future(work)
        while not inner.done():
            try:
                await asyncio.shield(inner)
            except asyncio.CancelledError:
                if (task := asyncio.current_task()) is not None:
                    task.uncancel()

    async def _end(self, flusher: asyncio.Task[None], others: list[asyncio.Task[None]]) -> None:
        try:
            try:
                await asyncio.wait_for(flusher, timeout=5)
            except Exception:
                log.warning("turn %s: last frame not sent", self.turn_id, exc_info=True)
            # Bounded: the final save and "turn.done" must not wait on a helper that a
            # lost cancel keeps alive (see `_listener`); one still there is cancelled again.
            _, late = await asyncio.wait(others, timeout=HELPERS_GRACE)
            for helper in late:
                log.warning("turn %s: %s still running at the end; cancelled again", self.turn_id, helper.get_name())
                helper.cancel()
            try:
                await self._save(final=True)
            except Exception:
                log.error("turn %s: final save failed: %s", self.turn_id, self.scrubber.scrub(traceback.format_exc()))
                await self._save_text_only()
        except Exception:
            log.exception("turn %s: final save failed", self.turn_id)
        finally:
            RUNS.pop(self.turn_id, None)
            for tap in self.taps:
                tap.end()
            try:
                metrics.run_ended(self, self.upstream_error)
            except Exception:
                log.warning("turn %s: metrics not recorded", self.turn_id, exc_info=True)
            assert self.layer is not None
            done: dict[str, Any] = {"type": "turn.done", "turn": self.turn_id}
            if self.render_done is not None and self.stored is not None and self.saved is not None:
                try:
                    done["finished"] = await off_the_shared_thread(self.render_done)(
                        saved_turn(self.stored, self.saved)
                    )
                except Exception:  # each socket renders its own from the database
                    log.warning("turn %s: the finished turn did not render", self.turn_id, exc_info=True)
            try:
                await self.layer.group_send(self.group, done)
            except Exception:
                log.exception("turn %s: turn.done not sent", self.turn_id)
            heap.run_ended(len(RUNS))

    async def _flusher(self) -> None:
        interval = settings.FRAME_INTERVAL
        loop = asyncio.get_running_loop()
        if self.held is not None:
            await self.held.wait()
        while True:
            await self._wake.wait()
            self._wake.clear()
            async with self._send_lock:
                await self._send_frame()
            if self._finishing:
                # The run may have ended while that frame was being sent, with
                # deltas still unsent: they go now (a no-op when there are none).
                async with self._send_lock:
                    await self._send_frame()
                return
            # Coalesce: whatever arrives during the interval goes in the next frame.
            await self._nap(loop, interval)

    async def _nap(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        """Sleep that `_end_nap` cuts short (the run's end, the first answer delta).

        A future and a timer rather than `wait_for` on an event: this runs once per
        frame per turn, and `wait_for` creates a task each time."""
        nap = self._nap_future = loop.create_future()
        timer = loop.call_later(seconds, _wake_up, nap)
        try:
            await nap
        finally:
            timer.cancel()
            self._nap_future = None

    def _end_nap(self) -> None:
        if self._nap_future is not None:
            _wake_up(self._nap_future)

    async def _send_frame(self) -> None:
        await self._send_text_frame()
        while self._outbox:
            assert self.layer is not None
            await self.layer.group_send(self.group, self._outbox.pop(0))

    async def _send_text_frame(self) -> None:
        if self._reclassified:
            # Offsets start again: both blocks are replaced with the whole texts.
            self._reclassified = False
            frame = {
                "type": "turn.reclassified",
                "turn": self.turn_id,
                "r": "".join(self.reasoning),
                "c": "".join(self.content),
            }
            if self.step:
                frame["step"] = self.step
            self._r_sent, self._c_sent = self._r_len, self._c_len
            self.frames_sent += 1
            assert self.layer is not None
            await self.layer.group_send(self.group, frame)
            return
        r_new = self._r_len - self._r_sent
        c_new = self._c_len - self._c_sent
        if not (r_new or c_new):
            return
        assert self.layer is not None
        if not _may_have_members(self.layer, self.group):
            # No socket of this process watches (a /v1 turn, most of the time): the
            # frame would be dropped by the layer, so it is not built; what sending
            # it changes in the run (offsets, the thought clock) changes all the same.
            # A socket that joins later resumes from the run's text, as it would
            # after a dropped frame.
            if not self.step and self.first_content_ms is not None:
                self._thought_time_sent = True
            self._r_sent, self._c_sent = self._r_len, self._c_len
            return
        frame = {
            "type": "turn.frame",
            "turn": self.turn_id,
            "r_off": self._r_sent,
            "r": _tail(self.reasoning, r_new),
            "c_off": self._c_sent,
            "c": _tail(self.content, c_new),
        }
        if self.step:  # offsets start again at each step of a tool loop
            frame["step"] = self.step
        else:
            self._thought_clock(frame, r_new)
        self._r_sent, self._c_sent = self._r_len, self._c_len
        self.frames_sent += 1
        assert self.layer is not None
        await self.layer.group_send(self.group, frame)

    def _thought_clock(self, frame: dict[str, Any], r_new: int) -> None:
        """The run's own measure of the thinking, for the page's thought label (issue
        21.9): the label the reader sees must end on the figure the finished turn shows
        (`thinking_ms`), which counts from this run's start on this process's clock, not
        from the turn's creation on the browser's. While thinking, a frame with reasoning
        carries the thinking time up to its newest reasoning (the page counts on from it);
        the frame that starts the answer carries when it started, the final figure."""
        if self.first_content_ms is not None:
            if not self._thought_time_sent:
                self._thought_time_sent = True
                frame["thought_ms"] = self.first_content_ms
        elif r_new and self.last_reasoning_ms is not None:
            frame["think_ms"] = self.last_reasoning_ms

    async def _checkpointer(self) -> None:
        # Also the heartbeat: a streaming turn that stops being checkpointed
        # belongs to a dead process (see liveness.mark_interrupted).
        interval = float(settings.CHECKPOINT_INTERVAL)
        after = interval
        while True:
            # On the process's grid: every run's checkpoint goes in one batch (checkpoint.writer).
            await checkpoints.next_tick(interval, after=after)
            after = interval / 2
            try:
                await self._save(final=False)
            except Exception:  # a busy database delays a checkpoint; it must not end the run
                log.warning("turn %s: checkpoint failed", self.turn_id, exc_info=True)

    async def _listener(self) -> None:
        assert self.layer is not None
        channel = await self.layer.new_channel()
        await self.layer.group_add(run_group(self.turn_id), channel)
        try:
            # A cancel can be lost in the layer: channels_redis's pub/sub layer, under
            # load, returned from subscribing a short run's listener as if never
            # cancelled, and the listener then waited in `receive` for ever (and the run
            # on it, before its final save: the CI failure of
            # scaleout/test_metrics_workers.py). So the listener also stops on its own
            # once the run is finishing; a cancel during `receive` is never lost.
            while not self._finishing:
                message = await self.layer.receive(channel)
                if message.get("type") == "run.stop":
                    self.stop()
                elif message.get("type") == "run.resume":
                    await self._resume(message)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.layer.group_discard(run_group(self.turn_id), channel))

    async def _resume(self, message: dict[str, Any]) -> None:
        """Send one watcher everything from its offsets on (it trims what it has)."""
        r_off, c_off = max(int(message.get("r_off", 0)), 0), max(int(message.get("c_off", 0)), 0)
        if int(message.get("step", 0) or 0) != self.step:
            r_off = c_off = 0  # the watcher is a step behind: this step from its start
        frame = {
            "type": "turn.resumed",
            "turn": self.turn_id,
            "r_off": r_off,
            "r": "".join(self.reasoning)[r_off:],
            "c_off": c_off,
            "c": "".join(self.content)[c_off:],
        }
        if self.step:
            frame["step"] = self.step
        if self._step_calls:
            # A page that loads while the step's calls run shows their cards at once.
            frame["calls"] = copy.deepcopy([call for _, call in sorted(self._step_calls.items())])
        assert self.layer is not None
        await self.layer.send(message["reply_to"], frame)

    def stop(self) -> None:
        # Once the run is finishing, a cancel could only interrupt its final save.
        if self.task is not None and not self.task.done() and not self._finishing:
            self.task.cancel()

    async def _save(self, *, final: bool) -> None:
        self.saves += 1
        if not final and not self._dirty:
            await checkpoints.writer.save(self.turn_id, None)  # liveness.heartbeat's UPDATE
            return
        self._dirty = False
        fields: dict[str, Any] = {
            "reasoning": "".join(self.reasoning),
            "content": "".join(self.content),
            "first_reasoning_ms": self.first_reasoning_ms,
            "first_content_ms": self.first_content_ms,
            "heartbeat_at": Now(),  # the database's clock, shared by all workers
            "worker": WORKER_ID,  # if this process dies, the others interrupt the turn (operations.heartbeat)
        }
        if self.steps:
            # A copy: the thread that writes it must not see a result land mid-write.
            fields["steps"] = copy.deepcopy(self.steps)
        if final:
            fields.update(self._final_fields())
            if self.priced_by is not None:
                fields["cost"] = _cost(self.priced_by, fields)
        if final:
            await database_sync_to_async(_update_turn)(self.turn_id, fields, final)
        else:
            # With every other run's checkpoint of this turn of the loop, in one hop.
            await checkpoints.writer.save(self.turn_id, fields)
        if final:
            # What the row now holds besides what it was made with (the database's
            # clock apart): a reader in this process need not read it back (Launched.outcome).
            self.saved = {k: v for k, v in fields.items() if not hasattr(v, "resolve_expression")}

    async def _save_text_only(self) -> None:
        """The final save failed on some value: keep the text, and say so."""
        fields: dict[str, Any] = {
            "reasoning": "".join(self.reasoning).replace("\x00", ""),
            "content": "".join(self.content).replace("\x00", ""),
            "status": Turn.Status.ERROR,
            "error": TurnError(
                "internal",
                "The text is kept, but the details the provider sent with it "
                "(token counts, finish reason) could not be saved.",
            ).as_dict(),
            "heartbeat_at": Now(),
        }
        await database_sync_to_async(_update_turn_fields)(self.turn_id, fields)

    def _final_fields(self) -> dict[str, Any]:
        u = self.usage or Usage()
        thinking_end = self.first_content_ms or self.last_reasoning_ms
        finish = self.finish_reason or ""
        return {
            "status": self.status,
            "error": self.error,
            "finish_reason": finish,
            "replay": self.replay,
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "reasoning_tokens": u.reasoning_tokens,
            "reasoning_tokens_estimated": u.reasoning_tokens_estimated,
            "cached_tokens": u.cached_tokens,
            "thinking_ms": thinking_end if self.first_reasoning_ms is not None else None,
            "duration_ms": self._elapsed_ms(),
            **({"sent": sent_with_calls(self.calls)} if self.calls else {}),
            "steps": copy.deepcopy(self.steps),
        }


class _StepLimit(Exception):
    """The tool loop reached `max_steps` model calls with tools still being called."""


async def _open_toolbox(selection: list[str]) -> Toolbox:
    from playground import tools  # the MCP SDK is loaded only by turns that use tools

    configs, problems = await database_sync_to_async(tools.server_configs)(selection)
    return await tools.open_toolbox(configs, problems)


async def _close_toolbox(toolbox: Toolbox) -> None:
    try:
        await toolbox.aclose()
    except Exception:
        log.warning("a toolbox did not close", exc_info=True)


def tool_steps_source(request: ChatRequest) -> str:
    return f"{request.provider.kind}:{request.model.model_id}"


def next_messages(step: dict[str, Any], request: ChatRequest) -> list[Message]:
    """What the next request of a tool loop adds: the step with its calls, then their results."""
    return tool_steps.step_messages(step, tool_steps_source(request))


def _added(a: Usage | None, b: Usage) -> Usage:
    """Token counts of two calls together (None stays None only where both are)."""
    if a is None:
        return b

    def plus(x: int | None, y: int | None) -> int | None:
        return None if x is None and y is None else (x or 0) + (y or 0)

    return Usage(
        prompt_tokens=plus(a.prompt_tokens, b.prompt_tokens),
        completion_tokens=plus(a.completion_tokens, b.completion_tokens),
        reasoning_tokens=plus(a.reasoning_tokens, b.reasoning_tokens),
        cached_tokens=plus(a.cached_tokens, b.cached_tokens),
        # one estimated part makes the sum an estimate
        reasoning_tokens_estimated=a.reasoning_tokens_estimated or b.reasoning_tokens_estimated,
    )


class _TooLong(Exception):
    """The turn's text passed MAX_TURN_CHARS: the provider is cut off, the text kept."""


def _sent(prepared: PreparedRequest) -> dict[str, Any]:
    return {"method": prepared.method, "url": prepared.url, "headers": dict(prepared.headers), "body": prepared.json}


def sent_with_calls(calls: list[CallDone]) -> dict[str, Any]:
    """`Turn.sent` of a multi-call turn: the first call as for any turn, and under
    "calls" every call with its step and its own token counts."""
    steps = [
        {
            "step": call.step,
            **_sent(call.request),
            "usage": {
                "prompt_tokens": call.usage.prompt_tokens,
                "completion_tokens": call.usage.completion_tokens,
                "reasoning_tokens": call.usage.reasoning_tokens,
            },
        }
        for call in calls
    ]
    return {**_sent(calls[0].request), "calls": steps}


def _wake_up(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _may_have_members(layer: Any, group: str) -> bool:
    """False only when the layer is this process's own and the group is empty (a
    layer shared with other processes, Redis, cannot tell; nor can a wrapper)."""
    return type(layer) is not InMemoryChannelLayer or layer.has_members(group)


def _tail(parts: list[str], n: int) -> str:
    """The last `n` characters of the concatenation of `parts`, touching only the parts needed."""
    if n == 0:
        return ""
    out: list[str] = []
    for part in reversed(parts):
        if n <= 0:
            break
        if len(part) <= n:
            out.append(part)
            n -= len(part)
        else:
            out.append(part[-n:])
            n = 0
    return "".join(reversed(out))


def _cost(model: ModelProfile, fields: dict[str, Any]) -> Any:
    cost = model.cost(fields.get("prompt_tokens"), fields.get("completion_tokens"))
    return None if cost is None else decimal_that_fits(cost, Turn._meta.get_field("cost"))


def saved_turn(stored: Turn, saved: dict[str, Any]) -> Turn:
    """The row as it now is: what was stored at the start with the run's final save
    over it (`TurnRun.saved`), without reading it back."""
    turn = copy.copy(stored)
    for name, value in saved.items():
        setattr(turn, name, value)
    return turn


def _update_turn(turn_id: int, fields: dict[str, Any], final: bool) -> None:
    if final and "cost" not in fields:  # a run not given its model (priced_by) reads it
        turn = Turn.objects.select_related("model").get(pk=turn_id)
        if turn.model is not None:
            fields["cost"] = _cost(turn.model, fields)
    # Only a streaming turn is checkpointed: a turn marked interrupted by a sweep
    # while this process was paused is not overwritten by a late checkpoint.
    # The final save does overwrite it: the run did finish, and its outcome is true.
    if final:
        _final_save(turn_id, fields)  # the statement compiled once per set of fields
    else:
        checkpoints.checkpoint(turn_id, fields)  # the same UPDATE, compiled once


# A turn's final save: whatever its status (a sweep's "interrupted" included).
_final_save = statements.Update(Turn)


def _update_turn_fields(turn_id: int, fields: dict[str, Any]) -> None:
    Turn.objects.filter(pk=turn_id).update(**fields)


def begin(run: TurnRun) -> TurnRun:
    """Start `run`'s task on the running loop; it is live (in RUNS) from now on."""
    RUNS[run.turn_id] = run
    heap.run_started()  # no quiet-spell collection while it runs
    # Not in the starting request's thread-sensitive context: the run outlives the
    # request, and its database work belongs on the process's one shared thread (db_threads).
    run.task = asyncio.get_running_loop().create_task(
        run.main(), name=f"run-{run.turn_id}", context=detached_context()
    )
    return run


async def stop_run(turn_id: int) -> None:
    """Stop a run wherever it lives: here directly, elsewhere through the layer."""
    if run := RUNS.get(turn_id):
        run.stop()
        return
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(run_group(turn_id), {"type": "run.stop"})
