from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from reasoning.adapters import get_adapter
from reasoning.errors import BadRequest, BrokenStream, NotFound, ProviderError
from reasoning.events import ContentDelta, Event, Finish, ReasoningDelta, ReplayData, Usage
from reasoning.request import (
    ChatRequest,
    Message,
    ModelSpec,
    ProviderConfig,
    ReasoningStyle,
    Thinking,
)
from reasoning.testing.formats_native import ollama_ndjson
from reasoning.testing.upstream import FakeUpstream, Script, rechunk

REASONING = "Okay, 17*20 = 340 and 17*3 = 51 — ünïcode ✓"
ANSWER = "17 × 23 = 391"
NDJSON = {"content-type": "application/x-ndjson"}
DEFAULT_THINKING = Thinking()
QWEN = ModelSpec(model_id="qwen3:8b", thinking_control="ollama_think")
GPT_OSS = ModelSpec(
    model_id="gpt-oss:20b", thinking_control="ollama_think", efforts=("low", "medium", "high")
)


def ask(
    url: str,
    *,
    thinking: Thinking = DEFAULT_THINKING,
    model: ModelSpec = QWEN,
    messages: Sequence[Message] = (Message(role="user", content="17*23?"),),
    system: str | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    api_key: str = "",
) -> ChatRequest:
    return ChatRequest(
        provider=ProviderConfig(kind="ollama", base_url=url, api_key=api_key),
        model=model,
        messages=messages,
        system=system,
        thinking=thinking,
        max_tokens=max_tokens,
        temperature=temperature,
    )


def script(chunks: list[bytes], **kwargs: Any) -> Script:
    return Script(chunks=chunks, headers=NDJSON, **kwargs)


async def collect(request: ChatRequest) -> list[Event]:
    async with httpx.AsyncClient() as client:
        return [event async for event in get_adapter("ollama").stream(request, client)]


def texts(events: list[Event]) -> tuple[str, str]:
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    content = "".join(e.text for e in events if isinstance(e, ContentDelta))
    return reasoning, content


async def test_it_streams_thinking_and_content_apart_with_usage() -> None:
    usage = Usage(prompt_tokens=15, completion_tokens=240)
    async with FakeUpstream() as up:
        up.enqueue(script(ollama_ndjson(REASONING, ANSWER, usage=usage)))
        events = await collect(ask(up.url))
    assert texts(events) == (REASONING, ANSWER)
    assert len([e for e in events if isinstance(e, ContentDelta)]) > 1
    first_content = next(i for i, e in enumerate(events) if isinstance(e, ContentDelta))
    assert all(not isinstance(e, ReasoningDelta) for e in events[first_content:])
    assert events[-2:] == [Usage(prompt_tokens=15, completion_tokens=240), Finish("stop")]
    assert not any(isinstance(e, ReplayData) for e in events)


async def test_it_reads_lines_cut_anywhere_by_the_network() -> None:
    async with FakeUpstream() as up:
        up.enqueue(script(rechunk(ollama_ndjson(REASONING, ANSWER), 3)))
        events = await collect(ask(up.url))
    assert texts(events) == (REASONING, ANSWER)


async def test_it_passes_the_done_reason_through() -> None:
    async with FakeUpstream() as up:
        up.enqueue(script(ollama_ndjson(REASONING, "", done_reason="length")))
        events = await collect(ask(up.url))
    assert events[-1] == Finish("length")


async def test_it_sends_the_exact_request() -> None:
    async with FakeUpstream() as up:
        up.enqueue(script(ollama_ndjson("", ANSWER)))
        await collect(
            ask(
                up.url,
                system="Be brief.",
                thinking=Thinking(mode="on"),
                max_tokens=300,
                temperature=0.2,
                api_key="ollama-key",
            )
        )
        sent = up.requests[0]
    assert sent.method == "POST" and sent.path == "/api/chat"
    assert sent.headers["authorization"] == "Bearer ollama-key"
    assert sent.json == {
        "model": "qwen3:8b",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "17*23?"},
        ],
        "options": {"num_predict": 300, "temperature": 0.2},
        "think": True,
        "stream": True,
    }


@pytest.mark.parametrize(
    ("model", "thinking", "expected"),
    [
        (QWEN, Thinking(), None),
        (QWEN, Thinking(mode="on"), True),
        (QWEN, Thinking(mode="off"), False),
        (GPT_OSS, Thinking(effort="low"), "low"),
        (GPT_OSS, Thinking(effort="medium"), "medium"),
        (GPT_OSS, Thinking(effort="high"), "high"),
    ],
)
async def test_it_sends_think_for_on_off_and_each_effort(
    model: ModelSpec, thinking: Thinking, expected: bool | str | None
) -> None:
    async with FakeUpstream() as up:
        up.enqueue(script(ollama_ndjson("r", "a")))
        await collect(ask(up.url, model=model, thinking=thinking))
        body = up.requests[0].json
    assert body.get("think", None) == expected
    assert ("think" in body) == (expected is not None)


def test_it_builds_the_url_from_any_usual_base() -> None:
    adapter = get_adapter("ollama")
    assert adapter.prepare(ask("")).url == "http://localhost:11434/api/chat"
    for base in (
        "http://gpu:11434",
        "http://gpu:11434/",
        "http://gpu:11434/v1",
        "http://gpu:11434/api",
    ):
        assert adapter.prepare(ask(base)).url == "http://gpu:11434/api/chat"


async def test_it_raises_the_error_line_with_ollamas_message() -> None:
    async with FakeUpstream() as up:
        up.enqueue(
            script(ollama_ndjson(REASONING, "", error="model runner has unexpectedly stopped"))
        )
        with pytest.raises(ProviderError, match="model runner has unexpectedly stopped"):
            await collect(ask(up.url))


async def test_it_translates_an_http_error_body() -> None:
    async with FakeUpstream() as up:
        up.enqueue(Script.error(404, {"error": "model 'qwen9' not found, try pulling it first"}))
        with pytest.raises(NotFound, match="try pulling it first"):
            await collect(ask(up.url))
        up.enqueue(Script.error(400, {"error": '"gemma2" does not support thinking'}))
        with pytest.raises(BadRequest, match="does not support thinking"):
            await collect(ask(up.url))


async def test_it_raises_broken_stream_when_done_never_comes() -> None:
    async with FakeUpstream() as up:
        up.enqueue(script(ollama_ndjson(REASONING, ANSWER, done=False)))
        with pytest.raises(BrokenStream, match="without a done line"):
            await collect(ask(up.url))


async def test_it_raises_broken_stream_on_a_garbled_line() -> None:
    async with FakeUpstream() as up:
        up.enqueue(script([b'{"message":{"content":"hi"},"done":false}\n', b"{not json\n"]))
        with pytest.raises(BrokenStream):
            await collect(ask(up.url))


async def test_it_refuses_an_impossible_thinking_request_before_sending_it() -> None:
    async with FakeUpstream() as up:
        with pytest.raises(BadRequest, match="takes no thinking budget"):
            await collect(ask(up.url, thinking=Thinking(budget_tokens=100)))
        assert up.requests == []


async def test_it_parses_think_tags_in_content_for_markup_models() -> None:
    pytest.importorskip("reasoning.parsers")
    model = ModelSpec(
        model_id="deepseek-r1:7b",
        reasoning=ReasoningStyle.MARKUP,
        markup="think",
        thinking_control="none",
    )
    async with FakeUpstream() as up:
        up.enqueue(script(ollama_ndjson(REASONING, ANSWER, markup=True, chunk_chars=3)))
        events = await collect(ask(up.url, model=model))
    assert texts(events) == (REASONING, ANSWER)
    assert events[-1] == Finish("stop")


async def test_it_replays_nothing_and_sends_no_thinking_back_by_default() -> None:
    history = (
        Message(role="user", content="17*23?"),
        Message(role="assistant", content=ANSWER, reasoning=REASONING, source="ollama:qwen3:8b"),
        Message(role="user", content="And 18*23?"),
    )
    async with FakeUpstream() as up:
        up.enqueue(script(ollama_ndjson("r", "414")))
        await collect(ask(up.url, messages=history))
        body = up.requests[0].json
    assert body["messages"] == [
        {"role": "user", "content": "17*23?"},
        {"role": "assistant", "content": ANSWER},
        {"role": "user", "content": "And 18*23?"},
    ]


async def test_it_closes_the_upstream_when_the_consumer_stops_reading() -> None:
    async with FakeUpstream() as up, httpx.AsyncClient() as client:
        up.enqueue(script(ollama_ndjson(REASONING, ANSWER), stall_after=1, stall_for=None))
        stream = get_adapter("ollama").stream(ask(up.url), client)
        first = await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        await up.requests[0].closed(timeout=1.0)
    assert first == ReasoningDelta(REASONING[:8])
    assert up.requests[0].closed_by_client
