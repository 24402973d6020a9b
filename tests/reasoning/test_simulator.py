"""The offline simulator adapter: what it thinks, answers, sends and how fast."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from reasoning.adapters import get_adapter
from reasoning.events import ContentDelta, Event, Finish, ReasoningDelta, Usage
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, Thinking
from reasoning.simulator import Simulator, find_arithmetic

INSTANT = {"tokens_per_second": 0}
DEFAULT_THINKING = Thinking()


@pytest.fixture(autouse=True)
def no_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    # A test run may set these to speed demos up; these tests set their own pace.
    monkeypatch.delenv("SIMULATOR_TOKENS_PER_SECOND", raising=False)
    monkeypatch.delenv("SIMULATOR_REASONING_TOKENS", raising=False)


def ask(
    prompt: str,
    *,
    options: Mapping[str, Any] = INSTANT,
    thinking: Thinking = DEFAULT_THINKING,
    max_tokens: int | None = None,
    history: tuple[Message, ...] = (),
) -> ChatRequest:
    return ChatRequest(
        provider=ProviderConfig(kind="simulator"),
        model=ModelSpec(model_id="simulator", options=options),
        messages=[*history, Message(role="user", content=prompt)],
        thinking=thinking,
        max_tokens=max_tokens,
    )


async def run(request: ChatRequest) -> list[Event]:
    adapter = get_adapter("simulator")
    async with httpx.AsyncClient() as client:
        return [event async for event in adapter.stream(request, client)]


def texts(events: list[Event]) -> tuple[str, str]:
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    content = "".join(e.text for e in events if isinstance(e, ContentDelta))
    return reasoning, content


def test_it_is_registered_as_the_simulator_kind() -> None:
    assert isinstance(get_adapter("simulator"), Simulator)


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        ("What is 17*23?", "= **391**"),
        ("12 + 5", "= **17**"),
        ("Compute (3+4)*2 please", "= **14**"),
        ("how much is 7 ÷ 2", "= **3.5**"),
        ("and 6 x 7?", "= **42**"),
    ],
)
async def test_it_works_out_arithmetic(prompt: str, answer: str) -> None:
    events = await run(ask(prompt))
    reasoning, content = texts(events)
    assert answer in content
    assert "step by step" in reasoning
    assert events[-1] == Finish("stop")


async def test_it_shows_its_working_for_each_operation() -> None:
    reasoning, _ = texts(await run(ask("(3+4)*2")))
    assert "Step 1: 3 + 4 = 7." in reasoning
    assert "Step 2: 7 × 2 = 14." in reasoning
    long_product, _ = texts(await run(ask("17*23")))
    assert "17 × 20 = 340, 17 × 3 = 51" in long_product


def test_it_never_evaluates_code() -> None:
    assert find_arithmetic("__import__('os').system('true')") is None
    assert find_arithmetic("2**100000") is None  # no power operator, no huge numbers


async def test_it_says_a_real_model_is_needed_when_there_is_no_arithmetic() -> None:
    reasoning, content = texts(await run(ask("Why is the sky blue?")))
    assert "The user asks: “Why is the sky blue?”" in reasoning
    assert "Key words:" in reasoning and "blue" in reasoning
    assert "offline simulator" in content and "real model" in content


async def test_it_handles_division_by_zero() -> None:
    _, content = texts(await run(ask("1/0")))
    assert "divide by zero" in content


async def test_it_streams_thinking_then_answer_then_usage_and_finish() -> None:
    events = await run(ask("12 + 5"))
    kinds = [type(e).__name__ for e in events]
    assert kinds[-2:] == ["Usage", "Finish"]
    assert kinds.index("ContentDelta") > kinds.index("ReasoningDelta")
    assert "ReasoningDelta" not in kinds[kinds.index("ContentDelta") :]
    reasoning, content = texts(events)
    assert "<think>" not in reasoning + content and "</think>" not in reasoning + content
    usage = events[-2]
    assert isinstance(usage, Usage)
    assert usage.reasoning_tokens and usage.completion_tokens and usage.prompt_tokens
    assert usage.completion_tokens > usage.reasoning_tokens


async def test_it_answers_without_thinking_when_thinking_is_off() -> None:
    events = await run(ask("12 + 5", thinking=Thinking(mode="off")))
    assert not any(isinstance(e, ReasoningDelta) for e in events)
    assert "**17**" in texts(events)[1]
    usage = events[-2]
    assert isinstance(usage, Usage) and usage.reasoning_tokens == 0


async def test_it_thinks_longer_at_higher_effort() -> None:
    sizes = {}
    for effort in ("minimal", "low", "medium", "high", "max"):
        reasoning, _ = texts(await run(ask("12 + 5", thinking=Thinking(effort=effort))))
        sizes[effort] = len(reasoning)
    assert sizes["minimal"] < sizes["low"] < sizes["medium"] < sizes["high"] < sizes["max"]
    none, content = texts(await run(ask("12 + 5", thinking=Thinking(effort="none"))))
    assert none == "" and "**17**" in content


async def test_it_pads_thinking_to_the_reasoning_tokens_option() -> None:
    events = await run(ask("hi", options={**INSTANT, "reasoning_tokens": 2000}))
    reasoning, _ = texts(events)
    assert len(reasoning) >= 2000 * 4
    usage = events[-2]
    assert isinstance(usage, Usage) and usage.reasoning_tokens and usage.reasoning_tokens >= 2000


async def test_it_takes_the_reasoning_tokens_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIMULATOR_REASONING_TOKENS", "1500")
    reasoning, _ = texts(await run(ask("hi")))
    assert len(reasoning) >= 1500 * 4


async def test_it_keeps_thinking_within_the_budget() -> None:
    thinking = Thinking(budget_tokens=40)
    reasoning, _ = texts(
        await run(ask("hi", options={**INSTANT, "thinking_steps": 30}, thinking=thinking))
    )
    unbounded, _ = texts(await run(ask("hi", options={**INSTANT, "thinking_steps": 30})))
    assert len(reasoning) <= 40 * 4 < len(unbounded)


async def test_it_stops_with_length_while_thinking_when_max_tokens_is_small() -> None:
    events = await run(ask("17*23", max_tokens=10))
    reasoning, content = texts(events)
    assert reasoning and content == ""
    assert events[-1] == Finish("length")
    usage = events[-2]
    assert isinstance(usage, Usage) and usage.completion_tokens == 10


async def test_it_stops_with_length_mid_answer() -> None:
    full_reasoning, full_content = texts(await run(ask("17*23")))
    raw_size = len("<think>\n") + len(full_reasoning) + len("\n</think>\n\n")
    events = await run(ask("17*23", max_tokens=(raw_size + 8) // 4))
    reasoning, content = texts(events)
    assert reasoning == full_reasoning
    assert content and full_content.startswith(content) and content != full_content
    assert events[-1] == Finish("length")


async def test_it_hides_reasoning_text_when_not_asked_for_but_still_counts_it() -> None:
    events = await run(ask("12 + 5", thinking=Thinking(include_reasoning=False)))
    assert not any(isinstance(e, ReasoningDelta) for e in events)
    usage = events[-2]
    assert isinstance(usage, Usage) and usage.reasoning_tokens


async def test_it_counts_earlier_turns() -> None:
    history = (
        Message(role="user", content="Hello"),
        Message(role="assistant", content="Hi!", reasoning="Greet back."),
    )
    reasoning, content = texts(await run(ask("12 + 5", history=history)))
    assert "2 earlier message(s)" in content
    assert "2 earlier message(s)" in reasoning


async def test_it_cuts_the_same_chunks_for_the_same_seed() -> None:
    first = await run(ask("Why is the sky blue?", options={**INSTANT, "seed": 3}))
    again = await run(ask("Why is the sky blue?", options={**INSTANT, "seed": 3}))
    other = await run(ask("Why is the sky blue?", options={**INSTANT, "seed": 4}))
    assert first == again
    assert texts(first)[1] == texts(other)[1]
    assert len([e for e in first if isinstance(e, ReasoningDelta)]) > 10


def test_it_prepares_messages_and_thinking_but_never_earlier_reasoning() -> None:
    history = (
        Message(role="user", content="Hello"),
        Message(
            role="assistant",
            content="Hi there!",
            reasoning="SECRET-REASONING the user greets me",
            replay={"signature": "SECRET-REPLAY"},
        ),
    )
    request = ask("12 + 5", history=history, thinking=Thinking(mode="on", effort="high"))
    request = dataclasses.replace(request, system="Be brief.")
    prepared = get_adapter("simulator").prepare(request)
    assert prepared.method == "SIM" and prepared.url == "simulator://local"
    assert prepared.json["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi there!"},
        {"role": "user", "content": "12 + 5"},
    ]
    assert prepared.json["thinking"]["mode"] == "on"
    assert prepared.json["thinking"]["effort"] == "high"
    assert "SECRET" not in json.dumps(prepared.json)


async def test_it_keeps_roughly_the_configured_pace() -> None:
    options = {"tokens_per_second": 400, "first_token_delay": 0.05}
    request = ask("Why is the sky blue?", options=options)
    started = time.perf_counter()
    events = await run(request)
    elapsed = time.perf_counter() - started
    usage = events[-2]
    assert isinstance(usage, Usage) and usage.completion_tokens
    expected = 0.05 + usage.completion_tokens / 400
    assert expected * 0.8 <= elapsed <= expected * 3 + 0.5


async def test_it_takes_the_pace_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMULATOR_TOKENS_PER_SECOND", "0")
    started = time.perf_counter()
    await run(ask("Why is the sky blue?", options={"tokens_per_second": 1, "first_token_delay": 5}))
    assert time.perf_counter() - started < 2


async def test_it_stops_promptly_when_cancelled() -> None:
    first = asyncio.Event()

    async def consume() -> None:
        adapter = get_adapter("simulator")
        async with httpx.AsyncClient() as client:
            slow = ask(
                "Why is the sky blue?", options={"tokens_per_second": 2, "first_token_delay": 0}
            )
            async for _ in adapter.stream(slow, client):
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), timeout=5)
    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - started < 0.5
