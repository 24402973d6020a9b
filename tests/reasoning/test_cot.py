"""Kiln's call flows, against a real loopback OpenAI-compatible upstream: the exact
messages of both chain-of-thought calls, the reasoning-model variant, a plain
prompt and a third turn."""

from __future__ import annotations

import dataclasses

import httpx

from reasoning.adapters.selection import adapter_for
from reasoning.cot import DEFAULT_THINKING_INSTRUCTIONS, FINAL_ANSWER_PROMPT, ChainOfThought, SingleCall
from reasoning.events import CallDone, ContentDelta, Finish, ReasoningDelta, Usage
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, ReasoningStyle, Thinking
from reasoning.testing import FakeUpstream, Script, openai_chat_sse

SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}


def request(url: str, *, reasoning: ReasoningStyle = ReasoningStyle.NONE, **kwargs) -> ChatRequest:
    base = ChatRequest(
        provider=ProviderConfig(kind="openai", base_url=url, api_key="sk-test"),
        model=ModelSpec("plain-1", reasoning=reasoning),
        messages=[Message("user", "What is 2+2?")],
        system="You are terse.",
        thinking_instructions="",
    )
    return dataclasses.replace(base, **kwargs)


async def run(req: ChatRequest) -> list:
    async with httpx.AsyncClient() as client:
        return [e async for e in adapter_for(req).stream(req, client)]


def texts(events: list, kind: type) -> str:
    return "".join(e.text for e in events if isinstance(e, kind))


async def test_it_makes_two_calls_with_kilns_exact_messages_for_a_model_that_does_not_reason():
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=openai_chat_sse(content="Two and two make four.", usage=Usage(12, 6))))
        up.enqueue(Script(chunks=openai_chat_sse(content="4", usage=Usage(20, 1))))
        events = await run(request(up.url))
        think, answer = (r.json for r in up.requests)
    assert think["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "user", "content": DEFAULT_THINKING_INSTRUCTIONS},
    ]
    assert answer["messages"] == [
        *think["messages"],
        {"role": "assistant", "content": "Two and two make four."},
        {"role": "user", "content": FINAL_ANSWER_PROMPT},
    ]
    assert texts(events, ReasoningDelta) == "Two and two make four."
    assert texts(events, ContentDelta) == "4"
    # The thinking streams before the answer starts.
    kinds = [type(e) for e in events if isinstance(e, ReasoningDelta | ContentDelta)]
    assert kinds == sorted(kinds, key=lambda k: k is ContentDelta)
    calls = [e for e in events if isinstance(e, CallDone)]
    assert [c.step for c in calls] == ["thinking", "answer"]
    assert calls[0].request.json["messages"] == think["messages"]
    assert calls[1].request.json["messages"] == answer["messages"]
    assert calls[0].request.headers["authorization"] == "[redacted]"
    assert [c.usage for c in calls] == [Usage(12, 6), Usage(20, 1)]
    assert events[-2:] == [Usage(prompt_tokens=32, completion_tokens=7, reasoning_tokens=6), Finish("stop")]


async def test_it_sends_a_prompts_own_thinking_instructions_as_that_separate_message():
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=openai_chat_sse(content="plan")), Script(chunks=openai_chat_sse(content="done")))
        await run(request(up.url, thinking_instructions="Make a plan first."))
        think = up.requests[0].json
    assert think["messages"][-1] == {"role": "user", "content": "Make a plan first."}


async def test_a_reasoning_model_gets_the_instructions_in_its_system_prompt_and_one_call():
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=openai_chat_sse("Adding: 4.", "4", usage=Usage(10, 5))))
        req = request(up.url, reasoning=ReasoningStyle.NATIVE, thinking_instructions="Check twice.")
        assert isinstance(adapter_for(req), SingleCall)
        events = await run(req)
        assert len(up.requests) == 1
        body = up.requests[0].json
    assert body["messages"] == [
        {"role": "system", "content": "You are terse.\n\nCheck twice."},
        {"role": "user", "content": "What is 2+2?"},
    ]
    assert texts(events, ReasoningDelta) == "Adding: 4."  # the model's own reasoning
    assert texts(events, ContentDelta) == "4"
    assert not [e for e in events if isinstance(e, CallDone)]


async def test_a_reasoning_model_with_a_plain_prompt_makes_one_plain_call():
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=openai_chat_sse("hmm", "4")))
        await run(request(up.url, reasoning=ReasoningStyle.NATIVE, thinking_instructions=None))
        body = up.requests[0].json
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is 2+2?"},
    ]


async def test_a_third_turn_leaves_out_all_earlier_reasoning_and_the_private_messages():
    history = [
        Message("user", "What is 2+2?"),
        Message("assistant", "4", reasoning="Two and two make four.", source="openai:plain-1"),
        Message("user", "And times 3?"),
        Message("assistant", "12", reasoning="Four times three is twelve.", source="openai:plain-1"),
        Message("user", "Minus 5?"),
    ]
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=openai_chat_sse(content="12 - 5 = 7")), Script(chunks=openai_chat_sse(content="7")))
        await run(request(up.url, messages=history))
        think, answer = (r.json for r in up.requests)
    conversation = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And times 3?"},
        {"role": "assistant", "content": "12"},
        {"role": "user", "content": "Minus 5?"},
    ]
    assert think["messages"] == [*conversation, {"role": "user", "content": DEFAULT_THINKING_INSTRUCTIONS}]
    assert answer["messages"] == [
        *think["messages"],
        {"role": "assistant", "content": "12 - 5 = 7"},
        {"role": "user", "content": FINAL_ANSWER_PROMPT},
    ]


async def test_only_the_answer_call_is_constrained_by_the_schema():
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=openai_chat_sse(content="2+2=4")))
        up.enqueue(Script(chunks=openai_chat_sse(content='{"answer": 4}')))
        events = await run(request(up.url, response_schema=SCHEMA))
        think, answer = (r.json for r in up.requests)
    assert "response_format" not in think
    assert answer["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "final_answer", "schema": SCHEMA},
    }
    assert texts(events, ContentDelta) == '{"answer": 4}'
    assert "2+2=4" not in texts(events, ContentDelta)


async def test_it_makes_no_answer_call_when_thinking_ran_out_of_tokens():
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=openai_chat_sse(content="so long", usage=Usage(10, 100), finish_reason="length")))
        events = await run(request(up.url))
        assert len(up.requests) == 1
    assert events[-1] == Finish("length")
    assert Usage(10, 100, 100) in events


def test_which_flow_serves_which_request():
    req = request("http://127.0.0.1:9")
    assert isinstance(adapter_for(req), ChainOfThought)
    assert isinstance(adapter_for(dataclasses.replace(req, thinking_instructions=None)), SingleCall)
    # Thinking switched off on a reasoning model: it is served like one that does not reason.
    native_off = dataclasses.replace(req, model=ModelSpec("r-1"), thinking=Thinking(mode="off"))
    assert isinstance(adapter_for(native_off), ChainOfThought)
    assert isinstance(adapter_for(dataclasses.replace(req, model=ModelSpec("r-1"))), SingleCall)
