"""The steps of a tool-loop turn as the page shows them, stored and live.

A turn that called tools is a sequence of steps, each one call of the model: its
reasoning, its content, the tool calls it made with their results
(`Turn.steps`, shape in reasoning.toolbox.steps). While the turn streams, the
turn's `reasoning`/`content` blocks are the *current* step's, and `Turn.steps`
holds the finished ones; once it has ended, `Turn.steps` holds every step and the
turn's text is the last step's. So the page shows:

    finished steps, each: thought block, text, tool-call cards      #t<id>-steps
    the current (or last) step's thought block and answer           #t<id>-r, #t<id>-c
    the current (or last) step's tool-call cards                     #t<id>-calls

Live, the run publishes (playground.streaming.tool_frames) `tool.start`,
`tool.args`, `tool.result`, `tool.awaiting` for the current step's calls, and
`turn.step` when the next model call begins (the turn saved just before). The
follower keeps the current step's calls (`follower.TurnFollower.calls`) and hands
their whole state to render here; on a new step the finished steps are rendered
again from the database. The same partials render the page and these swaps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.template.loader import render_to_string

# What a live message says about the call it names; merged into the call as known so far.
CALL_FIELDS = {
    "tool.start": ("id", "name", "server"),
    "tool.args": ("id", "name", "arguments"),
    "tool.result": ("id", "name", "server", "result", "is_error", "duration_ms"),
    "tool.awaiting": ("id", "name", "arguments"),
}
CALL_STATUS = {"tool.start": "running", "tool.args": "running", "tool.awaiting": "awaiting"}


def merge_call(call: dict[str, Any], message: Mapping[str, Any]) -> dict[str, Any]:
    """`call` (a dict in the stored shape) updated by one live message about it."""
    kind = message["type"]
    for key in CALL_FIELDS.get(kind, ()):
        if key in message:
            call[key] = message[key]
    if kind == "tool.result":
        call["status"] = "done"
    elif call.get("status") != "done":
        call["status"] = CALL_STATUS.get(kind, call.get("status", "running"))
    return call


def pretty_arguments(arguments: Any) -> str:
    """A call's arguments as indented JSON when they parse, else as the model wrote them."""
    if not isinstance(arguments, str):
        return json.dumps(arguments, indent=2, ensure_ascii=False)
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return arguments


def call_state(call: Mapping[str, Any]) -> str:
    """How a card reads: "running" (the model writes the call, or the tool runs),
    "awaiting" (a person gives the result), "done", "error", or "unanswered" (the
    turn ended before a result came: stopped, failed, or the step limit)."""
    if call.get("result") is not None:
        return "error" if call.get("is_error") else "done"
    status = call.get("status")
    if status == "awaiting":
        return "awaiting"
    if status == "running":
        return "running"
    return "unanswered"


def stored_steps(turn: Any) -> list[dict[str, Any]]:
    steps = getattr(turn, "steps", None)
    return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []


def split(turn: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the steps shown above the turn's own blocks, the calls shown under them).

    Once the turn has ended, its text is the last step's: the steps before it go
    above, the last step's calls (a loop cut by the step limit, a call waiting for
    a person, a stop mid-call) below. While it streams, the blocks are the current
    step's; the run keeps a step in `steps` from the moment its calls run, so a
    last step whose calls still run, or whose text is the blocks', is the current one."""
    steps = stored_steps(turn)
    if not steps:
        return [], []
    last = steps[-1]
    calls = [dict(c) for c in last.get("tool_calls") or () if isinstance(c, dict)]
    if not turn.is_streaming:
        if turn.status != "awaiting_tool":
            for c in calls:
                if c.get("result") is None:
                    c["status"] = ""  # never answered: the turn ended first
        return steps[:-1], calls
    running = any(c.get("result") is None for c in calls)
    same_text = (last.get("reasoning") or "") == turn.reasoning and (last.get("content") or "") == turn.content
    if running or (same_text and (turn.reasoning or turn.content)):
        return steps[:-1], calls
    return steps, []


def earlier_steps(turn: Any) -> list[dict[str, Any]]:
    return split(turn)[0]


def last_calls(turn: Any) -> list[dict[str, Any]]:
    return split(turn)[1]


def render_steps(turn_id: int, steps: list[dict[str, Any]], *, hide_reasoning: bool = False) -> str:
    return render_to_string(
        "chat/_steps.html", {"turn_id": turn_id, "steps": steps, "hide_reasoning": hide_reasoning}
    )


def render_calls(turn_id: int, calls: list[dict[str, Any]], *, live: bool = True) -> str:
    return render_to_string("chat/_tool_calls.html", {"turn_id": turn_id, "calls": calls, "live": live})


def steps_swap(turn_id: int, steps: list[dict[str, Any]]) -> str:
    return f'<div hx-swap-oob="innerHTML:#t{turn_id}-steps">{render_steps(turn_id, steps)}</div>'


def calls_swap(turn_id: int, calls: list[dict[str, Any]]) -> str:
    return f'<div hx-swap-oob="innerHTML:#t{turn_id}-calls">{render_calls(turn_id, calls)}</div>'


def notice_swap(turn_id: int, text: str) -> str:
    """A tool-loop notice (an MCP server that did not start) above the turn's steps."""
    return render_to_string("chat/_tool_notice.html", {"turn_id": turn_id, "text": text, "oob": True})
