"""Template filters for tool-loop steps: a call's state and its arguments shown readably."""

from __future__ import annotations

from typing import Any

from django import template

from playground.streaming.steps import pretty_arguments, steps_of

register = template.Library()


@register.filter
def call_state(call: dict[str, Any]) -> str:
    """"arguments", "running", "waiting", "done", "error" or, for a call that never got
    its result (the turn was stopped, or failed), "unanswered"."""
    if state := call.get("state"):
        return str(state)
    if call.get("result") is None:
        return "unanswered"
    return "error" if call.get("is_error") else "done"


@register.filter
def pretty_json(arguments: Any) -> str:
    return pretty_arguments(arguments if arguments is not None else "")


@register.filter
def turn_steps(turn: Any) -> list[dict[str, Any]]:
    """The finished steps of a tool-loop turn (the answer's own step is the turn itself)."""
    return steps_of(turn)
