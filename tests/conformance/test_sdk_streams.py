"""Every stream our fake upstreams emit, read twice: by our adapter and by the
provider's official SDK (its own client, SSE/NDJSON decoder, strict event types and
accumulator). Both must find the same reasoning, content and usage, and the replay
data we keep must be what the SDK's final message says the next turn needs.

A fake that drifts from the real wire format fails here, whatever our adapter makes
of it (the Gemini fake once sent a signature that was not base64: the SDK refused it).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from reasoning import replay as stored_replay
from reasoning.adapters import get_adapter
from reasoning.events import ContentDelta, ReasoningDelta, ReplayData, Usage
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig
from reasoning.testing import FakeUpstream, Script, openai_chat_sse, openai_responses_sse
from reasoning.testing.formats_native import anthropic_sse, gemini_sse, ollama_ndjson
from reasoning.wire import make_client
from tests.conformance import oracle

USAGE = Usage(prompt_tokens=40, completion_tokens=312, reasoning_tokens=270, cached_tokens=8)
REASONING = "Let me compute 17*23: 17*20 = 340, 17*3 = 51, so 391. ünïcödé ✓"
ANSWER = "17 × 23 = **391**."

Reader = Callable[[str, list[bytes]], Awaitable[oracle.SdkReading]]


async def _ollama_reader(base_url: str, chunks: list[bytes]) -> oracle.SdkReading:
    return await oracle.read_ollama(base_url)


STREAMS: list[Any] = [
    pytest.param(
        "openai", "/v1", oracle.read_chat,
        openai_chat_sse(REASONING, ANSWER, field=field, usage=USAGE, chunk_chars=5),
        id=f"chat-{field}",
    )
    for field in ("reasoning_content", "reasoning", "reasoning_details", "openrouter", "hidden")
] + [
    pytest.param(
        "openai", "/v1", oracle.read_chat,
        openai_chat_sse(REASONING, ANSWER, field="reasoning_content", usage=USAGE, usage_style="deepseek"),
        id="chat-deepseek-cache",
    ),
    pytest.param(
        "openai-responses", "/v1", oracle.read_responses,
        openai_responses_sse([REASONING, "Checking: 391."], ANSWER, usage=USAGE, chunk_chars=6),
        id="responses-summaries",
    ),
    pytest.param(
        "openai-responses", "/v1", oracle.read_responses,
        openai_responses_sse(REASONING, ANSWER, usage=USAGE, raw_reasoning=True, encrypted_content=None),
        id="responses-raw-reasoning",
    ),
    pytest.param(
        "anthropic", "", oracle.read_anthropic,
        anthropic_sse(REASONING, ANSWER, usage=USAGE, signature="EqQBCgIYAhIM", redacted="EmwKAhgB"),
        id="anthropic-signed-redacted",
    ),
    pytest.param(
        "anthropic", "", oracle.read_anthropic,
        anthropic_sse("", ANSWER, usage=USAGE, signature="EqQBomitted"),
        id="anthropic-display-omitted",
    ),
    pytest.param(
        "gemini", "", oracle.read_gemini,
        gemini_sse(REASONING, ANSWER, usage=USAGE, chunk_chars=7),
        id="gemini-signed-text-part",
    ),
    pytest.param(
        "gemini", "", oracle.read_gemini,
        gemini_sse(REASONING, ANSWER, usage=USAGE, signature_on_empty_part=True),
        id="gemini-signed-empty-part",
    ),
    pytest.param("ollama", "", _ollama_reader, ollama_ndjson(REASONING, ANSWER, usage=USAGE), id="ollama-think"),
]


async def _ours(kind: str, url: str, client: Any) -> tuple[str, str, Usage | None, Any]:
    request = ChatRequest(
        provider=ProviderConfig(kind, url, "sk-test"),
        model=ModelSpec("m"),
        messages=[Message("user", "17*23?")],
    )
    reasoning, content, usage, replay = [], [], None, None
    async for event in get_adapter(kind).stream(request, client):
        if isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
        elif isinstance(event, ContentDelta):
            content.append(event.text)
        elif isinstance(event, Usage):
            usage = event
        elif isinstance(event, ReplayData):
            replay = stored_replay.fold(replay, event.payload)
    return "".join(reasoning), "".join(content), usage, replay


@pytest.mark.parametrize(("kind", "path", "read", "chunks"), STREAMS)
async def test_our_adapter_and_the_sdk_read_the_same_stream_alike(kind, path, read, chunks):
    content_type = "application/x-ndjson" if kind == "ollama" else "text/event-stream"
    async with FakeUpstream() as up, make_client(read_timeout=5) as client:
        up.enqueue(
            Script(chunks=chunks, headers={"content-type": content_type}),
            Script(chunks=chunks, headers={"content-type": content_type}),
        )
        sdk = await read(up.url + path, chunks)
        reasoning, content, usage, replay = await _ours(kind, up.url + path, client)
    assert (reasoning, content) == (sdk.reasoning, sdk.content)
    assert usage == sdk.usage
    _same_replay(kind, replay, sdk.replay)


def _same_replay(kind: str, ours: Any, sdk: Any) -> None:
    if kind == "anthropic":
        # The blocks we keep are the SDK's final message content, block for block.
        assert stored_replay.items(ours, "anthropic") == sdk
    elif kind == "openai-responses":
        kept = stored_replay.items(ours, "responses")
        assert [i["type"] for i in kept] == [i["type"] for i in sdk]
        for mine, theirs in zip(kept, sdk, strict=True):
            assert mine.get("encrypted_content") == theirs.get("encrypted_content")
            assert mine.get("summary", []) == theirs.get("summary", [])
    elif kind == "gemini":
        signed = [p for p in stored_replay.items(ours, "gemini") if p.get("thoughtSignature")]
        assert signed == sdk
        for part in signed:  # base64 on the wire: the SDK decoded it to bytes
            base64.b64decode(part["thoughtSignature"], validate=True)
    elif kind == "openai" and sdk:
        # OpenRouter details: the SDK's generic accumulator merges entries by index as
        # we do, but it also concatenates every string field (`format` repeated per
        # chunk), which is not how OpenRouter means them: compare the deltas only.
        kept = stored_replay.items(ours, "openai")
        assert [(d["type"], d.get("text"), d.get("signature")) for d in kept] == [
            (d["type"], d.get("text"), d.get("signature")) for d in sdk
        ]
        assert all(d["format"] == "anthropic-claude-v1" for d in kept)
