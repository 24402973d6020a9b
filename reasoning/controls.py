# placeholder: replaced by adapters-native branch (which owns reasoning/controls.py).
# Only what the OpenAI adapters call, with the same signatures and, for the two
# controls below, the same results, so their tests pass before and after the merge.
"""Thinking controls → request fields (placeholder; see the adapters-native branch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reasoning.request import ChatRequest


def thinking_params(request: ChatRequest) -> dict[str, Any]:
    control = request.model.thinking_control
    thinking = request.thinking
    off = thinking.mode == "off" or thinking.effort == "none"
    if control == "reasoning_effort":
        if off:
            return {"reasoning_effort": "none"}
        return {"reasoning_effort": thinking.effort} if thinking.effort else {}
    if control == "responses":
        if off:
            return {"reasoning": {"effort": "none"}}
        reasoning: dict[str, Any] = {}
        if thinking.effort:
            reasoning["effort"] = thinking.effort
        if thinking.include_reasoning:
            reasoning["summary"] = "auto"
        return {"reasoning": reasoning} if reasoning else {}
    return {}


def merge_params(body: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in params.items():
        current = body.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            merge_params(current, value)
        elif isinstance(value, Mapping):
            body[key] = merge_params({}, value)
        else:
            body[key] = value
    return body
