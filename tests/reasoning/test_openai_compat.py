"""The OpenAI-compatible Chat Completions adapter against a real loopback upstream."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
import types
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from reasoning.adapters import get_adapter
from reasoning.errors import (
    AuthError,
    BrokenStream,
    ProviderTimeout,
    RateLimited,
    Unavailable,
)
from reasoning.events import ContentDelta, Event, Finish, ReasoningDelta, ReplayData, Usage
from reasoning.request import (
    ChatRequest,
    Message,
    ModelSpec,
    ProviderConfig,
    ReasoningStyle,
    Thinking,
)
from reasoning.testing import FakeUpstream, Script, openai_chat_sse, rechunk, sse
from reasoning.wire import make_client

try:
    import reasoning.parsers  # noqa: F401
except ImportError:  # pragma: no cover
    # LOCAL FAKE of reasoning.parsers, used only until the `parsers` branch is merged;
    # the tests below use plain `<think>a</think>b` cases that the real parser also passes.
    class _FakeThinkParser:
        def __init__(self, starts_in_reasoning: bool, tags: tuple[str, str] | None) -> None:
            self.tags = tags or ("<think>", "</think>")
            self.text = self.tags[0] if starts_in_reasoning else ""

        def feed(self, delta: str) -> list[ReasoningDelta | ContentDelta]:
            self.text += delta
            return []

        def close(self) -> list[ReasoningDelta | ContentDelta]:
            opening, closing = self.tags
            if not self.text.startswith(opening) or closing not in self.text:
                return [ContentDelta(self.text)] if self.text else []
            reasoning, _, content = self.text[len(opening) :].partition(closing)
            return [ReasoningDelta(reasoning), ContentDelta(content)]

    def _make_parser(
        family: str, starts_in_reasoning: bool = False, tags: tuple[str, str] | None = None
    ) -> _FakeThinkParser:
        assert family == "think"
        return _FakeThinkParser(starts_in_reasoning, tags)

    _fake = types.ModuleType("reasoning.parsers")
    _fake.make_parser = _make_parser  # type: ignore[attr-defined]
    sys.modules["reasoning.parsers"] = _fake

REASONING = "Let me compute 17*23: 17*20=340, 17*3=51, total 391."
ANSWER = "17 × 23 = 391."
USAGE = Usage(prompt_tokens=12, completion_tokens=210, reasoning_tokens=192, cached_tokens=8)


def chat_request(
    up: FakeUpstream,
    *,
    model: ModelSpec | None = None,
    thinking: Thinking | None = None,
    api_key: str = "",
    options: dict[str, Any] | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> ChatRequest:
    return ChatRequest(
        provider=ProviderConfig("openai", up.url + "/v1", api_key, options or {}),
        model=model or ModelSpec("deepseek-reasoner"),
        messages=[Message("user", "17*23?")],
        thinking=thinking or Thinking(),
        max_tokens=max_tokens,
        temperature=temperature,
    )


async def run(request: ChatRequest, client: httpx.AsyncClient) -> list[Event]:
    return [event async for event in get_adapter("openai").stream(request, client)]


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


# -- reasoning fields -----------------------------------------------------------


@pytest.mark.parametrize(
    "field", ["reasoning_content", "reasoning", "reasoning_details", "mistral"]
)
async def test_it_reads_reasoning_from_each_field_style(
    up: FakeUpstream, client: httpx.AsyncClient, field: str
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse(REASONING, ANSWER, field=field, usage=USAGE)))
    events = await run(chat_request(up), client)
    assert texts(events) == (REASONING, ANSWER)
    assert events[-2:] == [USAGE, Finish("stop")]
    first_answer = next(i for i, e in enumerate(events) if isinstance(e, ContentDelta))
    assert all(not isinstance(e, ReasoningDelta) for e in events[first_answer:])


async def test_it_counts_openrouter_reasoning_once_and_keeps_its_details_for_replay(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse(REASONING, ANSWER, field="openrouter", chunk_chars=5)))
    events = await run(chat_request(up), client)
    assert texts(events) == (REASONING, ANSWER)
    [replay] = [e for e in events if isinstance(e, ReplayData)]
    assert replay.payload == {
        "format": "openai",
        "reasoning_details": [
            {
                "type": "reasoning.text",
                "text": REASONING,
                "format": "anthropic-claude-v1",
                "index": 0,
                "signature": "sig-fake",
            }
        ]
    }
    assert events[-1] == Finish("stop")


async def test_it_skips_encrypted_details_for_display_but_replays_them(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    def chunk(delta: dict[str, Any]) -> bytes:
        return sse({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})

    encrypted = {"type": "reasoning.encrypted", "data": "[REDACTED]", "index": 1}
    summary = {"type": "reasoning.summary", "summary": "Summed up.", "index": 0}
    up.enqueue(
        Script(
            chunks=[
                chunk({"reasoning_details": [summary]}),
                chunk({"reasoning_details": [encrypted]}),
                chunk({"content": "ok"}),
                sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
                sse("[DONE]"),
            ]
        )
    )
    events = await run(chat_request(up), client)
    assert texts(events) == ("Summed up.", "ok")
    [replay] = [e for e in events if isinstance(e, ReplayData)]
    assert replay.payload == {"format": "openai", "reasoning_details": [summary, encrypted]}


async def test_it_reads_usage_with_deepseek_cache_hits(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse("r", "c", usage=USAGE, usage_style="deepseek")))
    events = await run(chat_request(up), client)
    assert USAGE in events


async def test_it_reports_hidden_reasoning_only_as_a_token_count(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse(REASONING, ANSWER, field="hidden", usage=USAGE)))
    model = ModelSpec("o4-mini", reasoning=ReasoningStyle.HIDDEN)
    events = await run(chat_request(up, model=model), client)
    assert texts(events) == ("", ANSWER)
    assert USAGE in events


@pytest.mark.parametrize(
    ("wire", "ours"),
    [
        ("length", "length"),
        ("content_filter", "content_filter"),
        ("tool_calls", "tool_calls"),
        ("eos", "stop"),
    ],
)
async def test_it_maps_the_finish_reason(
    up: FakeUpstream, client: httpx.AsyncClient, wire: str, ours: str
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse("r", "c", finish_reason=wire)))
    assert (await run(chat_request(up), client))[-1] == Finish(ours)


# -- markup -------------------------------------------------------------------


MARKUP = ModelSpec("qwq-32b", reasoning=ReasoningStyle.MARKUP, markup="think")


@pytest.mark.parametrize("chunk_chars", [1, 3, 7, 100])
async def test_it_parses_think_tags_in_content_for_markup_models(
    up: FakeUpstream, client: httpx.AsyncClient, chunk_chars: int
) -> None:
    chunks = openai_chat_sse(REASONING, ANSWER, field="markup", chunk_chars=chunk_chars)
    up.enqueue(Script(chunks=chunks))
    events = await run(chat_request(up, model=MARKUP), client)
    assert texts(events) == (REASONING, ANSWER)
    assert events[-1] == Finish("stop")


async def test_it_starts_in_reasoning_when_the_template_opened_the_block(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse(REASONING, ANSWER, field="markup", open_tag=False)))
    model = ModelSpec(
        "deepseek-r1", ReasoningStyle.MARKUP, markup="think", starts_in_reasoning=True
    )
    assert texts(await run(chat_request(up, model=model), client)) == (REASONING, ANSWER)


async def test_it_uses_the_models_own_tags(up: FakeUpstream, client: httpx.AsyncClient) -> None:
    tags = ("<thought>", "</thought>")
    up.enqueue(Script(chunks=openai_chat_sse(REASONING, ANSWER, field="markup", think_tags=tags)))
    model = ModelSpec("gemini-compat", ReasoningStyle.MARKUP, markup="think", markup_tags=tags)
    assert texts(await run(chat_request(up, model=model), client)) == (REASONING, ANSWER)


async def test_a_native_model_whose_server_left_think_tags_in_the_answer_is_parsed(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    # vLLM without --reasoning-parser, Groq's default "raw" format …
    up.enqueue(Script(chunks=openai_chat_sse(REASONING, ANSWER, field="markup", chunk_chars=2)))
    assert texts(await run(chat_request(up), client)) == (REASONING, ANSWER)


async def test_a_native_models_answer_that_mentions_think_later_stays_content(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    answer = "Use <think>…</think> tags."
    up.enqueue(
        Script(chunks=openai_chat_sse(REASONING, answer, field="reasoning_content", chunk_chars=1))
    )
    up.enqueue(Script(chunks=openai_chat_sse("", "Hi. " + answer, chunk_chars=1)))
    assert texts(await run(chat_request(up), client)) == (REASONING, answer)
    assert texts(await run(chat_request(up), client)) == ("", "Hi. " + answer)


@pytest.mark.parametrize("answer", ["<b>bold</b>", "<thin", "  \n", "<"])
async def test_a_native_models_answer_that_only_looks_like_a_tag_is_kept_whole(
    up: FakeUpstream, client: httpx.AsyncClient, answer: str
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse("", answer, chunk_chars=1)))
    assert texts(await run(chat_request(up), client)) == ("", answer)


# -- the request ----------------------------------------------------------------


async def test_it_sends_the_exact_request_body_and_headers(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse("r", "c")))
    model = ModelSpec(
        "gpt-5-mini",
        ReasoningStyle.HIDDEN,
        thinking_control="reasoning_effort",
        efforts=("minimal", "low", "medium", "high"),
    )
    request = ChatRequest(
        provider=ProviderConfig(
            "openai", up.url + "/v1/", "sk-test", {"headers": {"HTTP-Referer": "https://x.test"}}
        ),
        model=model,
        messages=[
            Message("user", "17*23?"),
            Message("assistant", "391", reasoning="17*20+17*3"),
            Message("user", "and 17*24?"),
        ],
        system="Be brief.",
        thinking=Thinking(effort="low"),
        max_tokens=4000,
        temperature=1.0,
    )
    await run(request, client)
    [sent] = up.requests
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.headers["http-referer"] == "https://x.test"
    assert sent.json == {
        "model": "gpt-5-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "17*23?"},
            {"role": "assistant", "content": "391"},
            {"role": "user", "content": "and 17*24?"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_completion_tokens": 4000,
        "temperature": 1.0,
        "reasoning_effort": "low",
    }


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        (Thinking(), {}),
        (Thinking(effort="high"), {"reasoning_effort": "high"}),
        (Thinking(effort="minimal"), {"reasoning_effort": "minimal"}),
        (Thinking(mode="off"), {"reasoning_effort": "none"}),
    ],
)
async def test_it_sends_the_thinking_controls(
    up: FakeUpstream, client: httpx.AsyncClient, thinking: Thinking, expected: dict[str, Any]
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse("r", "c")))
    efforts = ("none", "minimal", "low", "medium", "high")
    model = ModelSpec("gpt-5.1", thinking_control="reasoning_effort", efforts=efforts)
    await run(chat_request(up, model=model, thinking=thinking), client)
    body = up.requests[0].json
    assert {k: v for k, v in body.items() if k == "reasoning_effort"} == expected


async def test_it_sends_max_tokens_to_servers_without_an_effort_control(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse("r", "c")), Script(chunks=openai_chat_sse("r", "c")))
    await run(chat_request(up, max_tokens=300), client)
    override = ModelSpec("m", options={"max_tokens_field": "max_completion_tokens"})
    await run(
        chat_request(up, model=override, max_tokens=300, options={"include_usage": False}), client
    )
    first, second = (r.json for r in up.requests)
    assert first["max_tokens"] == 300 and "max_completion_tokens" not in first
    assert "authorization" not in up.requests[0].headers
    assert second["max_completion_tokens"] == 300 and "max_tokens" not in second
    assert "stream_options" not in second


def test_prepare_shows_the_request_without_sending_it() -> None:
    request = ChatRequest(
        ProviderConfig("openai", "https://api.deepseek.com", "sk-secret"),
        ModelSpec("deepseek-reasoner"),
        [Message("user", "hi")],
    )
    prepared = get_adapter("openai").prepare(request)
    assert prepared.url == "https://api.deepseek.com/chat/completions"
    assert prepared.redacted().headers["authorization"] == "[redacted]"


# -- framing and errors -----------------------------------------------------------


async def test_it_reads_crlf_framing_and_keepalive_comments_cut_anywhere(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    body = b": OPENROUTER PROCESSING\n\n" + b"".join(
        openai_chat_sse(REASONING, ANSWER, field="reasoning", usage=USAGE)
    )
    body = body.replace(b"\n", b"\r\n").replace(b"data: {", b": ping\r\ndata: {")
    up.enqueue(Script(chunks=rechunk([body], 3)))
    events = await run(chat_request(up), client)
    assert texts(events) == (REASONING, ANSWER)
    assert events[-2:] == [USAGE, Finish("stop")]


async def test_a_stream_with_a_finish_reason_but_no_done_is_complete(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse("r", "c", done=False, usage=USAGE)))
    assert (await run(chat_request(up), client))[-2:] == [USAGE, Finish("stop")]


async def test_a_stream_that_ends_without_done_or_finish_reason_is_broken(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse("r", "c", done=False, finish_reason=None)))
    seen: list[Event] = []
    with pytest.raises(BrokenStream, match="before its end marker"):
        async for event in get_adapter("openai").stream(chat_request(up), client):
            seen.append(event)
    assert texts(seen) == ("r", "c")


@pytest.mark.parametrize(
    ("error", "error_class"),
    [
        ({"message": "Rate limit exceeded", "code": 429}, RateLimited),
        ({"message": "Provider returned error", "code": 502}, Unavailable),
        ({"message": "stream interrupted", "type": "server_error"}, Unavailable),
        ({"message": "something odd"}, BrokenStream),
    ],
)
async def test_an_error_object_after_http_200_is_raised_after_the_text_so_far(
    up: FakeUpstream, client: httpx.AsyncClient, error: dict[str, Any], error_class: type
) -> None:
    chunks = openai_chat_sse(REASONING, "", done=False, finish_reason=None)
    up.enqueue(Script(chunks=[*chunks, sse({"error": error})]))
    seen: list[Event] = []
    with pytest.raises(error_class) as info:
        async for event in get_adapter("openai").stream(chat_request(up), client):
            seen.append(event)
    assert info.value.message == error["message"]
    assert texts(seen) == (REASONING, "")


async def test_a_malformed_json_line_is_a_broken_stream(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=[openai_chat_sse("r", "c")[1], b'data: {"choices": [\n\n']))
    with pytest.raises(BrokenStream, match="malformed JSON"):
        await run(chat_request(up), client)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, "BadRequest"),
        (401, "AuthError"),
        (403, "AuthError"),
        (404, "NotFound"),
        (429, "RateLimited"),
        (500, "Unavailable"),
        (503, "Unavailable"),
    ],
)
async def test_it_raises_the_error_for_each_status(
    up: FakeUpstream, client: httpx.AsyncClient, status: int, error_class: str
) -> None:
    body = {"error": {"message": f"upstream said {status}", "type": "x"}}
    up.enqueue(Script.error(status, body, {"retry-after": "3"} if status == 429 else None))
    with pytest.raises(Exception) as info:
        await run(chat_request(up), client)
    assert type(info.value).__name__ == error_class
    assert info.value.message == f"upstream said {status}"  # type: ignore[attr-defined]
    assert info.value.status_code == status  # type: ignore[attr-defined]
    if status == 429:
        assert info.value.retry_after == 3  # type: ignore[attr-defined]


async def test_an_invalid_key_is_a_permanent_auth_error(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script.error(401, {"error": {"message": "Incorrect API key provided"}}))
    with pytest.raises(AuthError) as info:
        await run(chat_request(up, api_key="sk-wrong"), client)
    assert info.value.permanent


async def test_connection_refused_is_unavailable(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    request = ChatRequest(
        ProviderConfig("openai", f"http://127.0.0.1:{port}/v1"),
        ModelSpec("m"),
        [Message("user", "hi")],
    )
    with pytest.raises(Unavailable, match="connection refused"):
        await run(request, client)


async def test_no_first_byte_within_the_read_timeout_is_a_timeout(up: FakeUpstream) -> None:
    up.enqueue(Script(ttfb=10, chunks=openai_chat_sse("r", "c")))
    async with make_client(read_timeout=0.2) as short:
        with pytest.raises(ProviderTimeout):
            await run(chat_request(up), short)


async def test_a_stall_mid_stream_is_a_timeout_after_the_text_so_far(up: FakeUpstream) -> None:
    up.enqueue(Script(chunks=openai_chat_sse(REASONING, ANSWER, chunk_chars=10), stall_after=3))
    seen: list[Event] = []
    async with make_client(read_timeout=0.2) as short:
        with pytest.raises(ProviderTimeout, match="stalled"):
            async for event in get_adapter("openai").stream(chat_request(up), short):
                seen.append(event)
    assert texts(seen) == (REASONING[:20], "")


async def test_a_connection_cut_mid_reasoning_is_a_broken_stream(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse(REASONING, ANSWER, chunk_chars=10), cut_after=2))
    seen: list[Event] = []
    with pytest.raises(BrokenStream, match="cut mid-stream"):
        async for event in get_adapter("openai").stream(chat_request(up), client):
            seen.append(event)
    assert texts(seen) == (REASONING[:10], "")


async def test_cancelling_the_stream_closes_the_upstream_connection_within_a_second(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse(REASONING, ANSWER, chunk_chars=10), stall_after=2))
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in get_adapter("openai").stream(chat_request(up), client):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 2)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await up.requests[0].closed(2) - cancelled_at < 1.0
    assert up.requests[0].closed_by_client


async def test_closing_the_generator_early_closes_the_upstream_connection(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse(REASONING, ANSWER, chunk_chars=1), interval=0.01))
    stream = get_adapter("openai").stream(chat_request(up), client)
    assert isinstance(await anext(stream), ReasoningDelta)
    await stream.aclose()  # type: ignore[attr-defined]
    await up.requests[0].closed(1)
    assert up.requests[0].finished_at is None


async def test_a_finished_stream_leaves_its_connection_in_the_pool(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    up.enqueue(Script(chunks=openai_chat_sse("r", "c")), Script(chunks=openai_chat_sse("r", "c")))
    await run(chat_request(up), client)
    await run(chat_request(up), client)
    first, second = up.requests
    assert first.closed_at is None and second.closed_at is None
    assert up.open_connections == 1
