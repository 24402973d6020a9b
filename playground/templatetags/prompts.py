from __future__ import annotations

import json
from typing import Any

from django import template

from playground.conversations.turn_words import rating_of
from playground.models import Prompt, Turn
from playground.prompts.answers import structured_answer

register = template.Library()


@register.simple_tag(takes_context=True)
def prompt_choices(context: template.Context) -> list[Prompt]:
    """The prompts the signed-in user may pick: the built-in ones, then their own."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    return list(Prompt.available_to(user))


@register.filter
def structured(turn: Turn) -> dict[str, Any] | None:
    """A finished turn's structured answer, with its value formatted for display."""
    answer = structured_answer(turn)
    if answer is None:
        return None
    out = answer.as_dict()
    out["pretty"] = json.dumps(answer.value, indent=2, ensure_ascii=False) if answer.value is not None else ""
    return out


register.filter("rating_of", rating_of)


@register.filter
def sent_calls(turn: Turn) -> list[dict[str, Any]]:
    """Each call of a chain-of-thought turn as sent, for the context inspector."""
    calls = (turn.sent or {}).get("calls") or []
    return [
        {**call, "body_json": json.dumps(call.get("body"), indent=2, ensure_ascii=False)}
        for call in calls
        if isinstance(call, dict)
    ]
