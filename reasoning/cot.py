"""Chain of thought for models that don't reason natively: two calls.

1. "Think": the conversation plus an instruction to reason step by step without
   answering yet. Its text streams as reasoning.
2. "Answer": the same conversation, the reasoning as an assistant message, then
   "Considering the above, return a final result." Its text streams as content.

Usage adds up both calls; the first call's completion tokens are the reasoning
tokens. Enabled per model with `options.chain_of_thought = true` (see
`adapter_for`); the wrapped adapter does the wire work, so any provider kind can
be wrapped. Replay data of the first call is dropped: it belongs to a private
exchange the conversation never shows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx

from reasoning.adapters import Adapter, get_adapter
from reasoning.events import ContentDelta, Event, Finish, ReasoningDelta, Usage
from reasoning.request import ChatRequest, Message, PreparedRequest, Thinking

THINK_INSTRUCTION = (
    "Before answering, think the problem through step by step. Write out only your reasoning: "
    "restate what is asked, work through it, and check your work. Do not give the final answer yet."
)
ANSWER_INSTRUCTION = "Considering the above, return a final result."


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None and b is None else (a or 0) + (b or 0)


@dataclasses.dataclass(frozen=True)
class ChainOfThought:
    inner: Adapter

    def think_request(self, request: ChatRequest) -> ChatRequest:
        system = f"{request.system}\n\n{THINK_INSTRUCTION}" if request.system else THINK_INSTRUCTION
        return dataclasses.replace(request, system=system, thinking=Thinking(mode="off"))

    def answer_request(self, request: ChatRequest, reasoning: str) -> ChatRequest:
        messages = [
            *request.messages,
            Message(role="assistant", content=reasoning),
            Message(role="user", content=ANSWER_INSTRUCTION),
        ]
        return dataclasses.replace(request, messages=messages, thinking=Thinking(mode="off"))

    def prepare(self, request: ChatRequest) -> PreparedRequest:
        # The inspector shows the first call; the second is that plus the reasoning.
        return self.inner.prepare(self.think_request(request))

    async def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]:
        reasoning: list[str] = []
        first = Usage()
        async for event in self.inner.stream(self.think_request(request), client):
            if isinstance(event, ReasoningDelta | ContentDelta):
                reasoning.append(event.text)
                yield ReasoningDelta(event.text)
            elif isinstance(event, Usage):
                first = event
            elif isinstance(event, Finish) and event.reason == "length":
                yield first
                yield Finish("length")  # ran out of tokens while thinking: no answer call
                return
        second = Usage()
        finish: str | None = None
        async for event in self.inner.stream(self.answer_request(request, "".join(reasoning)), client):
            if isinstance(event, ContentDelta):
                yield event
            elif isinstance(event, Usage):
                second = event
            elif isinstance(event, Finish):
                finish = event.reason
        yield Usage(
            prompt_tokens=_add(first.prompt_tokens, second.prompt_tokens),
            completion_tokens=_add(first.completion_tokens, second.completion_tokens),
            reasoning_tokens=first.completion_tokens,
            cached_tokens=_add(first.cached_tokens, second.cached_tokens),
        )
        yield Finish(finish)


def adapter_for(request: ChatRequest) -> Adapter:
    """The adapter that serves `request`: its provider's, wrapped in the two-call
    chain of thought when the model asks for it, its values checked (reasoning.checked)."""
    from reasoning.checked import Checked

    adapter = get_adapter(request.provider.kind)
    if request.model.options.get("chain_of_thought") and request.thinking.mode != "off":
        return Checked(ChainOfThought(adapter))
    return Checked(adapter)
