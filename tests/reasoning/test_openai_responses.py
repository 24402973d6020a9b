"""The OpenAI Responses adapter against a real loopback upstream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from reasoning.adapters import get_adapter
from reasoning.errors import BadRequest, BrokenStream, ProviderTimeout, RateLimited, Unavailable
from reasoning.events import ContentDelta, Event, Finish, ReasoningDelta, ReplayData, Usage
from reasoning.request import (
    ChatRequest,
    Message,
    ModelSpec,
    ProviderConfig,
    ReasoningStyle,
    Thinking,
)
from reasoning.testing import FakeUpstream, Script, openai_responses_sse, rechunk, sse
from reasoning.wire import make_client

USAGE = Usage(prompt_tokens=12, completion_tokens=210, reasoning_tokens=192, cached_tokens=0)
MODEL = ModelSpec(
    "gpt-5", thinking_control="responses", efforts=("minimal", "low", "medium", "high")
)


def responses_request(
    up: FakeUpstream,
    *,
    model: ModelSpec = MODEL,
    thinking: Thinking | None = None,
    max_tokens: int | None = None,
) -> ChatRequest:
    return ChatRequest(
        provider=ProviderConfig("openai-responses", up.url + "/v1", "sk-test"),
        model=model,
        messages=[Message("user", "17*23?")],
        system="Be brief.",
        thinking=thinking or Thinking(),
        max_tokens=max_tokens,
    )


async def run(request: ChatRequest, client: httpx.AsyncClient) -> list[Event]:
    return [event async for event in get_adapter("openai-responses").stream(request, client)]


def texts(events: Sequence[Event]) -> tuple[str, str]:
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    content = "".join(e.text for e in events if isinstance(e, ContentDelta))
    return reasoning, content


@pytest.fixture
async def up() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(read_timeout=5) as c:
        yield c


async def test_it_streams_summary_parts_joined_by_a_blank_line_then_the_answer(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    parts = ["**Multiplying**\n\nSplit 23 into 20 and 3.", "**Adding**\n\n340 + 51 = 391."]
    up.enqueue(Script(chunks=openai_responses_sse(parts, "391", chunk_chars=4, usage=USAGE)))
    events = await run(responses_request(up), client)
    assert texts(events) == ("\n\n".join(parts), "391")
    [replay] = [e for e in events if isinstance(e, ReplayData)]
    reasoning_item, message_item = replay.payload["items"]
    assert reasoning_item["type"] == "reasoning"
    assert reasoning_item["encrypted_content"] == "enc-fake"
    assert [s["text"] for s in reasoning_item["summary"]] == parts
    assert message_item["type"] == "message"
    assert events[-2:] == [USAGE, Finish("stop")]


async def test_it_streams_raw_reasoning_text(up: FakeUpstream, client: httpx.AsyncClient) -> None:
    up.enqueue(
        Script(chunks=openai_responses_sse("raw chain of thought", "ok", raw_reasoning=True))
    )
    events = await run(responses_request(up), client)
    assert texts(events) == ("raw chain of thought", "ok")


async def test_it_gives_no_replay_when_no_reasoning_item_came(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(
        Script(chunks=openai_responses_sse("", "plain answer", chunk_chars=100, usage=USAGE))
    )
    events = await run(responses_request(up), client)
    assert events == [ContentDelta("plain answer"), USAGE, Finish("stop")]


async def test_it_reads_events_cut_anywhere(up: FakeUpstream, client: httpx.AsyncClient) -> None:
    chunks = openai_responses_sse(["Ünï 😀 part"], "answer ✓", chunk_chars=2)
    up.enqueue(Script(chunks=rechunk(chunks, 3)))
    assert texts(await run(responses_request(up), client)) == ("Ünï 😀 part", "answer ✓")


async def test_an_incomplete_response_finishes_with_length(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_responses_sse("thinking…", "", status="incomplete")))
    events = await run(responses_request(up), client)
    assert texts(events) == ("thinking…", "")
    assert events[-1] == Finish("length")


async def test_a_failed_response_raises_the_providers_error(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_responses_sse("r", "c", status="failed", error_message="boom")))
    with pytest.raises(Unavailable, match="boom"):
        await run(responses_request(up), client)


@pytest.mark.parametrize(
    ("event", "error_class"),
    [
        ({"code": "rate_limit_exceeded", "message": "Slow down"}, RateLimited),
        ({"code": "invalid_prompt", "message": "Slow down"}, BadRequest),
        ({"code": "mystery", "message": "Slow down"}, BrokenStream),
        ({"code": "server_error", "message": "Slow down"}, Unavailable),
    ],
)
async def test_an_error_event_after_http_200_raises(
    up: FakeUpstream, client: httpx.AsyncClient, event: dict[str, Any], error_class: type
) -> None:
    head = openai_responses_sse("r", "")[:5]
    up.enqueue(Script(chunks=[*head, sse({"type": "error", **event}, event="error")]))
    with pytest.raises(error_class, match="Slow down"):
        await run(responses_request(up), client)


async def test_a_stream_without_a_terminal_event_is_broken(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_responses_sse("r", "c")[:-1]))
    with pytest.raises(BrokenStream, match="before its end marker"):
        await run(responses_request(up), client)


async def test_a_400_keeps_the_providers_message(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    message = "Item with id 'rs_1' not found. Items are not persisted when `store` is set to false."
    up.enqueue(Script.error(400, {"error": {"message": message, "type": "invalid_request_error"}}))
    with pytest.raises(BadRequest) as info:
        await run(responses_request(up), client)
    assert info.value.message == message


async def test_it_sends_the_exact_request_body(up: FakeUpstream, client: httpx.AsyncClient) -> None:
    up.enqueue(Script(chunks=openai_responses_sse("r", "c")))
    await run(responses_request(up, thinking=Thinking(effort="high"), max_tokens=5000), client)
    [sent] = up.requests
    assert (sent.path, sent.headers["authorization"]) == ("/v1/responses", "Bearer sk-test")
    assert sent.json == {
        "model": "gpt-5",
        "input": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "17*23?"},
        ],
        "stream": True,
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "max_output_tokens": 5000,
        "reasoning": {"effort": "high", "summary": "auto"},
    }


@pytest.mark.parametrize(
    ("thinking", "reasoning"),
    [
        (Thinking(), {"summary": "auto"}),
        (Thinking(effort="minimal"), {"effort": "minimal", "summary": "auto"}),
        (Thinking(effort="low", include_reasoning=False), {"effort": "low"}),
    ],
)
async def test_it_maps_the_thinking_controls(
    up: FakeUpstream, client: httpx.AsyncClient, thinking: Thinking, reasoning: dict[str, Any]
) -> None:
    up.enqueue(Script(chunks=openai_responses_sse("r", "c")))
    await run(responses_request(up, thinking=thinking), client)
    assert up.requests[0].json["reasoning"] == reasoning


async def test_a_model_without_reasoning_asks_for_no_encrypted_reasoning(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_responses_sse("", "c")))
    model = ModelSpec("gpt-4.1", reasoning=ReasoningStyle.NONE)
    await run(responses_request(up, model=model), client)
    assert "include" not in up.requests[0].json
    assert "reasoning" not in up.requests[0].json


async def test_a_stall_mid_reasoning_is_a_timeout(up: FakeUpstream) -> None:
    up.enqueue(Script(chunks=openai_responses_sse("abcdefgh", "c", chunk_chars=2), stall_after=5))
    seen: list[Event] = []
    async with make_client(read_timeout=0.2) as short:
        with pytest.raises(ProviderTimeout):
            async for event in get_adapter("openai-responses").stream(responses_request(up), short):
                seen.append(event)
    assert texts(seen) == ("ab", "")


async def test_a_connection_cut_mid_reasoning_is_a_broken_stream(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_responses_sse("abcdefgh", "c", chunk_chars=2), cut_after=6))
    seen: list[Event] = []
    with pytest.raises(BrokenStream):
        async for event in get_adapter("openai-responses").stream(responses_request(up), client):
            seen.append(event)
    assert texts(seen) == ("abcd", "")


async def test_cancelling_closes_the_upstream_connection_within_a_second(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_responses_sse("abcdefgh", "c", chunk_chars=2), stall_after=5))
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in get_adapter("openai-responses").stream(responses_request(up), client):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 2)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await up.requests[0].closed(2) - cancelled_at < 1.0
