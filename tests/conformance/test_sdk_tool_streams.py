"""Tool calls, checked against the official SDKs.

Streams: each fake's tool-call stream (several calls, argument fragments, thinking
between calls) is read by the provider's SDK (its client, decoder, strict event types
and accumulator: openai's ChatCompletionStreamState and Responses stream, anthropic's
MessageStream, google-genai's typed chunks, ollama's client) and by our adapter; both
must find the same calls (ids where the format has them, names, arguments) and the same
reasoning.

Requests: bodies offering tools, with each tool_choice, validate against the SDKs'
request types (`*CreateParams`, google-genai's Tool / ToolConfig, ollama's ChatRequest),
unknown keys forbidden.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import ollama
import openai
import pytest
from anthropic.types import RawMessageStreamEvent
from google import genai
from google.genai import types as gtypes
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from reasoning.adapters import get_adapter
from reasoning.events import ReasoningDelta, ToolCallDone
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, ToolSpec
from reasoning.testing import FakeToolCall, FakeUpstream, Script, render
from reasoning.wire import make_client
from tests.conformance import oracle

Call = tuple[str | None, str, Any]  # (id or None where the format has none, name, parsed arguments)

CALLS = (
    FakeToolCall("get_weather", '{"city": "Paris", "days": [1, 2]}', signature="c2lnLTE="),
    FakeToolCall("get_time", '{"zone": "Europe/Zürich"}', reasoning_before="And the time there."),
    FakeToolCall("ping"),
)
REASONING = "Two things to look up: weather, then time."


async def read_chat(url: str, chunks: list[bytes]) -> tuple[str, list[Call]]:
    oracle._strict_events(TypeAdapter(ChatCompletionChunk), oracle.sse_payloads(chunks), "chat chunk")
    client = openai.AsyncOpenAI(base_url=url, api_key="sk-oracle", max_retries=0)
    state = ChatCompletionStreamState()
    stream = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
    async for chunk in stream:
        state.handle_chunk(chunk)
    message = state.get_final_completion().choices[0].message
    reasoning = (message.model_extra or {}).get("reasoning_content") or ""
    calls = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]
    return reasoning, calls


async def read_responses(url: str, chunks: list[bytes]) -> tuple[str, list[Call]]:
    oracle._strict_events(TypeAdapter(ResponseStreamEvent), oracle.sse_payloads(chunks), "responses")
    client = openai.AsyncOpenAI(base_url=url, api_key="sk-oracle", max_retries=0)
    async with client.responses.stream(model="m", input="x") as stream:
        async for _ in stream:
            pass
        response = await stream.get_final_response()
    summaries = [s.text for item in response.output if item.type == "reasoning" for s in item.summary]
    calls: list[Call] = [
        (item.call_id, item.name, json.loads(item.arguments))
        for item in response.output
        if item.type == "function_call"
    ]
    return "\n\n".join(summaries), calls


async def read_anthropic(url: str, chunks: list[bytes]) -> tuple[str, list[Call]]:
    events = [p for p in oracle.sse_payloads(chunks) if p.get("type") != "ping"]
    oracle._strict_events(TypeAdapter(RawMessageStreamEvent), events, "anthropic")
    client = anthropic.AsyncAnthropic(base_url=url, api_key="sk-oracle", max_retries=0)
    async with client.messages.stream(
        model="m", max_tokens=100, messages=[{"role": "user", "content": "x"}]
    ) as stream:
        message = await stream.get_final_message()
    reasoning = "\n\n".join(b.thinking for b in message.content if b.type == "thinking")
    calls = [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]
    return reasoning, calls


async def read_gemini(url: str, chunks: list[bytes]) -> tuple[str, list[Call]]:
    client = genai.Client(api_key="oracle", http_options=gtypes.HttpOptions(base_url=url, api_version="v1beta"))
    thoughts: list[str] = []
    calls: list[Call] = []
    async for chunk in await client.aio.models.generate_content_stream(model="gemini-x", contents="x"):
        for candidate in chunk.candidates or []:
            for part in (candidate.content.parts if candidate.content else None) or []:
                if part.text and part.thought:
                    thoughts.append(part.text)
                if part.function_call is not None:
                    fc = part.function_call
                    calls.append((fc.id, fc.name or "", fc.args or {}))
    return "".join(thoughts), calls


async def read_ollama(url: str, chunks: list[bytes]) -> tuple[str, list[Call]]:
    client = ollama.AsyncClient(host=url)
    thinking: list[str] = []
    calls: list[Call] = []
    async for part in await client.chat(model="m", messages=[{"role": "user", "content": "x"}], stream=True):
        thinking.append(part.message.thinking or "")
        for call in part.message.tool_calls or []:
            calls.append((None, call.function.name, dict(call.function.arguments)))
    return "".join(thinking), calls


STREAMS = [
    pytest.param("openai", "/v1", read_chat, render("openai-chat", REASONING, "", tool_calls=CALLS, chunk_chars=4),
                 id="chat"),
    pytest.param("openai", "/v1", read_chat,
                 render("openai-chat", REASONING, "", tool_calls=CALLS, chunk_chars=3, interleave_calls=True),
                 id="chat-calls-at-once"),
    pytest.param("openai-responses", "/v1", read_responses,
                 render("openai-responses", REASONING, "", tool_calls=CALLS, chunk_chars=5), id="responses"),
    pytest.param("anthropic", "", read_anthropic,
                 render("anthropic", REASONING, "", tool_calls=CALLS, chunk_chars=5), id="anthropic-interleaved"),
    pytest.param("gemini", "", read_gemini, render("gemini", REASONING, "", tool_calls=CALLS, chunk_chars=6),
                 id="gemini"),
    pytest.param("gemini", "", read_gemini,
                 render("gemini", "", "", tool_calls=[FakeToolCall("ping", id="fc-7")]), id="gemini-with-id"),
    pytest.param("ollama", "", read_ollama, render("ollama", REASONING, "", tool_calls=CALLS), id="ollama"),
]


async def ours(kind: str, url: str) -> tuple[str, list[Call]]:
    request = ChatRequest(
        provider=ProviderConfig(kind, url, "sk-test"),
        model=ModelSpec("m"),
        messages=[Message("user", "x")],
        tools=(ToolSpec("get_weather"), ToolSpec("get_time"), ToolSpec("ping")),
    )
    reasoning: list[str] = []
    calls: list[Call] = []
    async with make_client(read_timeout=5) as client:
        async for event in get_adapter(kind).stream(request, client):
            if isinstance(event, ReasoningDelta):
                reasoning.append(event.text)
            elif isinstance(event, ToolCallDone):
                calls.append((event.id, event.name, json.loads(event.arguments)))
    return "".join(reasoning), calls


@pytest.mark.parametrize(("kind", "path", "read", "chunks"), STREAMS)
async def test_the_sdk_and_our_adapter_read_the_same_tool_calls(kind, path, read, chunks):
    content_type = "application/x-ndjson" if kind == "ollama" else "text/event-stream"
    async with FakeUpstream() as up:
        up.enqueue(*[Script(chunks=chunks, headers={"content-type": content_type})] * 2)
        sdk_reasoning, sdk_calls = await read(up.url + path, chunks)
        our_reasoning, our_calls = await ours(kind, up.url + path)
    assert sdk_calls, "the fake sent no calls the SDK could see"
    assert [(n, a) for _, n, a in our_calls] == [(n, a) for _, n, a in sdk_calls]
    for (our_id, _, _), (sdk_id, _, _) in zip(our_calls, sdk_calls, strict=True):
        if sdk_id is not None:  # the format carries an id: it is the one we use
            assert our_id == sdk_id
        else:  # Gemini and Ollama without ids: ours are made up, and unique
            assert our_id.startswith("call_")
    assert len({i for i, _, _ in our_calls}) == len(our_calls)
    if kind == "anthropic":  # separate thinking blocks: joined by a blank line by the SDK reader here
        assert our_reasoning == sdk_reasoning.replace("\n\n", "")
    elif kind == "openai-responses":
        assert our_reasoning == sdk_reasoning
    else:
        assert our_reasoning == sdk_reasoning


# -- request bodies with tools -----------------------------------------------------------

TOOLS = (
    ToolSpec(  # as an MCP server describes a tool: full JSON Schema
        "get_weather",
        "The weather in a city",
        {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"], "default": "C"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    ),
    ToolSpec("ping"),
)
CHOICES: list[Any] = [None, "auto", "none", "required", {"name": "ping"}]
CHECKS: dict[str, Any] = {
    "openai": oracle.check_chat_body,
    "openai-responses": oracle.check_responses_body,
    "anthropic": oracle.check_anthropic_body,
    "gemini": oracle.check_gemini_body,
    "ollama": oracle.check_ollama_body,
}


@pytest.mark.parametrize("kind", list(CHECKS))
@pytest.mark.parametrize("choice", CHOICES, ids=repr)
@pytest.mark.parametrize("parallel", [None, False, True])
def test_request_bodies_with_tools_validate_against_the_sdk_types(
    kind: str, choice: Any, parallel: bool | None
) -> None:
    if kind == "ollama" and (choice not in (None, "auto") or parallel is not None):
        pytest.skip("Ollama has no tool_choice or parallel switch (refused locally: test_tool_calls.py)")
    request = ChatRequest(
        provider=ProviderConfig(kind, "http://127.0.0.1:9", "k"),
        model=ModelSpec("m"),
        messages=[Message("user", "Weather in Paris?")],
        tools=TOOLS,
        tool_choice=choice,
        parallel_tool_calls=parallel,
    )
    body = get_adapter(kind).prepare(request).json
    assert body["tools"]
    if kind == "openai":
        vendor = oracle.check_chat_body(body)
        assert not vendor.top, vendor.top  # tools, tool_choice and parallel_tool_calls are OpenAI's own
    else:
        CHECKS[kind](body)
