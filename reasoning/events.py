"""The stream events every adapter yields.

An adapter turns one request into an async stream of these, in order:
any number of `ReasoningDelta`, `ContentDelta`, `Reclassified`, `ReplayData` and
tool-call events (`ToolCallStart`, then its `ToolCallDelta`s, then `ToolCallDone`;
several calls may interleave, told apart by `index`), and, from a multi-call flow,
one `CallDone` per call; then at most one `Usage` and exactly one `Finish` (unless it
raises a `ProviderError`). A step that ends in tool calls finishes with "tool_calls".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """More thinking text, for display (summaries count as reasoning)."""

    text: str


@dataclass(frozen=True, slots=True)
class ContentDelta:
    """More answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class Reclassified:
    """Everything streamed as answer so far was reasoning: a closing tag came with no
    opening tag (templates that open `<think>` themselves: DeepSeek-R1, Qwen3, …).
    Whoever keeps the text moves the whole answer so far to the end of the
    reasoning (`keep=False`, reasoning hidden: drops it); what follows is answer."""

    keep: bool = True


@dataclass(frozen=True, slots=True)
class ReplayData:
    """Opaque, JSON-serialisable data the provider needs back in later requests
    (signatures, encrypted reasoning items, raw blocks). Never shown, never edited."""

    payload: Any


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as the provider reports them.

    `completion_tokens` includes `reasoning_tokens` (adapters normalise providers
    such as Gemini that count them apart). `None` means "not reported".
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    # True when reasoning_tokens is our estimate from the reasoning text because the
    # provider reported none (reasoning.tokens); False when the provider counted them.
    reasoning_tokens_estimated: bool = False


@dataclass(frozen=True, slots=True)
class Finish:
    """The end of a stream: "stop", "length", "content_filter", "cancelled", … or None."""

    reason: str | None


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    """The model began calling a tool. `index` orders the calls of one step (Chat
    Completions' own `index`; elsewhere the calls' order in the step, 0, 1, …); `id` is
    the provider's call id, or one we made up where the format has none (Gemini,
    Ollama, markup: `call_` + 16 hex digits, unique across a conversation)."""

    index: int
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of the call's arguments, as JSON text (may be any cut of it)."""

    index: int
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolCallDone:
    """The call is complete: its whole arguments text (JSON, as the model wrote it)."""

    index: int
    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class CallDone:
    """One provider call of a multi-call flow has ended (reasoning.cot): what was
    sent (keys redacted) and that call's own usage. Single-call adapters never
    yield it; the flow's `Usage` is the sum over its calls."""

    step: str  # "thinking" | "answer"
    request: Any  # a redacted PreparedRequest
    usage: Usage


ToolCallEvent = ToolCallStart | ToolCallDelta | ToolCallDone
Event = (
    ReasoningDelta
    | ContentDelta
    | Reclassified
    | ReplayData
    | ToolCallStart
    | ToolCallDelta
    | ToolCallDone
    | Usage
    | Finish
    | CallDone
)
TextDelta = ReasoningDelta | ContentDelta
# What a markup parser yields (tool-call events only with `tool_calls=True`).
ParsedText = ReasoningDelta | ContentDelta | Reclassified | ToolCallStart | ToolCallDelta | ToolCallDone


def fold_text(events: Iterable[object]) -> tuple[str, str]:
    """(reasoning, content) of a sequence of events, `Reclassified` applied: the one
    reducer for whole texts (parsers.split, tests, tools)."""
    reasoning: list[str] = []
    content: list[str] = []
    for event in events:
        if type(event) is ReasoningDelta:
            reasoning.append(event.text)
        elif type(event) is ContentDelta:
            content.append(event.text)
        elif type(event) is Reclassified:
            if event.keep:
                reasoning += content
            content = []
    return "".join(reasoning), "".join(content)
