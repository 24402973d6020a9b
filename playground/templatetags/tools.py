"""Template filters for tool-loop steps (playground.streaming.steps)."""

from __future__ import annotations

from typing import Any

from django import template

from playground.conversations.turn_words import answer_thought_label
from playground.streaming import steps

register = template.Library()


@register.filter
def call_state(call: dict[str, Any], live: bool = False) -> str:
    """"running", "awaiting", "done", "error" or "unanswered". A call of a finished
    step that never got its result is unanswered, whatever it was doing then."""
    state = steps.call_state(call)
    return "unanswered" if state == "running" and not live else state


@register.filter
def pretty_json(arguments: Any) -> str:
    return steps.pretty_arguments(arguments if arguments is not None else "")


@register.filter
def earlier_steps(turn: Any) -> list[dict[str, Any]]:
    return steps.earlier_steps(turn)


@register.filter
def last_calls(turn: Any) -> list[dict[str, Any]]:
    return steps.last_calls(turn)


@register.filter
def tool_notices(turn: Any) -> list[str]:
    """What the user was told during the loop (a server that did not start)."""
    first = steps.stored_steps(turn)[:1]
    return [str(n) for n in (first[0].get("notices") or ())] if first else []


@register.simple_tag
def tool_servers() -> list[Any]:
    """The MCP servers a conversation may offer to its model (configured by an admin)."""
    from playground.models import McpServer

    return list(McpServer.objects.filter(enabled=True).order_by("name"))


@register.filter
def picked(selection: Any, server: str) -> bool:
    """Whether a selection offers the whole of `server`."""
    return server in (selection or ())


@register.filter
def single_tools(selection: Any) -> str:
    """The selection's single tools ("server:tool"), as the picker's text field shows them."""
    return ", ".join(e for e in selection or () if ":" in e)


register.filter("answer_thought_label", answer_thought_label)


@register.simple_tag(takes_context=True)
def tool_sets(context: template.Context) -> list[Any]:
    """The signed-in user's saved tool sets."""
    from playground.models import ToolSet

    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated:
        return []
    return list(ToolSet.objects.filter(owner=user))


@register.filter
def tools_count(conversation: Any) -> int:
    """How many servers, single tools and functions a conversation offers."""
    if conversation is None:
        return 0
    return len(conversation.tools or ()) + len(conversation.functions or ())


@register.filter
def function_of(call: dict[str, Any], turn: Any) -> dict[str, Any] | None:
    from playground.turns import functions

    return functions.named(turn.conversation.functions, str(call.get("name", "")))


@register.filter
def argument_problems(call: dict[str, Any], turn: Any) -> list[str]:
    from playground.turns import functions

    return functions.argument_problems(function_of(call, turn), str(call.get("arguments") or ""))


def _kind(turn: Any) -> str:
    return (turn.source or "").split(":", 1)[0] if getattr(turn, "source", "") else ""


def _with_carried(call: dict[str, Any], kind: str) -> dict[str, Any]:
    import json

    from reasoning.carried import carried

    body = call.get("body")
    messages = next((len(body[k]) for k in ("messages", "input", "contents") if isinstance(body, dict)
                     and isinstance(body.get(k), list)), None)
    return {
        **call,
        "body_json": json.dumps(body, indent=2, ensure_ascii=False),
        "messages": messages,
        "carried": [c.as_dict() for c in carried(body, kind)],
    }


@register.filter
def is_tool_loop(turn: Any) -> bool:
    calls = (turn.sent or {}).get("calls") or []
    return any(isinstance(c, dict) and str(c.get("step", "")).startswith("step ") for c in calls)


@register.filter
def loop_calls(turn: Any) -> list[dict[str, Any]]:
    """Each model call of a tool loop as sent, with the reasoning it carried back and
    the context notes of its request (the first call's are the turn's own)."""
    if not is_tool_loop(turn):
        return []
    sent = turn.sent or {}
    out = []
    for i, call in enumerate(c for c in sent.get("calls") or [] if isinstance(c, dict)):
        call = _with_carried(call, _kind(turn))
        if "context_notes" not in call and i == 0:
            call["context_notes"] = sent.get("context_notes") or []
        out.append(call)
    return out


@register.filter
def carried_back(turn: Any) -> list[dict[str, Any]]:
    """The reasoning a one-call turn's request carried back, per message."""
    sent = turn.sent or {}
    return _with_carried(sent, _kind(turn))["carried"] if sent.get("body") is not None else []


@register.filter
def note_words(kind: str) -> str:
    """A context note's kind in words (reasoning.context.NOTE_KINDS)."""
    try:
        from reasoning.context import NOTE_KINDS
    except ImportError:  # pragma: no cover - before the notes existed
        return kind.replace("_", " ")
    words = NOTE_KINDS.get(kind)
    return words[0].upper() + words[1:] if words else kind.replace("_", " ").capitalize()


@register.filter
def default_replay(model: Any) -> str:
    """The replay policy a model gets when nothing overrides it: its own setting, else its family's."""
    if model is None:
        return ""
    from reasoning.catalogue import replay_rule

    own = getattr(model, "replay", "")
    return own or replay_rule(model.provider.kind, model.model_id, model.provider.base_url).policy


@register.filter
def turn_policy(turn: Any) -> str:
    """The policy a turn was sent with, as far as it is known ("" when it was the model's default)."""
    return str((turn.params or {}).get("replay_policy") or "")


@register.filter
def other_policies(turn: Any) -> list[str]:
    from reasoning.request import REPLAY_POLICIES

    used = turn_policy(turn) or default_replay(turn.model)
    return [p for p in REPLAY_POLICIES if p != used]
