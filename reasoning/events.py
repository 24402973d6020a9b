"""The stream events every adapter yields.

An adapter turns one request into an async stream of these, in order:
any number of `ReasoningDelta`, `ContentDelta` and `ReplayData` (and, from a
multi-call flow, one `CallDone` per call), then at most one `Usage` and exactly
one `Finish` (unless it raises a `ProviderError`).
"""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class Finish:
    """The end of a stream: "stop", "length", "content_filter", "cancelled", … or None."""

    reason: str | None


@dataclass(frozen=True, slots=True)
class CallDone:
    """One provider call of a multi-call flow has ended (reasoning.cot): what was
    sent (keys redacted) and that call's own usage. Single-call adapters never
    yield it; the flow's `Usage` is the sum over its calls."""

    step: str  # "thinking" | "answer"
    request: Any  # a redacted PreparedRequest
    usage: Usage


Event = ReasoningDelta | ContentDelta | ReplayData | Usage | Finish | CallDone
TextDelta = ReasoningDelta | ContentDelta
