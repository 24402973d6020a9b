from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import httpx
import pytest

from reasoning.adapters import get_adapter
from reasoning.errors import AuthError, BadRequest, BrokenStream, RateLimited, Unavailable
from reasoning.events import ContentDelta, Event, Finish, ReasoningDelta, ReplayData, Usage
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, Thinking
from reasoning.testing.formats_native import gemini_sse
from reasoning.testing.upstream import FakeUpstream, Script, rechunk, sse

REASONING = "**Calculating the product**\n\nI'll split 23 into 20+3 — ünïcode ✓"
ANSWER = "17 × 23 = 391."
SIGNATURE = "CrcBAdHtim9+/sig=="
DEFAULT_THINKING = Thinking()
FLASH = ModelSpec(
    model_id="gemini-2.5-flash",
    thinking_control="gemini_budget",
    efforts=("none", "minimal", "low", "medium", "high"),
)


def ask(
    url: str,
    *,
    thinking: Thinking = DEFAULT_THINKING,
    model: ModelSpec = FLASH,
    messages: Sequence[Message] = (Message(role="user", content="17*23?"),),
    system: str | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> ChatRequest:
    return ChatRequest(
        provider=ProviderConfig(kind="gemini", base_url=url, api_key="AIza-test"),
        model=model,
        messages=messages,
        system=system,
        thinking=thinking,
        max_tokens=max_tokens,
        temperature=temperature,
    )


async def collect(request: ChatRequest) -> list[Event]:
    async with httpx.AsyncClient() as client:
        return [event async for event in get_adapter("gemini").stream(request, client)]


def texts(events: list[Event]) -> tuple[str, str]:
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    content = "".join(e.text for e in events if isinstance(e, ContentDelta))
    return reasoning, content


async def test_it_streams_thoughts_and_answer_apart_with_normalised_usage() -> None:
    usage = Usage(prompt_tokens=10, completion_tokens=192, reasoning_tokens=183, cached_tokens=4)
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=gemini_sse(REASONING, ANSWER, usage=usage, signature=SIGNATURE)))
        events = await collect(ask(up.url))
    assert texts(events) == (REASONING, ANSWER)
    first_content = next(i for i, e in enumerate(events) if isinstance(e, ContentDelta))
    assert all(not isinstance(e, ReasoningDelta) for e in events[first_content:])
    assert events[-2:] == [
        Usage(prompt_tokens=10, completion_tokens=192, reasoning_tokens=183, cached_tokens=4),
        Finish("stop"),
    ]
    replay = next(e.payload for e in events if isinstance(e, ReplayData))
    assert replay["format"] == "gemini"
    assert "".join(p["text"] for p in replay["parts"]) == ANSWER
    assert replay["parts"][-1]["thoughtSignature"] == SIGNATURE
    assert not any(p.get("thought") for p in replay["parts"])


async def test_it_adds_thoughts_to_candidates_for_the_completion_count() -> None:
    metadata = {"promptTokenCount": 7, "candidatesTokenCount": 9, "thoughtsTokenCount": 183}
    chunk = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": metadata,
    }
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=[sse(chunk)]))
        events = await collect(ask(up.url))
    assert Usage(prompt_tokens=7, completion_tokens=192, reasoning_tokens=183) in events


async def test_it_keeps_a_signature_that_arrives_on_an_empty_part() -> None:
    chunks = gemini_sse(REASONING, ANSWER, signature=SIGNATURE, signature_on_empty_part=True)
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=rechunk(chunks, 5)))
        events = await collect(ask(up.url))
    assert texts(events) == (REASONING, ANSWER)
    replay = next(e.payload for e in events if isinstance(e, ReplayData))
    assert replay["parts"][-1] == {"text": "", "thoughtSignature": SIGNATURE}


async def test_it_sends_no_replay_without_a_signature() -> None:
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=gemini_sse(REASONING, ANSWER, signature=None)))
        events = await collect(ask(up.url))
    assert not any(isinstance(e, ReplayData) for e in events)


async def test_it_sends_the_exact_request() -> None:
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=gemini_sse("", ANSWER)))
        await collect(
            ask(
                up.url,
                system="Be brief.",
                thinking=Thinking(effort="low"),
                max_tokens=2000,
                temperature=0.5,
            )
        )
        sent = up.requests[0]
    assert sent.method == "POST"
    assert sent.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert sent.headers["x-goog-api-key"] == "AIza-test"
    assert sent.json == {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "17*23?"}]}],
        "generationConfig": {
            "maxOutputTokens": 2000,
            "temperature": 0.5,
            "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
        },
    }


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        (Thinking(), {"includeThoughts": True}),
        (Thinking(mode="on"), {"thinkingBudget": -1, "includeThoughts": True}),
        (Thinking(mode="off"), {"thinkingBudget": 0, "includeThoughts": False}),
        (Thinking(effort="none"), {"thinkingBudget": 0, "includeThoughts": False}),
        (Thinking(effort="minimal"), {"thinkingBudget": 512, "includeThoughts": True}),
        (Thinking(effort="low"), {"thinkingBudget": 1024, "includeThoughts": True}),
        (Thinking(effort="medium"), {"thinkingBudget": 8192, "includeThoughts": True}),
        (Thinking(effort="high"), {"thinkingBudget": 24576, "includeThoughts": True}),
        (Thinking(budget_tokens=800), {"thinkingBudget": 800, "includeThoughts": True}),
        (Thinking(include_reasoning=False), {"includeThoughts": False}),
    ],
)
async def test_it_sends_thinking_on_off_and_each_effort(
    thinking: Thinking, expected: dict[str, Any]
) -> None:
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=gemini_sse("r", "a")))
        await collect(ask(up.url, thinking=thinking))
        body = up.requests[0].json
    assert body["generationConfig"] == {"thinkingConfig": expected}


async def test_it_sends_a_thinking_level_to_gemini_3() -> None:
    model = ModelSpec(
        model_id="models/gemini-3-pro-preview",
        thinking_control="gemini_level",
        efforts=("low", "high"),
    )
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=gemini_sse("r", "a")))
        await collect(ask(up.url, model=model, thinking=Thinking(effort="high")))
        sent = up.requests[0]
    assert sent.path == "/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse"
    assert sent.json["generationConfig"] == {
        "thinkingConfig": {"thinkingLevel": "HIGH", "includeThoughts": True}
    }


def test_it_builds_urls_from_bases_with_or_without_a_version() -> None:
    adapter = get_adapter("gemini")
    assert adapter.prepare(ask("")).url == (
        "https://generativelanguage.googleapis.com/v1beta/models/"
        "gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert adapter.prepare(ask("https://proxy.example/v1beta/")).url == (
        "https://proxy.example/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )


async def test_it_raises_broken_stream_when_the_socket_closes_before_a_finish_reason() -> None:
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=gemini_sse(REASONING, ANSWER, finish_reason=None)))
        with pytest.raises(BrokenStream, match="finishReason"):
            await collect(ask(up.url))


async def test_it_raises_broken_stream_when_the_connection_is_cut() -> None:
    chunks = gemini_sse(REASONING, ANSWER)
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=chunks, cut_after=len(chunks) - 1))
        with pytest.raises(BrokenStream):
            await collect(ask(up.url))


@pytest.mark.parametrize(
    ("code", "status", "error_class"),
    [(503, "UNAVAILABLE", Unavailable), (429, "RESOURCE_EXHAUSTED", RateLimited)],
)
async def test_it_raises_an_error_inside_a_200_stream(
    code: int, status: str, error_class: type[Exception]
) -> None:
    error = {"code": code, "message": "The model is overloaded.", "status": status}
    seen: list[Event] = []
    async with FakeUpstream() as up, httpx.AsyncClient() as client:
        chunks = gemini_sse(REASONING, ANSWER, finish_reason=None, error=error)
        up.enqueue(Script(chunks=chunks))
        with pytest.raises(error_class, match="overloaded"):
            async for event in get_adapter("gemini").stream(ask(up.url), client):
                seen.append(event)
    assert texts(seen) == (REASONING, ANSWER)


async def test_it_translates_an_http_error_body() -> None:
    body = {"error": {"code": 403, "message": "API key not valid.", "status": "PERMISSION_DENIED"}}
    async with FakeUpstream() as up:
        up.enqueue(Script.error(403, [body]))
        with pytest.raises(AuthError, match="API key not valid"):
            await collect(ask(up.url))


async def test_it_refuses_an_impossible_thinking_request_before_sending_it() -> None:
    pro = ModelSpec(
        model_id="gemini-2.5-pro",
        thinking_control="gemini_budget",
        options={"thinking_always_on": True},
    )
    async with FakeUpstream() as up:
        with pytest.raises(BadRequest, match="cannot turn thinking off"):
            await collect(ask(up.url, model=pro, thinking=Thinking(mode="off")))
        assert up.requests == []


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("NEW_REASON", "new_reason"),
    ],
)
async def test_it_maps_finish_reasons(reason: str, finish: str) -> None:
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=gemini_sse(REASONING, "", finish_reason=reason)))
        events = await collect(ask(up.url))
    assert events[-1] == Finish(finish)


async def test_it_finishes_with_content_filter_when_the_prompt_is_blocked() -> None:
    blocked = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 5},
    }
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=[sse(blocked)]))
        events = await collect(ask(up.url))
    assert events == [Usage(prompt_tokens=5), Finish("content_filter")]


async def test_it_replays_signed_parts_exactly_to_the_same_model_only() -> None:
    other = ModelSpec(model_id="gemini-2.5-pro", thinking_control="gemini_budget")
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=gemini_sse(REASONING, ANSWER, signature=SIGNATURE)))
        first = await collect(ask(up.url))
        replay = next(e.payload for e in first if isinstance(e, ReplayData))
        stored = json.loads(json.dumps(replay))
        history = (
            Message(role="user", content="17*23?"),
            Message(
                role="assistant",
                content=ANSWER,
                reasoning=REASONING,
                replay=stored,
                source="gemini:gemini-2.5-flash",
            ),
            Message(role="user", content="And 18*23?"),
        )
        up.enqueue(Script(chunks=gemini_sse("r", "414")), Script(chunks=gemini_sse("r", "x")))
        # Across user turns the signed parts go back under the "preserved" policy.
        preserved = {"replay": "preserved"}
        await collect(ask(up.url, model=replace(FLASH, options=preserved), messages=history))
        await collect(ask(up.url, model=replace(other, options=preserved), messages=history))
        same, foreign = up.requests[1].json, up.requests[2].json
    server_parts = [
        part
        for chunk in gemini_sse(REASONING, ANSWER, signature=SIGNATURE)
        for part in json.loads(chunk.decode()[len("data: ") :])["candidates"][0]["content"]["parts"]
        if not part.get("thought")
    ]
    assert same["contents"][1] == {"role": "model", "parts": server_parts}
    assert same["contents"][1]["parts"][-1]["thoughtSignature"] == SIGNATURE
    assert REASONING not in json.dumps(same)
    assert foreign["contents"][1] == {"role": "model", "parts": [{"text": ANSWER}]}
    assert SIGNATURE not in json.dumps(foreign)


async def test_it_closes_the_upstream_when_the_consumer_stops_reading() -> None:
    async with FakeUpstream() as up, httpx.AsyncClient() as client:
        up.enqueue(Script(chunks=gemini_sse(REASONING, ANSWER), stall_after=1, stall_for=None))
        stream = get_adapter("gemini").stream(ask(up.url), client)
        first = await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        await up.requests[0].closed(timeout=1.0)
    assert first == ReasoningDelta(REASONING[:8])
    assert up.requests[0].closed_by_client
