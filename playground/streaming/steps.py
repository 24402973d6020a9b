"""The steps of a tool-loop turn, as the run keeps them and the page shows them.

A turn that calls tools is a sequence of steps: each step is one call of the model
(its reasoning, its content, the tool calls it made with their results), and the
last step holds the answer. The turn's own `reasoning` and `content` are always the
*current* step's, so the hot path and the gap/resume protocol of one step are those
of any turn (`follower`); finished steps are kept apart, in `Turn.steps`, as

    {"reasoning", "content", "thinking_ms",
     "tool_calls": [{"id", "name", "arguments", "result", "is_error", "server", "duration_ms"}]}

(the shape `ask --json` prints, plus where a call ran and how long it took).

On the group, besides the text frames (which carry the step they belong to):

    turn.step   {"turn", "step", "steps"}          a step ended; `steps` are the finished ones
    turn.calls  {"turn", "step", "seq", "calls"}   the current step's calls: started,
                                                   arguments so far, result or error

Both carry whole states, not deltas: they are rare next to text frames (a call
whose arguments stream sends at most one per frame interval) and small (arguments
and results have size limits), and a watcher that missed one is right again with
the next. `seq` orders `turn.calls` (a late one is ignored). The run's resume reply
carries the same state, so a page that loads, or a socket on another worker, sees
the steps as they are.

The same partials render steps for the page and for these messages.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from django.template.loader import render_to_string

from reasoning.events import ToolCallDelta, ToolCallDone, ToolCallStart


@dataclass
class LiveCall:
    """One tool call of the current step, as far as it has come."""

    index: int
    id: str
    name: str
    arguments: str = ""
    complete: bool = False  # the model finished writing its arguments
    result: str | None = None
    is_error: bool = False
    server: str = ""
    started: float | None = None  # monotonic time the tool was started
    duration_ms: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "arguments": self.arguments,
            "result": self.result,
            "is_error": self.is_error,
            "server": self.server,
            "duration_ms": self.duration_ms,
            "state": self.state,
        }

    @property
    def state(self) -> str:
        """"arguments" (the model writes them), "running" (the tool runs), "waiting"
        (a function the user answers), "done" or "error"."""
        if self.result is not None:
            return "error" if self.is_error else "done"
        if not self.complete:
            return "arguments"
        return "running" if self.started is not None else "waiting"


@dataclass
class StepLog:
    """The finished steps of a run and the calls of its current step."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    calls: list[LiveCall] = field(default_factory=list)
    seq: int = 0  # bumped by every change of `calls`

    @property
    def step(self) -> int:
        return len(self.steps)

    def on_event(self, event: ToolCallStart | ToolCallDelta | ToolCallDone) -> None:
        call = self._at(event.index)
        if isinstance(event, ToolCallStart):
            if call is None:
                self.calls.append(LiveCall(event.index, event.id, event.name))
            else:
                call.id, call.name = event.id or call.id, event.name or call.name
        elif isinstance(event, ToolCallDelta):
            if call is None:
                call = LiveCall(event.index, "", "")
                self.calls.append(call)
            call.arguments += event.arguments
        else:
            if call is None:
                call = LiveCall(event.index, event.id, event.name)
                self.calls.append(call)
            call.id, call.name = event.id or call.id, event.name or call.name
            call.arguments = event.arguments
            call.complete = True
        self.seq += 1

    def started(self, call_id: str, *, server: str = "") -> None:
        """The tool of `call_id` runs now (on `server`, an MCP server's name)."""
        call = self._by_id(call_id)
        call.complete = True
        call.server = server
        call.started = time.monotonic()
        self.seq += 1

    def finished(
        self, call_id: str, result: str, *, is_error: bool = False, server: str | None = None,
        duration_ms: int | None = None,
    ) -> None:  # fmt: skip
        """The result (or, with `is_error`, the error) of `call_id`."""
        call = self._by_id(call_id)
        call.complete = True
        call.result = result
        call.is_error = is_error
        if server is not None:
            call.server = server
        if duration_ms is None and call.started is not None:
            duration_ms = int((time.monotonic() - call.started) * 1000)
        call.duration_ms = duration_ms
        self.seq += 1

    def end_step(self, reasoning: str, content: str, thinking_ms: int | None = None) -> dict[str, Any]:
        """The current step is over: keep it with its calls; the next one starts empty."""
        step = {
            "reasoning": reasoning,
            "content": content,
            "thinking_ms": thinking_ms,
            "tool_calls": [{k: v for k, v in c.as_dict().items() if k != "state"} for c in self.calls],
        }
        self.steps.append(step)
        self.calls = []
        self.seq += 1
        return step

    def calls_state(self) -> list[dict[str, Any]]:
        return [c.as_dict() for c in self.calls]

    def _at(self, index: int) -> LiveCall | None:
        return next((c for c in self.calls if c.index == index), None)

    def _by_id(self, call_id: str) -> LiveCall:
        for c in self.calls:
            if c.id == call_id:
                return c
        raise KeyError(f"no tool call {call_id!r} in the current step")


# ---- rendering: the same partials for the page and the messages --------------------------


def pretty_arguments(arguments: Any) -> str:
    """A call's arguments as indented JSON when they parse, else as the model wrote them."""
    if not isinstance(arguments, str):
        return json.dumps(arguments, indent=2, ensure_ascii=False)
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return arguments


def steps_of(turn: Any) -> list[dict[str, Any]]:
    """The finished steps of a turn (none for a turn that called no tool)."""
    steps = getattr(turn, "steps", None)
    return steps if isinstance(steps, list) else []


def render_steps(turn_id: int, steps: list[dict[str, Any]], *, live: bool = False) -> str:
    return render_to_string("chat/_steps.html", {"turn_id": turn_id, "steps": steps, "live": live})


def render_calls(turn_id: int, calls: list[dict[str, Any]]) -> str:
    return render_to_string("chat/_tool_calls.html", {"turn_id": turn_id, "calls": calls, "live": True})


def steps_swap(turn_id: int, steps: list[dict[str, Any]]) -> str:
    return f'<div hx-swap-oob="innerHTML:#t{turn_id}-steps">{render_steps(turn_id, steps, live=True)}</div>'


def calls_swap(turn_id: int, calls: list[dict[str, Any]]) -> str:
    return f'<div hx-swap-oob="innerHTML:#t{turn_id}-calls">{render_calls(turn_id, calls)}</div>'
