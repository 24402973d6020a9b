"""Tool loops through the gateway with the official `openai` client: tools in
(`tools`, `tool_choice`, `parallel_tool_calls`, assistant `tool_calls`, `role: tool`),
tool calls out (whole and as standard streamed deltas, `finish_reason: "tool_calls"`,
each step's reasoning in `reasoning_content`), and a real multi-step agent loop against
each provider kind's loopback fake."""

from __future__ import annotations

import json
import uuid
from typing import Any

import openai
import pytest

from reasoning.testing.upstream import FakeToolCall, Script, render

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city now.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CONVERT = {
    "type": "function",
    "function": {
        "name": "to_fahrenheit",
        "description": "Degrees Celsius in Fahrenheit.",
        "parameters": {"type": "object", "properties": {"celsius": {"type": "number"}}, "required": ["celsius"]},
    },
}
TOOLS = [WEATHER, CONVERT]
QUESTION = [{"role": "user", "content": "How warm is it in Paris, in Fahrenheit?"}]


@pytest.fixture(autouse=True)
def _no_leftover_scripts(gateway):
    """A loop refused halfway leaves its later steps queued: they must not answer the next test."""
    yield
    with gateway.upstream._lock:
        gateway.upstream._queue.clear()


def run_tool(name: str, arguments: dict[str, Any]) -> str:
    """The agent's own tools, run here as a real agent would."""
    if name == "get_weather":
        return json.dumps({"city": arguments["city"], "celsius": 20})
    if name == "to_fahrenheit":
        return json.dumps({"fahrenheit": arguments["celsius"] * 9 / 5 + 32})
    raise AssertionError(f"no tool {name}")


def extra(obj: Any, name: str) -> Any:
    return (obj.model_extra or {}).get(name)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def test_a_tool_call_comes_back_with_its_reasoning_and_finish_reason(gateway):
    seen = len(gateway.upstream.requests)
    call_id = unique("call_")
    gateway.upstream.enqueue(Script(chunks=render(
        "openai-chat", "I need the weather first.", "",
        tool_calls=[FakeToolCall("get_weather", '{"city": "Paris"}', id=call_id)],
    )))
    completion = gateway.client().chat.completions.create(
        model="Native", messages=QUESTION, tools=TOOLS, tool_choice="auto", parallel_tool_calls=False
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert (call.id, call.type, call.function.name) == (call_id, "function", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert extra(choice.message, "reasoning_content") == "I need the weather first."
    [request] = gateway.requests_after(seen)
    body = request.json
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "to_fahrenheit"]
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is False


def test_tool_calls_stream_as_standard_deltas(gateway):
    ids = [unique("call_"), unique("call_")]
    gateway.upstream.enqueue(Script(chunks=render(
        "openai-chat", "Two cities at once.", "",
        tool_calls=[FakeToolCall("get_weather", '{"city": "Paris"}', id=ids[0]),
                    FakeToolCall("get_weather", '{"city": "Oslo"}', id=ids[1])],
    )))
    stream = gateway.client().chat.completions.create(model="Native", messages=QUESTION, tools=TOOLS, stream=True)
    calls: dict[int, dict[str, str]] = {}
    reasoning, finish = [], None
    for chunk in stream:
        for choice in chunk.choices:
            if text := extra(choice.delta, "reasoning_content"):
                reasoning.append(text)
            for delta in choice.delta.tool_calls or ():
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                if delta.id:
                    assert delta.type == "function"
                    call["id"] = delta.id
                if delta.function and delta.function.name:
                    call["name"] = delta.function.name
                if delta.function and delta.function.arguments:
                    call["arguments"] += delta.function.arguments
            finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert "".join(reasoning) == "Two cities at once."
    assert [calls[i]["id"] for i in sorted(calls)] == ids
    assert [json.loads(calls[i]["arguments"])["city"] for i in sorted(calls)] == ["Paris", "Oslo"]
    assert {c["name"] for c in calls.values()} == {"get_weather"}


def test_the_sdk_stream_helper_accumulates_the_calls(gateway):
    call_id = unique("call_")
    gateway.upstream.enqueue(Script(chunks=render(
        "openai-chat", "Weather.", "", tool_calls=[FakeToolCall("get_weather", '{"city": "Rome"}', id=call_id)],
    )))
    with gateway.client().chat.completions.stream(model="Native", messages=QUESTION, tools=TOOLS) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    [call] = final.choices[0].message.tool_calls
    assert (call.id, call.function.name) == (call_id, "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Rome"}
    assert final.choices[0].finish_reason == "tool_calls"


def step(gateway, kind: str, reasoning: str, calls=(), answer: str = "") -> None:
    gateway.upstream.enqueue(Script(chunks=render(kind, reasoning, answer, tool_calls=list(calls))))


def test_tool_results_go_back_as_the_providers_messages(gateway):
    seen = len(gateway.upstream.requests)
    call_id = unique("call_")
    step(gateway, "openai-chat", "Weather first.", [FakeToolCall("get_weather", '{"city": "Paris"}', id=call_id)])
    client = gateway.client()
    first = client.chat.completions.create(model="DeepSeek", messages=QUESTION, tools=TOOLS).choices[0].message
    step(gateway, "openai-chat", "20 C is 68 F.", answer="It is 68 °F in Paris.")
    messages = [
        *QUESTION,
        {"role": "assistant", "content": first.content, "reasoning_content": extra(first, "reasoning_content"),
         "tool_calls": [c.model_dump() for c in first.tool_calls]},
        {"role": "tool", "tool_call_id": call_id, "content": run_tool("get_weather", {"city": "Paris"})},
    ]
    final = client.chat.completions.create(model="DeepSeek", messages=messages, tools=TOOLS)
    assert final.choices[0].message.content == "It is 68 °F in Paris."
    assert final.choices[0].finish_reason == "stop"
    _, second = gateway.requests_after(seen, 2)
    sent = second.json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == call_id and sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[1]["reasoning_content"] == "Weather first."  # DeepSeek: its carrier, in the tool chain
    assert sent[2] == {"role": "tool", "tool_call_id": call_id, "content": '{"city": "Paris", "celsius": 20}'}


BAD = [
    ({"tools": [{"type": "function", "function": {"name": "x", "parameters": {"type": "objekt"}}}]},
     QUESTION, "tools[0].function.parameters"),
    ({"tools": [{"type": "function", "function": {"name": "x", "parameters": {"type": "string"}}}]},
     QUESTION, "tools[0].function.parameters"),
    ({"tools": [{"type": "function", "function": {"name": "has space"}}]}, QUESTION, "tools[0].function.name"),
    ({"tools": [{"type": "code_interpreter"}]}, QUESTION, "tools[0]"),
    ({"tools": [WEATHER] * 2}, QUESTION, "tools[1].function.name"),
    ({"tools": [WEATHER] * 129}, QUESTION, "tools"),
    ({"tools": [{"type": "function", "function": {"name": "big", "parameters": {"type": "object", "properties": {
        f"p{i}": {"type": "string", "description": "x" * 100} for i in range(700)}}}}]},
     QUESTION, "tools[0].function.parameters"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, QUESTION, "tool_choice"),
    ({"tools": [WEATHER], "tool_choice": "sometimes"}, QUESTION, "tool_choice"),
    ({"tool_choice": "required"}, QUESTION, "tool_choice"),
    ({"tools": [WEATHER], "parallel_tool_calls": "yes"}, QUESTION, "parallel_tool_calls"),
    ({"tools": [WEATHER]}, [*QUESTION, {"role": "tool", "tool_call_id": "call_unknown", "content": "20"}],
     "messages[1].tool_call_id"),
    ({"tools": [WEATHER]}, [*QUESTION, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "user", "content": "never mind"}], "messages[1]"),
    ({"tools": [WEATHER]}, [*QUESTION, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_b", "content": "1"},
        {"role": "tool", "tool_call_id": "call_b", "content": "2"}], "messages[3].tool_call_id"),
    ({"tools": [WEATHER]}, [*QUESTION, {"role": "assistant", "content": None, "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]}],
     "messages[1].tool_calls[0].id"),
]


@pytest.mark.parametrize(("params", "messages", "param"), BAD)
def test_tool_input_it_cannot_take_is_a_400_naming_it(gateway, params, messages, param):
    seen = len(gateway.upstream.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client().chat.completions.create(model="Native", messages=messages, extra_body=params)
    error = caught.value.response.json()["error"]
    assert error["param"] == param, error
    assert error["message"]
    assert len(gateway.upstream.requests) == seen


NO_TOOLS = "No tools"  # its capabilities say it takes none (tests/api/conftest.py)
A_LOOP = [*QUESTION, {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_c", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
    {"role": "tool", "tool_call_id": "call_c", "content": '{"celsius": 20}'}]


@pytest.mark.parametrize(("params", "messages", "param"), [
    ({"tools": TOOLS}, QUESTION, "tools"),
    ({"tools": TOOLS, "stream": True}, QUESTION, "tools"),
    ({}, A_LOOP, "messages"),  # a tool loop's results, without tools offered again
])
def test_tools_for_a_model_that_takes_none_are_refused_before_the_provider(gateway, params, messages, param):
    seen = len(gateway.upstream.requests)
    conversations = gateway.query("SELECT count(*) FROM playground_conversation")
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client().chat.completions.create(model=NO_TOOLS, messages=messages, extra_body=params)
    error = caught.value.response.json()["error"]
    assert (caught.value.status_code, error["type"], error["code"], error["param"]) == (
        400, "invalid_request_error", "unsupported_parameter", param
    )
    # Names the model and what to do, in words a caller can act on.
    assert error["message"] == (
        f"{NO_TOOLS} takes no tools (its capabilities say so): send the request without tools "
        "and tool messages, or choose a model that takes them."
    )
    assert NO_TOOLS in caught.value.message and caught.value.code == "unsupported_parameter"
    assert len(gateway.upstream.requests) == seen  # refused before any upstream request
    assert gateway.query("SELECT count(*) FROM playground_conversation") == conversations  # nothing stored
    # The same model without tools still answers.
    gateway.upstream.enqueue(Script(chunks=render("openai-chat", "", "Hello.")))
    answer = gateway.client().chat.completions.create(model=NO_TOOLS, messages=QUESTION)
    assert answer.choices[0].message.content == "Hello."


# ---- a real multi-step agent loop, each provider kind ---------------------------------------
#
# The fakes answer each step only when the request carries every earlier step's reasoning
# the way the provider requires it (spec §13), else with the provider's own 400: the
# oracle is the provider's documented rule, checked on the body the fake received.


def _deepseek_missing(body: dict) -> str | None:
    for i, m in enumerate(body.get("messages", [])):
        if m.get("role") == "assistant" and m.get("tool_calls") and not m.get("reasoning_content"):
            return f"Missing `reasoning_content` field in the assistant message at message index {i}."
    return None


def _anthropic_missing(body: dict, signatures: list[str]) -> str | None:
    sent = []
    for i, m in enumerate(body.get("messages", [])):
        blocks = m.get("content") if isinstance(m.get("content"), list) else []
        if m.get("role") == "assistant" and any(b.get("type") == "tool_use" for b in blocks):
            if blocks[0].get("type") not in ("thinking", "redacted_thinking"):
                return (f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                        f"`{blocks[0].get('type')}`.")
            sent += [b.get("signature") for b in blocks if b.get("type") == "thinking"]
    if not set(signatures) <= set(sent):
        return "messages: Invalid `signature` in `thinking` block"
    return None


def _gemini_missing(body: dict, signatures: list[str]) -> str | None:
    sent = []
    for content in body.get("contents", []):
        calls = [p for p in content.get("parts", []) if "functionCall" in p]
        if content.get("role") == "model" and calls:
            if not calls[0].get("thoughtSignature"):
                name = calls[0]["functionCall"]["name"]
                return f"Function call is missing a thought_signature in functionCall parts. `default_api:{name}`"
            sent.append(calls[0]["thoughtSignature"])
    if sent != signatures:
        return "Corrupted thought signature."
    return None


def _responses_missing(body: dict, encrypted: list[str]) -> str | None:
    items = body.get("input", [])
    seen_reasoning: list[str] = []
    for item in items:
        if item.get("type") == "reasoning":
            seen_reasoning.append(item.get("encrypted_content") or "")
        if item.get("type") == "function_call" and not seen_reasoning:
            return f"Item '{item.get('id')}' of type 'function_call' was provided without its required 'reasoning' item"
    if [e for e in seen_reasoning if e] != encrypted:
        return "The encrypted content could not be verified."
    return None


def _ollama_missing(body: dict, thoughts: list[str]) -> str | None:
    # Ollama rejects nothing; its interleaved rule sends `thinking` back in the chain.
    sent = [m.get("thinking") for m in body.get("messages", []) if m.get("role") == "assistant"]
    return None if sent == thoughts else f"thinking not replayed: {sent!r}"


def _error(kind: str, message: str) -> Script:
    if kind == "anthropic":
        return Script.error(400, {"type": "error", "error": {"type": "invalid_request_error", "message": message}})
    if kind == "gemini":
        return Script.error(400, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})
    return Script.error(400, {"error": {"message": message, "type": "invalid_request_error", "code": None}})


KINDS = {
    # label: (wire format, the oracle of one request given what earlier steps returned)
    "DeepSeek": ("openai-chat", lambda body, kept: _deepseek_missing(body)),
    "Claude": ("anthropic", _anthropic_missing),
    "Gemini 3": ("gemini", _gemini_missing),
    "Responses": ("openai-responses", _responses_missing),
    "Ollama": ("ollama", _ollama_missing),
}


class StrictFake:
    """Three steps of a loop (weather, conversion, answer), each answered only when the
    request passes the provider's rule for everything the earlier steps returned."""

    def __init__(self, gateway, label: str) -> None:
        self.gateway, self.label = gateway, label
        self.format, self.rule = KINDS[label]
        self.kept: list[str] = []  # signatures / encrypted items / thoughts returned so far
        self.refusals: list[str] = []
        self.ids = [unique("call_"), unique("call_")]

    def script(self, n: int) -> Script:
        token = uuid.uuid4().hex[:8]
        thought = f"Step {n} thinking {token}."
        calls = [FakeToolCall("get_weather", '{"city": "Paris"}', id=self.ids[0]),
                 FakeToolCall("to_fahrenheit", '{"celsius": 20}', id=self.ids[1])]
        kwargs: dict[str, Any] = {}
        if self.format == "anthropic":
            kwargs["signature"] = f"sig-{token}"
            keep = kwargs["signature"]
        elif self.format == "gemini":
            import base64

            kwargs["signature"] = base64.b64encode(f"sig-{token}".encode()).decode()
            keep = kwargs["signature"]
        elif self.format == "openai-responses":
            kwargs["encrypted_content"] = f"enc-{token}"
            keep = kwargs["encrypted_content"]
        else:
            keep = thought
        if n == 2:
            return Script(chunks=render(self.format, thought, "It is 68 °F in Paris.", **kwargs))
        self.pending_keep = keep
        return Script(chunks=render(self.format, thought, "", tool_calls=[calls[n]], **kwargs))

    def responder(self, n: int):
        def answer(request) -> Script:
            if problem := self.rule(request.json, self.kept):
                self.refusals.append(problem)
                return _error(self.format, problem)
            script = self.script(n)
            if n < 2:
                self.kept.append(self.pending_keep)
            return script

        return answer

    def enqueue(self) -> None:
        self.gateway.upstream.enqueue(*(self.responder(n) for n in range(3)))


def agent_loop(client, model: str, *, whole_message: bool, stream: bool = False) -> tuple[str, list[dict]]:
    """What an agent does with the SDK: ask, run the calls it gets, send the results
    back, until an answer without calls."""
    messages: list[dict[str, Any]] = list(QUESTION)
    for _ in range(6):
        if stream:
            with client.chat.completions.stream(model=model, messages=messages, tools=TOOLS) as events:
                for _event in events:
                    pass
                completion = events.get_final_completion()
        else:
            completion = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
        choice = completion.choices[0]
        message = choice.message
        if choice.finish_reason != "tool_calls":
            return message.content or "", messages
        if whole_message:
            messages.append(message.model_dump())
        else:
            messages.append({
                "role": "assistant", "content": message.content,
                "reasoning_content": extra(message, "reasoning_content"),
                "tool_calls": [{"id": c.id, "type": "function",
                                "function": {"name": c.function.name, "arguments": c.function.arguments}}
                               for c in message.tool_calls],
            })
        for call in message.tool_calls:
            result = run_tool(call.function.name, json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    raise AssertionError("the loop never ended")


@pytest.mark.parametrize("whole_message", [False, True], ids=["standard-fields", "whole-message"])
@pytest.mark.parametrize("label", list(KINDS))
def test_an_agent_loop_succeeds_on_each_provider_kind(gateway, label, whole_message):
    fake = StrictFake(gateway, label)
    fake.enqueue()
    answer, messages = agent_loop(gateway.client(), label, whole_message=whole_message)
    assert answer == "It is 68 °F in Paris."
    assert fake.refusals == []
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant", "tool"]
    assert len(fake.kept) == 2  # both tool steps' carriers went back, verbatim


@pytest.mark.parametrize("label", ["Claude", "Gemini 3", "Responses"])
def test_an_agent_loop_streamed_succeeds(gateway, label):
    fake = StrictFake(gateway, label)
    fake.enqueue()
    answer, _ = agent_loop(gateway.client(), label, whole_message=False, stream=True)
    assert answer == "It is 68 °F in Paris."
    assert fake.refusals == []


def test_another_token_cannot_replay_what_one_token_was_given(gateway):
    fake = StrictFake(gateway, "Claude")
    fake.enqueue()
    first = gateway.client().chat.completions.create(model="Claude", messages=QUESTION, tools=TOOLS)
    message = first.choices[0].message
    [call] = message.tool_calls
    messages = [
        *QUESTION,
        {"role": "assistant", "content": message.content, "reasoning_content": extra(message, "reasoning_content"),
         "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": run_tool("get_weather", {"city": "Paris"})},
    ]
    seen = len(gateway.upstream.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client(token=gateway.tokens["sam"]).chat.completions.create(
            model="Claude", messages=messages, tools=TOOLS
        )
    # Refused here (the carrier is known to be missing) or by the provider: never sent with olivia's signature.
    assert "thinking" in caught.value.response.json()["error"]["message"]
    for request in gateway.upstream.requests[seen:]:
        assert fake.kept[0] not in json.dumps(request.json)
    # olivia's own next step goes through with it.
    answer, _ = agent_loop_from(gateway.client(), "Claude", messages)
    assert answer == "It is 68 °F in Paris."


def agent_loop_from(client, model: str, messages: list[dict[str, Any]]) -> tuple[str, list[dict]]:
    messages = list(messages)
    while True:
        choice = client.chat.completions.create(model=model, messages=messages, tools=TOOLS).choices[0]
        if choice.finish_reason != "tool_calls":
            return choice.message.content or "", messages
        messages.append(choice.message.model_dump())
        for call in choice.message.tool_calls:
            result = run_tool(call.function.name, json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})


# ---- the same loop against toolreplay's strict providers (reasoning.testing.rejecting) ------

STRICT = {
    # label: (rule, wire format, what turns thinking on)
    "DeepSeek": ("deepseek", "openai-chat", {}),
    "Kimi": ("kimi", "openai-chat", {}),
    "Claude": ("anthropic_bound", "anthropic", {"reasoning_effort": "high"}),
    "Gemini 3": ("gemini3", "gemini", {}),
    "Responses": ("responses", "openai-responses", {"reasoning_effort": "high"}),
}


def strict_steps(fmt: str) -> list[Script]:
    calls = [FakeToolCall("get_weather", '{"city": "Paris"}', id=unique("call_")),
             FakeToolCall("to_fahrenheit", '{"celsius": 20}', id=unique("call_"))]
    # Each step signs its own thinking (a signature is bound to the prefix it followed).
    signed = [{"signature": unique("sig-")} if fmt == "anthropic" else {} for _ in range(3)]
    return [
        Script(chunks=render(fmt, "Weather first.", "", tool_calls=[calls[0]], **signed[0])),
        Script(chunks=render(fmt, "Now convert.", "", tool_calls=[calls[1]], **signed[1])),
        Script(chunks=render(fmt, "Done.", "It is 68 °F in Paris.", **signed[2])),
    ]


@pytest.mark.parametrize("label", list(STRICT))
def test_the_loop_passes_the_providers_that_reject_a_missing_carrier(gateway, label):
    from reasoning.testing.rejecting import StrictProvider

    rule, fmt, params = STRICT[label]
    provider = StrictProvider(rule, *strict_steps(fmt))
    gateway.upstream.enqueue(provider, provider, provider)
    client = gateway.client()
    messages: list[dict[str, Any]] = list(QUESTION)
    for _ in range(3):
        choice = client.chat.completions.create(
            model=label, messages=messages, tools=TOOLS, extra_body=params or None
        ).choices[0]
        if choice.finish_reason != "tool_calls":
            break
        message = choice.message
        messages.append({"role": "assistant", "content": message.content,
                         "reasoning_content": extra(message, "reasoning_content"),
                         "tool_calls": [c.model_dump() for c in message.tool_calls]})
        for call in message.tool_calls:
            messages.append({"role": "tool", "tool_call_id": call.id,
                             "content": run_tool(call.function.name, json.loads(call.function.arguments))})
    assert choice.message.content == "It is 68 °F in Paris."
    assert provider.rejections == []


def test_a_loop_whose_carrier_is_lost_gets_the_providers_error(gateway):
    # sam sends back olivia's step without reasoning_content: nothing is kept for his
    # token, so DeepSeek's carrier is missing; refused (here or by the provider) with its words.
    from reasoning.testing.rejecting import StrictProvider

    provider = StrictProvider("deepseek", *strict_steps("openai-chat"))
    gateway.upstream.enqueue(provider, provider, provider)  # sam's may reach it
    message = gateway.client().chat.completions.create(
        model="DeepSeek", messages=QUESTION, tools=TOOLS
    ).choices[0].message
    [call] = message.tool_calls
    messages = [*QUESTION, {"role": "assistant", "content": message.content, "tool_calls": [call.model_dump()]},
                {"role": "tool", "tool_call_id": call.id, "content": "20 C"}]
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client(token=gateway.tokens["sam"]).chat.completions.create(
            model="DeepSeek", messages=messages, tools=TOOLS
        )
    assert "reasoning_content" in caught.value.response.json()["error"]["message"]
    # olivia, whose token received it, may leave it out: the gateway puts it back.
    final = gateway.client().chat.completions.create(model="DeepSeek", messages=messages, tools=TOOLS)
    assert final.choices[0].finish_reason == "tool_calls"
    assert len(provider.rejections) <= 1  # sam's request, if it was not refused here


def test_an_agent_loop_with_the_offline_simulator(gateway):
    # The simulator (a provider kind of its own, no network) calls a tool the prompt
    # names, then answers from the results.
    answer, messages = agent_loop(gateway.client(), "Offline simulator", whole_message=False)
    assert answer
    assert [m["role"] for m in messages][:3] == ["user", "assistant", "tool"]


def test_the_stored_turn_records_the_tool_request_and_its_notes(gateway):
    call_id = unique("call_")
    step(gateway, "openai-chat", "Weather first.", [FakeToolCall("get_weather", '{"city": "Paris"}', id=call_id)])
    client = gateway.client()
    first = client.chat.completions.create(model="DeepSeek", messages=QUESTION, tools=TOOLS).choices[0].message
    step(gateway, "openai-chat", "Done.", answer="68 °F.")
    messages = [*QUESTION, first.model_dump(),
                {"role": "tool", "tool_call_id": call_id, "content": "20 C"}]
    response = client.chat.completions.with_raw_response.create(model="DeepSeek", messages=messages, tools=TOOLS)
    conversation = int(response.headers["x-playground-conversation"])
    [(sent,)] = gateway.query(
        "SELECT sent FROM playground_turn WHERE conversation_id = ? AND role = 'assistant'", conversation
    )
    record = json.loads(sent)
    assert [m["role"] for m in record["body"]["messages"]] == ["user", "assistant", "tool"]
    assert record["body"]["tools"][0]["function"]["name"] == "get_weather"
    assert any(note["kind"] == "kept_reasoning" for note in record["context_notes"]), record["context_notes"]
