from __future__ import annotations

import dataclasses

import httpx

from reasoning.cot import ANSWER_INSTRUCTION, THINK_INSTRUCTION, ChainOfThought, adapter_for
from reasoning.events import ContentDelta, Finish, ReasoningDelta, Usage
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, ReasoningStyle, Thinking
from reasoning.testing.scripted import scripted

REQUEST = ChatRequest(
    provider=ProviderConfig(kind="scripted"),
    model=ModelSpec("plain-1", reasoning=ReasoningStyle.NONE, options={"chain_of_thought": True}),
    messages=[Message("user", "What is 2+2?")],
)


async def collect(request):
    async with httpx.AsyncClient() as client:
        return [e async for e in adapter_for(request).stream(request, client)]


async def test_it_streams_the_first_call_as_reasoning_and_the_second_as_content():
    scripted.reset()
    scripted.enqueue([ContentDelta("2 and 2 "), ContentDelta("make 4."), Usage(10, 6), Finish("stop")])
    scripted.enqueue([ContentDelta("4"), Usage(20, 1), Finish("stop")])
    events = await collect(REQUEST)
    assert events == [
        ReasoningDelta("2 and 2 "), ReasoningDelta("make 4."), ContentDelta("4"),
        Usage(prompt_tokens=30, completion_tokens=7, reasoning_tokens=6), Finish("stop"),
    ]  # fmt: skip
    think, answer = scripted.requests
    assert THINK_INSTRUCTION in think.system
    assert [(m.role, m.content) for m in answer.messages] == [
        ("user", "What is 2+2?"), ("assistant", "2 and 2 make 4."), ("user", ANSWER_INSTRUCTION),
    ]  # fmt: skip


async def test_it_makes_no_answer_call_when_thinking_ran_out_of_tokens():
    scripted.reset()
    scripted.enqueue([ContentDelta("so long"), Usage(10, 100), Finish("length")])
    events = await collect(REQUEST)
    assert events[-1] == Finish("length")
    assert len(scripted.requests) == 1


def test_it_wraps_only_models_that_ask_for_it_and_only_while_thinking_is_on():
    # Every adapter comes wrapped in reasoning.checked.Checked; the chain of thought is inside.
    assert isinstance(adapter_for(REQUEST).inner, ChainOfThought)
    off = dataclasses.replace(REQUEST, thinking=Thinking(mode="off"))
    assert not isinstance(adapter_for(off).inner, ChainOfThought)
    plain = dataclasses.replace(REQUEST, model=ModelSpec("plain-1"))
    assert not isinstance(adapter_for(plain).inner, ChainOfThought)
