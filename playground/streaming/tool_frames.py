"""The group messages of a tool loop, beside the text frames of run.py.

Every message goes to the conversation's group, in this order for one step:

    turn.frame …                       the step's text (offsets start at 0 each step;
                                       frames of step n > 0 carry "step": n)
    tool.start   {turn, step, index, id, name, server}      the model began a call
    tool.args    {turn, step, index, id, name, arguments}   its arguments, whole (JSON text)
    tool.result  {turn, step, index, id, name, server, result, is_error, duration_ms}
    tool.awaiting {turn, step, index, id, name, arguments}  a call answered by hand:
                                       the turn pauses ("awaiting_tool", toolrun.py)
    tool.notice  {turn, step, text}    something the user should know (a server that
                                       did not start); kept in the first step's "notices"
    turn.step    {turn, step}          the next model call begins. The turn is saved
                                       just before (its finished steps in `Turn.steps`),
                                       so a watcher may re-render it from the database;
                                       the new step's text starts at offset 0.

Results are untrusted text (a tool may return anything): render them escaped,
like model output. A page that shows steps renders `Turn.steps` on load and
applies these live; one that does not may ignore tool.* and re-render on turn.step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def tool_start(turn: int, step: int, index: int, call: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "tool.start", "turn": turn, "step": step, "index": index, "id": call["id"],
            "name": call["name"], "server": call.get("server", "")}


def tool_args(turn: int, step: int, index: int, call: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "tool.args", "turn": turn, "step": step, "index": index, "id": call["id"],
            "name": call["name"], "arguments": call.get("arguments", "")}


def tool_result(turn: int, step: int, index: int, call: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "tool.result", "turn": turn, "step": step, "index": index, "id": call["id"],
            "name": call["name"], "server": call.get("server", ""), "result": call.get("result"),
            "is_error": bool(call.get("is_error")), "duration_ms": call.get("duration_ms")}


def tool_awaiting(turn: int, step: int, index: int, call: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "tool.awaiting", "turn": turn, "step": step, "index": index, "id": call["id"],
            "name": call["name"], "arguments": call.get("arguments", "")}


def turn_step(turn: int, step: int) -> dict[str, Any]:
    return {"type": "turn.step", "turn": turn, "step": step}


def tool_notice(turn: int, step: int, text: str) -> dict[str, Any]:
    return {"type": "tool.notice", "turn": turn, "step": step, "text": text}
