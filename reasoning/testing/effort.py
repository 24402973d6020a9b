"""A fake reasoning model whose thinking and correctness depend on the effort it RECEIVES.

`effort_responder(kind)` answers a request in `kind`'s wire format after reading the
thinking setting from the request body as that provider would (`received_level`):
more effort gives more reasoning tokens, and below "medium" the arithmetic answer is
wrong. So a sweep whose level never reached the wire shows it as a flat line, and a
grader has something real to tell apart.

    with FakeUpstream(effort_responder("anthropic")) as up: ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reasoning.events import Usage
from reasoning.testing import formats_native  # noqa: F401  (registers the native formats)
from reasoning.testing.upstream import RecordedRequest, Script, render

DEPTH = {"off": 0, "none": 0, "minimal": 1, "low": 1, "default": 2, "medium": 2, "high": 3, "xhigh": 4, "max": 5}
WORDS_PER_DEPTH = 30
RIGHT, WRONG = "17*23 = 391", "17*23 = 381"

FORMAT = {"openai": "openai-chat", "anthropic": "anthropic", "gemini": "gemini", "ollama": "ollama",
          "openai-responses": "openai-responses"}


def _budget_level(budget: int) -> str:
    return "low" if budget <= 1024 else "medium" if budget <= 2048 else "high"


def received_level(kind: str, body: dict[str, Any]) -> str:
    """The thinking level a provider of `kind` would read from this body."""
    if kind == "openai":
        if "reasoning" in body:  # OpenRouter's object
            return str(body["reasoning"].get("effort", "default"))
        effort = body.get("reasoning_effort")
        return "off" if effort == "none" else str(effort or "default")
    if kind == "anthropic":
        thinking = body.get("thinking") or {}
        if thinking.get("type") == "disabled":
            return "off"
        if (effort := (body.get("output_config") or {}).get("effort")) is not None:
            return str(effort)
        return _budget_level(int(thinking["budget_tokens"])) if "budget_tokens" in thinking else "default"
    if kind == "gemini":
        config = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
        if "thinkingLevel" in config:
            return str(config["thinkingLevel"]).lower()
        budget = config.get("thinkingBudget")
        if budget is None or budget == -1:
            return "default"
        return "off" if budget == 0 else "low" if budget <= 1024 else "medium" if budget <= 8192 else "high"
    if kind == "ollama":
        think = body.get("think")
        return "off" if think is False else "default" if think in (None, True) else str(think)
    if kind == "openai-responses":
        effort = (body.get("reasoning") or {}).get("effort")
        return "off" if effort == "none" else str(effort or "default")
    raise ValueError(f"no effort reading for {kind}")


def effort_answer(level: str) -> tuple[str, str, Usage]:
    depth = DEPTH.get(level, 2)
    reasoning = " ".join(f"step{i}" for i in range(depth * WORDS_PER_DEPTH))
    content = RIGHT if depth >= 2 else WRONG
    reasoning_tokens = depth * WORDS_PER_DEPTH
    return reasoning, content, Usage(prompt_tokens=12, completion_tokens=reasoning_tokens + 6,
                                     reasoning_tokens=reasoning_tokens)


def effort_responder(kind: str, seen: list[str] | None = None) -> Callable[[RecordedRequest], Script]:
    """A FakeUpstream responder; `seen` collects the level each request carried."""

    def respond(request: RecordedRequest) -> Script:
        level = received_level(kind, request.json)
        if seen is not None:
            seen.append(level)
        reasoning, content, usage = effort_answer(level)
        fmt = FORMAT[kind]
        chunks = render(fmt, reasoning, content, usage=usage)
        headers = {"content-type": "application/x-ndjson" if kind == "ollama" else "text/event-stream"}
        return Script(chunks=chunks, headers=headers)

    return respond
