"""How a turn is generated from its prompt: one call, or Kiln's two-call chain of thought.

A chain-of-thought prompt carries thinking instructions (`ChatRequest.thinking_instructions`;
"" means `DEFAULT_THINKING_INSTRUCTIONS`). What is sent depends on the model:

* a model that does not reason (or whose thinking is switched off), two calls:
  1. system prompt; the conversation up to the user's input; then the thinking
     instructions as a separate user message. The reply streams as reasoning.
  2. the same messages, the reply as an assistant message, then the user message
     `FINAL_ANSWER_PROMPT`. The reply streams as content. Only this call is asked
     for the answer's JSON Schema, if there is one.
* a reasoning model: the thinking instructions are appended to the system prompt
  and one call is made; the reasoning is the model's own.
* a plain prompt: one call.

Earlier turns' reasoning, chain-of-thought reasoning included, goes back only by
the provider's replay rule (reasoning.context): the private messages of a chain of
thought (the instructions, the final-answer prompt) are never stored as turns, so
they never reach a later request.

The chain of thought yields one `CallDone` per call (what was sent, that call's
usage) and then a `Usage` that sums both; the first call's completion tokens
count as reasoning tokens. Replay data of the first call is dropped: it belongs
to an exchange the conversation never shows. If the first call runs out of
tokens (finish "length"), no answer call is made.

`reasoning.adapters.selection.adapter_for(request)` returns the object that does
all this, with the `prepare`/`stream` interface of any adapter: the run only feeds
its events.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx

from reasoning.adapters import Adapter
from reasoning.events import CallDone, ContentDelta, Event, Finish, ReasoningDelta, ReplayData, Usage
from reasoning.request import ChatRequest, Message, PreparedRequest, ReasoningStyle, Thinking
from reasoning.structured import system_with_schema

DEFAULT_THINKING_INSTRUCTIONS = "Think step by step, explaining your reasoning."
FINAL_ANSWER_PROMPT = "Considering the above, return a final result."


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None and b is None else (a or 0) + (b or 0)


def thinking_instructions(request: ChatRequest) -> str | None:
    """The instructions this request thinks by, or None for a plain prompt."""
    instructions = request.thinking_instructions
    if instructions is None and request.model.options.get("chain_of_thought") and request.thinking.mode != "off":
        instructions = ""  # the older per-model switch: the default instructions
    if instructions is None:
        return None
    return instructions.strip() or DEFAULT_THINKING_INSTRUCTIONS


def reasons_natively(request: ChatRequest) -> bool:
    return request.model.reasoning != ReasoningStyle.NONE and request.thinking.mode != "off"


def _join(*texts: str | None) -> str | None:
    present = [t for t in texts if t and t.strip()]
    return "\n\n".join(present) if present else None


@dataclasses.dataclass(frozen=True)
class SingleCall:
    """A plain prompt, or a chain-of-thought prompt for a reasoning model."""

    inner: Adapter

    def shaped(self, request: ChatRequest) -> ChatRequest:
        system = _join(request.system, thinking_instructions(request))
        request = dataclasses.replace(request, system=system, thinking_instructions=None)
        return dataclasses.replace(request, system=system_with_schema(request))

    def prepare(self, request: ChatRequest) -> PreparedRequest:
        return self.inner.prepare(self.shaped(request))

    def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]:
        return self.inner.stream(self.shaped(request), client)


@dataclasses.dataclass(frozen=True)
class ChainOfThought:
    """Kiln's two-message chain of thought, for a model that does not reason."""

    inner: Adapter

    def think_request(self, request: ChatRequest) -> ChatRequest:
        instructions = thinking_instructions(request) or DEFAULT_THINKING_INSTRUCTIONS
        return dataclasses.replace(
            request,
            messages=[*request.messages, Message(role="user", content=instructions, apart=True)],
            # A model that does not reason has no switch to send ("off" would be refused
            # as a control it cannot honour); one whose thinking was switched off keeps it off.
            thinking=Thinking(
                mode="off" if request.thinking.mode == "off" else "default",
                include_reasoning=request.thinking.include_reasoning,
            ),
            thinking_instructions=None,
            response_schema=None,  # only the final answer has the schema's shape
        )

    def answer_request(self, request: ChatRequest, reasoning: str) -> ChatRequest:
        think = self.think_request(request)
        answer = dataclasses.replace(
            think,
            messages=[
                *think.messages,
                Message(role="assistant", content=reasoning),
                Message(role="user", content=FINAL_ANSWER_PROMPT, apart=True),
            ],
            response_schema=request.response_schema,
        )
        return dataclasses.replace(answer, system=system_with_schema(answer))

    def prepare(self, request: ChatRequest) -> PreparedRequest:
        # Before anything is sent only the first call is known; the second's
        # request comes with its `CallDone`.
        return self.inner.prepare(self.think_request(request))

    async def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]:
        think = self.think_request(request)
        reasoning: list[str] = []
        first = Usage()
        ran_out = False
        async for event in self.inner.stream(think, client):
            if isinstance(event, ReasoningDelta | ContentDelta):
                reasoning.append(event.text)
                yield ReasoningDelta(event.text)
            elif isinstance(event, Usage):
                first = event
            elif isinstance(event, Finish):
                ran_out = event.reason == "length"
        yield CallDone("thinking", self.inner.prepare(think).redacted(), first)
        if ran_out:
            yield dataclasses.replace(first, reasoning_tokens=first.completion_tokens)
            yield Finish("length")
            return
        answer = self.answer_request(request, "".join(reasoning))
        second = Usage()
        finish: str | None = None
        async for event in self.inner.stream(answer, client):
            if isinstance(event, ContentDelta | ReplayData):
                yield event
            elif isinstance(event, ReasoningDelta):
                # A model that thinks anyway: its thinking joins the chain of thought,
                # never the (possibly structured) answer.
                yield event
            elif isinstance(event, Usage):
                second = event
            elif isinstance(event, Finish):
                finish = event.reason
        yield CallDone("answer", self.inner.prepare(answer).redacted(), second)
        yield Usage(
            prompt_tokens=_add(first.prompt_tokens, second.prompt_tokens),
            completion_tokens=_add(first.completion_tokens, second.completion_tokens),
            reasoning_tokens=_add(first.completion_tokens, second.reasoning_tokens),
            cached_tokens=_add(first.cached_tokens, second.cached_tokens),
        )
        yield Finish(finish)
