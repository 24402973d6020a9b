"""The steps of a tool loop as stored (`Turn.steps`, JSON) and as context.

A turn that used tools is a list of steps, in order; each step is one model call:

    {"reasoning": str, "content": str, "replay": <reasoning.replay shape> | None,
     "source": "kind:model_id", "finish_reason": str,
     "thinking_ms": int | None, "duration_ms": int,     # the step's own timings
     "tool_calls": [{"id", "name", "arguments",        # as the model wrote them
                     "server",                          # the MCP server ("" if none)
                     "status": "running" | "done" | "awaiting",
                     "result": str | None, "is_error": bool, "duration_ms": int | None}]}

The first step may carry "notices": [str], what the user should know about the
tools (an MCP server that did not start). A turn run with tools offered has at
least one step. The last step has no tool calls (its content is the answer, also the turn's
`content`), unless the loop was cut by the step limit or waits for a result
("awaiting": a call answered by hand, see playground.streaming.toolrun).

Stored as JSON on the turn rather than as rows: steps are always read and written
with their turn (the page, the replay, the exports), never queried on their own;
one JSON field keeps a checkpoint one UPDATE (the write budget is per turn, not
per step), and a copy of a turn (branch, export) carries its steps with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reasoning.request import Message, ToolCall

RUNNING, DONE, AWAITING = "running", "done", "awaiting"


def new_step(source: str | None = None) -> dict[str, Any]:
    return {"reasoning": "", "content": "", "replay": None, "source": source or "", "finish_reason": "",
            "tool_calls": []}


def new_call(call_id: str, name: str, arguments: str = "", server: str = "") -> dict[str, Any]:
    return {"id": call_id, "name": name, "arguments": arguments, "server": server, "status": RUNNING,
            "result": None, "is_error": False, "duration_ms": None}


def step_messages(step: Mapping[str, Any], source: str | None = None) -> list[Message]:
    """One stored step as context: the assistant message (with its calls), then one
    `tool` message per call that has a result."""
    calls = [c for c in step.get("tool_calls") or () if isinstance(c, Mapping)]
    messages = [
        Message(
            role="assistant",
            content=str(step.get("content") or ""),
            reasoning=str(step.get("reasoning") or ""),
            replay=step.get("replay"),
            source=str(step.get("source") or source or "") or None,
            tool_calls=tuple(
                ToolCall(str(c.get("id", "")), str(c.get("name", "")), str(c.get("arguments") or "")) for c in calls
            ),
        )
    ]
    for c in calls:
        if c.get("result") is None:
            continue
        messages.append(
            Message(
                role="tool",
                content=str(c["result"]),
                tool_call_id=str(c.get("id", "")),
                name=str(c.get("name", "")),
                is_error=bool(c.get("is_error")),
            )
        )
    return messages


def turn_messages(steps: Iterable[Mapping[str, Any]], source: str | None = None) -> list[Message]:
    """A stored turn's steps as context, in order."""
    return [m for step in steps for m in step_messages(step, source)]


def public(steps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The steps as `ask --json` and exports show them."""
    return [
        {
            "reasoning": step.get("reasoning") or "",
            "content": step.get("content") or "",
            "tool_calls": [
                {
                    "id": c.get("id"),
                    "name": c.get("name"),
                    "arguments": c.get("arguments"),
                    "result": c.get("result"),
                    "is_error": bool(c.get("is_error")),
                }
                for c in step.get("tool_calls") or ()
            ],
        }
        for step in steps
    ]


def awaiting(steps: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The calls of the last step still waiting for a result."""
    if not steps:
        return []
    return [c for c in steps[-1].get("tool_calls") or () if c.get("result") is None]
