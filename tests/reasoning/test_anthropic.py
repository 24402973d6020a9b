from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from reasoning.adapters import get_adapter
from reasoning.context import prefix_digest
from reasoning.errors import AuthError, BadRequest, BrokenStream, RateLimited, Unavailable
from reasoning.events import ContentDelta, Event, Finish, ReasoningDelta, ReplayData, Usage
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, Thinking
from reasoning.testing.formats_native import anthropic_sse, gemini_sse, ollama_ndjson
from reasoning.testing.upstream import FakeUpstream, Script, rechunk, render

REASONING = "Let me compute 17*23: 17*20 = 340, 17*3 = 51, total 391. ünïcode ✓"
ANSWER = "17 × 23 = **391**."
SIGNATURE = "EqQBCgIYAhIMsig+/=="
DEFAULT_THINKING = Thinking()
CLAUDE = ModelSpec(
    model_id="claude-sonnet-4-5",
    thinking_control="anthropic_budget",
    efforts=("low", "medium", "high", "xhigh", "max"),
)


def ask(
    url: str,
    *,
    thinking: Thinking = DEFAULT_THINKING,
    model: ModelSpec = CLAUDE,
    messages: Sequence[Message] = (Message(role="user", content="17*23?"),),
    system: str | None = None,
    max_tokens: int | None = None,
) -> ChatRequest:
    return ChatRequest(
        provider=ProviderConfig(kind="anthropic", base_url=url, api_key="sk-ant-test"),
        model=model,
        messages=messages,
        system=system,
        thinking=thinking,
        max_tokens=max_tokens,
    )


async def collect(request: ChatRequest) -> list[Event]:
    async with httpx.AsyncClient() as client:
        return [event async for event in get_adapter("anthropic").stream(request, client)]


def texts(events: list[Event]) -> tuple[str, str]:
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    content = "".join(e.text for e in events if isinstance(e, ContentDelta))
    return reasoning, content


async def test_it_streams_thinking_and_text_apart_with_usage_and_finish() -> None:
    usage = Usage(prompt_tokens=50, completion_tokens=312, reasoning_tokens=270, cached_tokens=10)
    async with FakeUpstream() as up:
        up.enqueue(
            Script(chunks=anthropic_sse(REASONING, ANSWER, usage=usage, signature=SIGNATURE))
        )
        events = await collect(ask(up.url))
    assert texts(events) == (REASONING, ANSWER)
    assert len([e for e in events if isinstance(e, ReasoningDelta)]) > 3
    first_content = next(i for i, e in enumerate(events) if isinstance(e, ContentDelta))
    assert all(not isinstance(e, ReasoningDelta) for e in events[first_content:])
    assert events[-3:] == [
        ReplayData(
            {
                "format": "anthropic",
                "content": [
                    {"type": "thinking", "thinking": REASONING, "signature": SIGNATURE},
                    {"type": "text", "text": ANSWER},
                ],
                # The digest of the prefix it was produced after (reasoning.context)
                "prefix": prefix_digest(None, (), up.requests[0].json["messages"]),
            }
        ),
        Usage(prompt_tokens=50, completion_tokens=312, reasoning_tokens=270, cached_tokens=10),
        Finish("stop"),
    ]


async def test_it_reads_events_cut_anywhere_by_the_network() -> None:
    chunks = anthropic_sse(REASONING, ANSWER, redacted="EmwKAhgB")
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=rechunk(chunks, 7)))
        events = await collect(ask(up.url))
    assert texts(events) == (REASONING, ANSWER)
    assert events[-1] == Finish("stop")


async def test_it_leaves_reasoning_tokens_unknown_when_not_reported() -> None:
    usage = Usage(prompt_tokens=40, completion_tokens=100, cached_tokens=0)
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=anthropic_sse(REASONING, ANSWER, usage=usage)))
        events = await collect(ask(up.url))
    assert Usage(prompt_tokens=40, completion_tokens=100, cached_tokens=0) in events


async def test_it_sends_the_exact_body_and_headers() -> None:
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=anthropic_sse("", ANSWER, signature=None)))
        events = await collect(ask(up.url, system="Be brief.", thinking=Thinking(mode="on")))
        sent = up.requests[0]
    assert sent.method == "POST" and sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-test"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.json == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 16000,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "17*23?"}],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "stream": True,
    }
    assert not any(isinstance(e, ReplayData) for e in events)


@pytest.mark.parametrize(
    ("thinking", "max_tokens", "expected"),
    [
        (Thinking(), None, {"max_tokens": 16000}),
        (Thinking(mode="off"), None, {"max_tokens": 16000, "thinking": {"type": "disabled"}}),
        (
            Thinking(effort="low"),
            None,
            {"max_tokens": 16000, "thinking": {"type": "enabled", "budget_tokens": 1024}},
        ),
        (
            Thinking(effort="medium"),
            None,
            {"max_tokens": 16000, "thinking": {"type": "enabled", "budget_tokens": 2048}},
        ),
        (
            Thinking(effort="high"),
            None,
            {"max_tokens": 16000, "thinking": {"type": "enabled", "budget_tokens": 4096}},
        ),
        (
            Thinking(effort="xhigh"),
            None,
            {"max_tokens": 16000, "thinking": {"type": "enabled", "budget_tokens": 8192}},
        ),
        (
            Thinking(effort="max"),
            None,
            {"max_tokens": 20480, "thinking": {"type": "enabled", "budget_tokens": 16384}},
        ),
        (
            Thinking(budget_tokens=5000),
            3000,
            {"max_tokens": 3000, "thinking": {"type": "enabled", "budget_tokens": 2999}},
        ),
        (Thinking(), 800, {"max_tokens": 800}),
    ],
)
async def test_it_sends_thinking_on_off_and_each_effort(
    thinking: Thinking, max_tokens: int | None, expected: dict[str, Any]
) -> None:
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=anthropic_sse("r", "a")))
        await collect(ask(up.url, thinking=thinking, max_tokens=max_tokens))
        body = up.requests[0].json
    assert {k: v for k, v in body.items() if k in ("max_tokens", "thinking")} == expected


async def test_it_sends_adaptive_thinking_with_output_effort() -> None:
    model = ModelSpec(
        model_id="claude-opus-4-6",
        thinking_control="anthropic_adaptive",
        efforts=("low", "medium", "high", "max"),
    )
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=anthropic_sse("r", "a")))
        await collect(ask(up.url, model=model, thinking=Thinking(effort="high")))
        body = up.requests[0].json
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "high"}


def test_it_accepts_a_base_url_that_already_ends_in_v1() -> None:
    adapter = get_adapter("anthropic")
    assert adapter.prepare(ask("https://proxy.example/v1/")).url == (
        "https://proxy.example/v1/messages"
    )
    assert adapter.prepare(ask("")).url == "https://api.anthropic.com/v1/messages"
    assert adapter.prepare(ask("")).redacted().headers["x-api-key"] == "[redacted]"


@pytest.mark.parametrize(
    ("error_type", "error_class"),
    [
        ("overloaded_error", Unavailable),
        ("api_error", Unavailable),
        ("rate_limit_error", RateLimited),
        ("something_new", BrokenStream),
    ],
)
async def test_it_raises_an_error_event_after_http_200(
    error_type: str, error_class: type[Exception]
) -> None:
    error = {"type": error_type, "message": "Overloaded, try later"}
    seen: list[Event] = []
    async with FakeUpstream() as up, httpx.AsyncClient() as client:
        up.enqueue(Script(chunks=anthropic_sse(REASONING, ANSWER, error=error)))
        with pytest.raises(error_class, match="Overloaded, try later"):
            async for event in get_adapter("anthropic").stream(ask(up.url), client):
                seen.append(event)
    assert texts(seen) == (REASONING, ANSWER)
    assert not any(isinstance(e, Finish) for e in seen)


async def test_it_raises_broken_stream_when_message_stop_never_comes() -> None:
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=anthropic_sse(REASONING, ANSWER, stop=False)))
        with pytest.raises(BrokenStream, match="message_stop"):
            await collect(ask(up.url))


async def test_it_raises_broken_stream_when_the_connection_is_cut() -> None:
    chunks = anthropic_sse(REASONING, ANSWER)
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=chunks, cut_after=len(chunks) // 2))
        with pytest.raises(BrokenStream):
            await collect(ask(up.url))


async def test_it_translates_an_http_error_body() -> None:
    body = {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    }
    async with FakeUpstream() as up:
        up.enqueue(Script.error(401, body))
        with pytest.raises(AuthError, match="invalid x-api-key"):
            await collect(ask(up.url))


async def test_it_refuses_an_impossible_thinking_request_before_sending_it() -> None:
    async with FakeUpstream() as up:
        with pytest.raises(BadRequest, match="minimum thinking budget"):
            await collect(ask(up.url, thinking=Thinking(mode="on"), max_tokens=500))
        assert up.requests == []


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
        ("stop_sequence", "stop"),
        ("brand_new", "brand_new"),
    ],
)
async def test_it_maps_stop_reasons(stop_reason: str, finish: str) -> None:
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=anthropic_sse(REASONING, "", stop_reason=stop_reason)))
        events = await collect(ask(up.url))
    assert events[-1] == Finish(finish)


async def test_it_replays_signed_blocks_exactly_to_the_same_model_only() -> None:
    replaying = ModelSpec(
        model_id="claude-sonnet-4-5",
        thinking_control="anthropic_budget",
        efforts=CLAUDE.efforts,
        options={"replay_thinking": True},
    )
    other = ModelSpec(
        model_id="claude-opus-4-1",
        thinking_control="anthropic_budget",
        options={"replay_thinking": True},
    )
    async with FakeUpstream() as up:
        first_chunks = anthropic_sse(REASONING, ANSWER, signature=SIGNATURE, redacted="EmwKAhgB")
        up.enqueue(Script(chunks=first_chunks))
        first = await collect(ask(up.url, model=replaying, thinking=Thinking(effort="low")))
        replay = next(e.payload for e in first if isinstance(e, ReplayData))
        # The replay payload is what a turn stores: it goes through JSON.
        stored = json.loads(json.dumps(replay))
        history = (
            Message(role="user", content="17*23?"),
            Message(
                role="assistant",
                content=ANSWER,
                reasoning=REASONING,
                replay=stored,
                source="anthropic:claude-sonnet-4-5",
            ),
            Message(role="user", content="And 18*23?"),
        )
        up.enqueue(Script(chunks=anthropic_sse("r", "414")), Script(chunks=anthropic_sse("r", "x")))
        await collect(ask(up.url, model=replaying, messages=history))
        await collect(ask(up.url, model=other, messages=history))
        same, foreign = up.requests[1].json, up.requests[2].json
    blocks_as_sent_by_the_server = [
        json.loads(line[len("data: ") :])["content_block"]
        for chunk in first_chunks
        for line in chunk.decode().splitlines()
        if line.startswith("data: ") and '"content_block_start"' in line
    ]
    assert same["messages"][1]["content"] == [
        {"type": "thinking", "thinking": REASONING, "signature": SIGNATURE},
        blocks_as_sent_by_the_server[1],
        {"type": "text", "text": ANSWER},
    ]
    assert blocks_as_sent_by_the_server[1] == {"type": "redacted_thinking", "data": "EmwKAhgB"}
    assert foreign["messages"][1] == {"role": "assistant", "content": ANSWER}
    assert SIGNATURE not in json.dumps(foreign) and REASONING not in json.dumps(foreign)


async def test_it_closes_the_upstream_when_the_consumer_stops_reading() -> None:
    async with FakeUpstream() as up, httpx.AsyncClient() as client:
        up.enqueue(Script(chunks=anthropic_sse(REASONING, ANSWER), stall_after=4, stall_for=None))
        stream = get_adapter("anthropic").stream(ask(up.url), client)
        first = await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        await up.requests[0].closed(timeout=1.0)
    assert first == ReasoningDelta(REASONING[:8])
    assert up.requests[0].closed_by_client


async def test_it_closes_the_upstream_when_its_task_is_cancelled() -> None:
    started = asyncio.Event()

    async def run(client: httpx.AsyncClient, url: str) -> None:
        async for _event in get_adapter("anthropic").stream(ask(url), client):
            started.set()

    async with FakeUpstream() as up, httpx.AsyncClient() as client:
        up.enqueue(Script(chunks=anthropic_sse(REASONING, ANSWER), stall_after=4, stall_for=None))
        task = asyncio.create_task(run(client, up.url))
        await asyncio.wait_for(started.wait(), timeout=2.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await up.requests[0].closed(timeout=1.0)
    assert up.requests[0].closed_by_client


def test_it_registers_the_native_wire_formats_by_name() -> None:
    usage = Usage(prompt_tokens=3, completion_tokens=5, reasoning_tokens=2)
    assert render("anthropic", "r", "a", usage=usage) == anthropic_sse("r", "a", usage=usage)
    assert render("gemini", "r", "a", usage=usage) == gemini_sse("r", "a", usage=usage)
    assert render("ollama", "r", "a", usage=usage) == ollama_ndjson("r", "a", usage=usage)
