"""Tool calls on the wire, model → us: every adapter turns its format's tool-call stream
(from a real loopback upstream) into ToolCallStart / ToolCallDelta / ToolCallDone and
Finish("tool_calls"), keeping interleaved thinking in order, and sends the request's
tools in its own shape."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from reasoning import replay as stored_replay
from reasoning.adapters import get_adapter
from reasoning.events import (
    ContentDelta,
    Event,
    Finish,
    ReasoningDelta,
    ReplayData,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStart,
)
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, ReasoningStyle, ToolSpec
from reasoning.testing import FakeToolCall, FakeUpstream, Script, rechunk, render
from reasoning.tool_calls import tool_params
from reasoning.wire import make_client

WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CLOCK = ToolSpec("now", "The time", {"type": "object", "properties": {}})
CALLS = (
    FakeToolCall("get_weather", '{"city": "Paris", "unit": "C"}', reasoning_before="", signature="c2ln"),
    FakeToolCall("get_weather", '{"city": "Zürich"}', reasoning_before="Now the second city."),
)
# kind → (wire format, base-url suffix, content type)
KINDS: dict[str, tuple[str, str, str]] = {
    "openai": ("openai-chat", "/v1", "text/event-stream"),
    "openai-responses": ("openai-responses", "/v1", "text/event-stream"),
    "anthropic": ("anthropic", "", "text/event-stream"),
    "gemini": ("gemini", "", "text/event-stream"),
    "ollama": ("ollama", "", "application/x-ndjson"),
}


def request_for(kind: str, url: str, **fields: Any) -> ChatRequest:
    suffix = KINDS[kind][1]
    return ChatRequest(
        provider=ProviderConfig(kind, url + suffix),
        model=ModelSpec("fake-model"),
        messages=[Message("user", "Weather in Paris and Zürich?")],
        tools=fields.pop("tools", (WEATHER, CLOCK)),
        **fields,
    )


@pytest.fixture
async def up() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(read_timeout=5) as c:
        yield c


async def run(kind: str, up: FakeUpstream, client: httpx.AsyncClient, chunks: list[bytes]) -> list[Event]:
    up.enqueue(Script(chunks=chunks, headers={"content-type": KINDS[kind][2]}))
    return [event async for event in get_adapter(kind).stream(request_for(kind, up.url), client)]


def calls_of(events: Sequence[Event]) -> list[tuple[str, str, Any]]:
    """(id, name, parsed arguments) per call, checking the events agree with each other."""
    starts = {e.index: e for e in events if isinstance(e, ToolCallStart)}
    dones = {e.index: e for e in events if isinstance(e, ToolCallDone)}
    assert starts.keys() == dones.keys()
    out = []
    for index in sorted(starts):
        start, done = starts[index], dones[index]
        assert (start.id, start.name) == (done.id, done.name)
        streamed = "".join(e.arguments for e in events if isinstance(e, ToolCallDelta) and e.index == index)
        assert json.loads(streamed or "{}") == json.loads(done.arguments)
        positions = [i for i, e in enumerate(events) if getattr(e, "index", None) == index]
        assert isinstance(events[positions[0]], ToolCallStart)
        assert isinstance(events[positions[-1]], ToolCallDone)
        out.append((done.id, done.name, json.loads(done.arguments)))
    return out


def kinds_in_order(events: Sequence[Event]) -> list[str]:
    """The step's shape: runs of reasoning / content / call, collapsed."""
    shape: list[str] = []
    for event in events:
        tag = {ReasoningDelta: "think", ContentDelta: "text", ToolCallStart: "call"}.get(type(event))
        if tag and (not shape or shape[-1] != tag or tag == "call"):
            shape.append(tag)
    return shape


ARGS = [{"city": "Paris", "unit": "C"}, {"city": "Zürich"}]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("cut", [None, 1, 7])
async def test_each_adapter_reads_two_calls_with_thinking_between_them(
    kind: str, cut: int | None, up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    chunks = render(KINDS[kind][0], "First Paris.", "", chunk_chars=5, tool_calls=CALLS)
    events = await run(kind, up, client, rechunk(chunks, cut) if cut else chunks)
    calls = calls_of(events)
    assert [(name, args) for _, name, args in calls] == [("get_weather", ARGS[0]), ("get_weather", ARGS[1])]
    ids = [call_id for call_id, _, _ in calls]
    assert len(set(ids)) == 2 and all(ids)
    if kind in ("openai", "openai-responses"):
        assert ids == ["call_0", "call_1"]
    elif kind == "anthropic":
        assert ids == ["toolu_fake_0", "toolu_fake_1"]
    assert [e.index for e in events if isinstance(e, ToolCallStart)] == [0, 1]
    assert kinds_in_order(events) == ["think", "call", "think", "call"]
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning.replace("\n\n", "") == "First Paris.Now the second city."
    assert events[-1] == Finish("tool_calls")


async def test_chat_completions_reads_calls_streamed_at_once(up: FakeUpstream, client: httpx.AsyncClient) -> None:
    calls = (FakeToolCall("a", '{"x": [1, 2, 3]}'), FakeToolCall("b", '{"y": "zz"}'), FakeToolCall("now"))
    chunks = render("openai-chat", "hm", "", chunk_chars=3, tool_calls=calls, interleave_calls=True)
    events = await run("openai", up, client, chunks)
    assert [(n, a) for _, n, a in calls_of(events)] == [("a", {"x": [1, 2, 3]}), ("b", {"y": "zz"}), ("now", {})]
    deltas = [e.index for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[:5] == [0, 1, 2, 0, 1]  # fragments of several calls interleave on the wire
    assert events[-1] == Finish("tool_calls")


async def test_chat_completions_keys_gemini_endpoint_calls_by_id_and_keeps_their_signature(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    chunks = render("openai-chat", "", "", tool_calls=CALLS, call_index=False)
    # Gemini's OpenAI endpoint: the signature rides beside the call as extra_content.
    text = b"".join(chunks).replace(
        b'"id":"call_0"', b'"id":"call_0","extra_content":{"google":{"thought_signature":"c2ln"}}'
    )
    events = await run("openai", up, client, [text])
    assert [i for i, _, _ in calls_of(events)] == ["call_0", "call_1"]
    [replay] = [e.payload for e in events if isinstance(e, ReplayData)]
    assert replay["tool_calls"] == [{"id": "call_0", "extra_content": {"google": {"thought_signature": "c2ln"}}}]


async def test_chat_completions_with_calls_and_finish_stop_still_finishes_tool_calls(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    chunks = render("openai-chat", "", "", tool_calls=CALLS[:1], finish_reason="stop")
    text = b"".join(chunks).replace(b'"finish_reason":"tool_calls"', b'"finish_reason":"stop"')
    events = await run("openai", up, client, [text])
    assert events[-1] == Finish("tool_calls")


async def test_anthropic_keeps_tool_use_blocks_with_their_input_between_signed_thinking(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    chunks = render("anthropic", "First Paris.", "", tool_calls=CALLS)
    events = await run("anthropic", up, client, chunks)
    [replay] = [e.payload for e in events if isinstance(e, ReplayData)]
    blocks = replay["content"]
    assert [b["type"] for b in blocks] == ["thinking", "tool_use", "thinking", "tool_use"]
    assert blocks[1] == {"type": "tool_use", "id": "toolu_fake_0", "name": "get_weather", "input": ARGS[0]}
    assert blocks[2]["signature"] == "sig-2" and blocks[2]["thinking"] == "Now the second city."


async def test_anthropic_tool_use_without_input_deltas_has_empty_arguments(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    chunks = render("anthropic", "", "", signature=None, tool_calls=[FakeToolCall("now", "")])
    events = await run("anthropic", up, client, chunks)
    assert calls_of(events) == [("toolu_fake_0", "now", {})]


async def test_gemini_keeps_each_signed_call_part_by_call_id(up: FakeUpstream, client: httpx.AsyncClient) -> None:
    calls = (FakeToolCall("get_weather", '{"city": "Paris"}', signature="c2lnLTE="), FakeToolCall("now"))
    chunks = render("gemini", "Think.", "", tool_calls=calls)
    events = await run("gemini", up, client, chunks)
    [first, second] = calls_of(events)
    assert first[0].startswith("call_") and first[0] != second[0]
    [replay] = [e.payload for e in events if isinstance(e, ReplayData)]
    assert replay["call_ids"] == [first[0], second[0]]
    parts = stored_replay.function_call_parts(replay)
    assert parts[first[0]] == {
        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
        "thoughtSignature": "c2lnLTE=",
    }
    assert parts[second[0]] == {"functionCall": {"name": "now", "args": {}}}


async def test_gemini_uses_the_call_id_it_sends(up: FakeUpstream, client: httpx.AsyncClient) -> None:
    chunks = render("gemini", "", "", tool_calls=[FakeToolCall("now", id="fc-1")])
    events = await run("gemini", up, client, chunks)
    assert calls_of(events) == [("fc-1", "now", {})]


async def test_gemini_stores_an_answer_as_one_text_part(up: FakeUpstream, client: httpx.AsyncClient) -> None:
    chunks = render("gemini", "Thinking a while.", "An answer in many chunks.", chunk_chars=3)
    up.enqueue(Script(chunks=chunks))
    request = request_for("gemini", up.url, tools=())
    events = [e async for e in get_adapter("gemini").stream(request, client)]
    [replay] = [e.payload for e in events if isinstance(e, ReplayData)]
    # The last chunk's part carries the signature and stays its own part.
    assert replay["parts"] == [
        {"text": "An answer in many chunks"},
        {"text": ".", "thoughtSignature": "c2lnLWdlbWluaQ=="},
    ]
    assert events[-1] == Finish("stop")


def test_replay_folds_gemini_call_ids_and_openai_call_extras() -> None:
    a = {"format": "gemini", "parts": [{"functionCall": {"name": "f"}}], "call_ids": ["c1"]}
    b = {"format": "gemini", "parts": [{"functionCall": {"name": "g"}}], "call_ids": ["c2"]}
    folded = stored_replay.fold(stored_replay.fold(None, a), b)
    assert folded is not None and folded["call_ids"] == ["c1", "c2"]
    assert set(stored_replay.function_call_parts(folded)) == {"c1", "c2"}


async def test_responses_keeps_function_call_items_for_replay(up: FakeUpstream, client: httpx.AsyncClient) -> None:
    chunks = render("openai-responses", "First Paris.", "", tool_calls=CALLS)
    events = await run("openai-responses", up, client, chunks)
    [replay] = [e.payload for e in events if isinstance(e, ReplayData)]
    items = replay["items"]
    assert [i["type"] for i in items] == ["reasoning", "function_call", "reasoning", "function_call"]
    assert items[1]["call_id"] == "call_0" and items[1]["arguments"] == CALLS[0].arguments


async def test_responses_function_call_without_reasoning_is_still_replayed(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    chunks = render("openai-responses", "", "", tool_calls=CALLS[:1])
    events = await run("openai-responses", up, client, chunks)
    [replay] = [e.payload for e in events if isinstance(e, ReplayData)]
    assert [i["type"] for i in replay["items"]] == ["function_call"]


async def test_a_step_without_calls_still_finishes_stop(up: FakeUpstream, client: httpx.AsyncClient) -> None:
    for kind in KINDS:
        events = await run(kind, up, client, render(KINDS[kind][0], "hm", "answer"))
        assert not [e for e in events if isinstance(e, (ToolCallStart, ToolCallDone))]
        assert events[-1] == Finish("stop"), kind


# -- what goes out --------------------------------------------------------------


def body(kind: str, **fields: Any) -> dict[str, Any]:
    prepared = get_adapter(kind).prepare(request_for(kind, "http://127.0.0.1:9", **fields))
    result: dict[str, Any] = prepared.json
    return result


SCHEMA = dict(WEATHER.parameters)


def test_openai_sends_tools_choice_and_parallel() -> None:
    sent = body("openai", tool_choice={"name": "now"}, parallel_tool_calls=False)
    assert sent["tools"][0] == {
        "type": "function",
        "function": {"name": "get_weather", "description": "The weather in a city", "parameters": SCHEMA},
    }
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "now"}}
    assert sent["parallel_tool_calls"] is False
    assert body("openai", tool_choice="required")["tool_choice"] == "required"
    assert "tool_choice" not in body("openai") and "parallel_tool_calls" not in body("openai")


def test_responses_sends_flat_function_tools() -> None:
    sent = body("openai-responses", tool_choice={"name": "now"}, parallel_tool_calls=True)
    assert sent["tools"][0] == {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": SCHEMA,
        "strict": False,  # required by the SDK's type; the API's default (true) refuses loose schemas
    }
    assert sent["tool_choice"] == {"type": "function", "name": "now"}
    assert sent["parallel_tool_calls"] is True


def test_anthropic_sends_input_schema_and_its_tool_choice() -> None:
    sent = body("anthropic", tool_choice="required", parallel_tool_calls=False)
    assert sent["tools"][0] == {"name": "get_weather", "description": "The weather in a city", "input_schema": SCHEMA}
    assert sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert body("anthropic", tool_choice={"name": "now"})["tool_choice"] == {"type": "tool", "name": "now"}
    assert body("anthropic", tool_choice="none")["tool_choice"] == {"type": "none"}
    assert body("anthropic", parallel_tool_calls=False)["tool_choice"] == {
        "type": "auto",
        "disable_parallel_tool_use": True,
    }


def test_gemini_sends_function_declarations_and_tool_config() -> None:
    sent = body("gemini", tool_choice={"name": "now"})
    assert sent["tools"] == [
        {
            "functionDeclarations": [
                {"name": "get_weather", "description": "The weather in a city", "parametersJsonSchema": SCHEMA},
                {
                    "name": "now",
                    "description": "The time",
                    "parametersJsonSchema": {"type": "object", "properties": {}},
                },
            ]
        }
    ]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["now"]}}
    assert body("gemini", tool_choice="none")["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}


def test_ollama_sends_tools_and_refuses_what_it_cannot_take() -> None:
    assert body("ollama")["tools"][1] == {
        "type": "function",
        "function": {"name": "now", "description": "The time", "parameters": {"type": "object", "properties": {}}},
    }
    with pytest.raises(ValueError, match="tool_choice"):
        body("ollama", tool_choice="required")
    with pytest.raises(ValueError, match="parallel"):
        body("ollama", parallel_tool_calls=False)


@pytest.mark.parametrize("kind", list(KINDS))
def test_no_tools_means_no_tool_fields_and_bad_choices_are_refused(kind: str) -> None:
    sent = body(kind, tools=())
    assert not {"tools", "tool_choice", "toolConfig", "parallel_tool_calls"} & set(sent)
    with pytest.raises(ValueError, match="not among"):
        body(kind, tool_choice={"name": "missing"})
    with pytest.raises(ValueError, match="share a name"):
        body(kind, tools=(CLOCK, CLOCK))


# -- the simulator calls tools too (offline demos, tests above the library) -----------


async def simulate(request: ChatRequest) -> list[Event]:
    async with make_client(read_timeout=5) as c:
        return [e async for e in get_adapter("simulator").stream(request, c)]


def simulator_request(messages: Sequence[Message], **fields: Any) -> ChatRequest:
    return ChatRequest(
        provider=ProviderConfig("simulator"),
        model=ModelSpec("simulator", options={"tokens_per_second": 0}),
        messages=messages,
        **fields,
    )


async def test_the_simulator_thinks_then_calls_the_tool_the_prompt_names() -> None:
    prompt = [Message("user", "What is the weather? use get_weather")]
    events = await simulate(simulator_request(prompt, tools=(CLOCK, WEATHER)))
    [(call_id, name, arguments)] = calls_of(events)
    assert name == "get_weather" and call_id.startswith("call_")
    assert set(arguments) == {"city"} and isinstance(arguments["city"], str) and arguments["city"]
    assert kinds_in_order(events) == ["think", "call"]
    assert events[-1] == Finish("tool_calls")


async def test_the_simulator_answers_from_the_tool_result_after_thinking_about_it() -> None:
    history = [
        Message("user", "What time is it?"),
        Message("assistant", "", tool_calls=()),
        Message("tool", "12:00 UTC", tool_call_id="call_1", name="now"),
    ]
    events = await simulate(simulator_request(history, tools=(CLOCK,)))
    assert not calls_of(events)
    assert kinds_in_order(events) == ["think", "text"]
    answer = "".join(e.text for e in events if isinstance(e, ContentDelta))
    assert "12:00 UTC" in answer
    assert events[-1] == Finish("stop")


async def test_the_simulator_follows_tool_choice() -> None:
    none = await simulate(simulator_request([Message("user", "17*23?")], tools=(CLOCK,), tool_choice="none"))
    assert not calls_of(none) and none[-1] == Finish("stop")
    named = await simulate(
        simulator_request([Message("user", "17*23 weather?")], tools=(WEATHER, CLOCK), tool_choice={"name": "now"})
    )
    assert [n for _, n, _ in calls_of(named)] == ["now"]


# -- calls the server left in the text --------------------------------------------------

TEXT_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (ModelSpec("qwen3", reasoning=ReasoningStyle.MARKUP, markup="think"), "markup"),  # no parsers at all
        (ModelSpec("qwen3"), "reasoning"),  # vLLM with a reasoning parser but no tool parser
        (ModelSpec("qwen3"), "markup"),  # a NATIVE profile whose server left <think> in the text
    ],
)
async def test_chat_completions_reads_tool_call_markup_when_tools_are_offered(
    model: ModelSpec, field: str, up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    chunks = render("openai-chat", "Need weather.", "\n\n" + TEXT_CALL, field=field, chunk_chars=4)
    for tools in ((WEATHER,), ()):
        up.enqueue(Script(chunks=chunks))
        request = ChatRequest(
            provider=ProviderConfig("openai", up.url + "/v1"),
            model=model,
            messages=[Message("user", "Weather?")],
            tools=tools,
        )
        events = [e async for e in get_adapter("openai").stream(request, client)]
        reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
        content = "".join(e.text for e in events if isinstance(e, ContentDelta))
        assert reasoning == "Need weather."
        if tools:
            assert [(n, a) for _, n, a in calls_of(events)] == [("get_weather", {"city": "Paris"})]
            assert content == "" and events[-1] == Finish("tool_calls")
        else:  # no tools offered: the text is the answer, as before
            assert content.strip() == TEXT_CALL and events[-1] == Finish("stop")


async def test_chat_completions_reads_a_harmony_function_call(up: FakeUpstream, client: httpx.AsyncClient) -> None:
    text = (
        "<|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant<|channel|>commentary "
        'to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}<|call|>'
    )
    chunks = render("openai-chat", "", text, chunk_chars=5)
    up.enqueue(Script(chunks=chunks))
    request = ChatRequest(
        provider=ProviderConfig("openai", up.url + "/v1"),
        model=ModelSpec("gpt-oss-20b", reasoning=ReasoningStyle.MARKUP, markup="harmony"),
        messages=[Message("user", "Weather?")],
        tools=(WEATHER,),
    )
    events = [e async for e in get_adapter("openai").stream(request, client)]
    assert [(n, a) for _, n, a in calls_of(events)] == [("get_weather", {"city": "Paris"})]
    assert kinds_in_order(events) == ["think", "call"]
    assert events[-1] == Finish("tool_calls")


async def test_ollama_reads_tool_call_markup_left_in_the_text(up: FakeUpstream, client: httpx.AsyncClient) -> None:
    chunks = render("ollama", "Need weather.", TEXT_CALL, markup=True, chunk_chars=6)
    up.enqueue(Script(chunks=chunks, headers={"content-type": "application/x-ndjson"}))
    request = ChatRequest(
        provider=ProviderConfig("ollama", up.url),
        model=ModelSpec("qwen3", reasoning=ReasoningStyle.MARKUP, markup="think"),
        messages=[Message("user", "Weather?")],
        tools=(WEATHER,),
    )
    events = [e async for e in get_adapter("ollama").stream(request, client)]
    assert [(n, a) for _, n, a in calls_of(events)] == [("get_weather", {"city": "Paris"})]
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "Need weather."
    assert events[-1] == Finish("tool_calls")


def test_replay_reads_old_gemini_rows_with_one_text_part_per_chunk_as_one_part() -> None:
    old = {
        "format": "gemini",
        "parts": [
            {"text": "thought", "thought": True, "thoughtSignature": "c2ln"},
            {"text": "An "},
            {"text": "answer"},
            {"text": ".", "thoughtSignature": "c2lnMg=="},
            {"text": " More"},
            {"text": "."},
        ],
    }
    assert stored_replay.items(old, "gemini") == [
        {"text": "thought", "thought": True, "thoughtSignature": "c2ln"},
        {"text": "An answer"},
        {"text": ".", "thoughtSignature": "c2lnMg=="},
        {"text": " More."},
    ]


def test_the_docs_table_names_only_fields_each_format_sends() -> None:
    """docs/tools.md "Tool calls on the wire": every field named in a row's "we send"
    cell is in a body the adapter builds, and the body's tool fields are all named."""
    import pathlib
    import re

    doc = (pathlib.Path(__file__).parents[2] / "docs" / "tools.md").read_text()
    section = doc[doc.index("## Tool calls on the wire") :]
    rows = {
        "Chat Completions": "openai",
        "Responses": "openai-responses",
        "Anthropic": "anthropic",
        "Gemini": "gemini",
        "Ollama": "ollama",
    }
    for line in section.splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) != 4 or not any(cells[0].startswith(name) for name in rows):
            continue
        kind = next(k for name, k in rows.items() if cells[0].startswith(name))
        variants: list[dict[str, Any]] = [{}]
        if kind != "ollama":
            variants += [
                {"tool_choice": choice, "parallel_tool_calls": False}
                for choice in ("auto", "none", "required", {"name": "now"})
            ]
        flavour = {"openai-responses": "responses"}.get(kind, kind)
        sent = json.dumps([tool_params(request_for(kind, "http://x", **v), flavour) for v in variants])
        for schema in (json.dumps(dict(t.parameters)) for t in (WEATHER, CLOCK)):
            sent = sent.replace(schema, "{}")  # the tools' own schemas are not fields of ours
        keys_sent = set(re.findall(r'"([A-Za-z_]+)":', sent))
        documented = set(re.findall(r"[A-Za-z_]+", cells[3]))
        assert keys_sent, kind
        assert keys_sent <= documented, (kind, keys_sent - documented)


async def test_a_call_cut_by_the_token_limit_is_closed_and_the_step_finishes_length(
    up: FakeUpstream, client: httpx.AsyncClient
) -> None:
    calls = [FakeToolCall("get_weather", '{"city": "Par', id="functions.get_weather:0")]  # Kimi's own id style
    chunks = render("openai-chat", "hm", "", tool_calls=calls, finish_reason="length")
    events = await run("openai", up, client, chunks)
    [done] = [e for e in events if isinstance(e, ToolCallDone)]
    assert (done.id, done.arguments) == ("functions.get_weather:0", '{"city": "Par')
    assert events[-1] == Finish("length")
