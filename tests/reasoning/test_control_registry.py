"""Controls as a registry (issue 20.9): one entry per thinking control, and every
adapter turns a refusal found while preparing the request into the same
`BadRequest`, before anything is sent."""

from __future__ import annotations

import pytest

from reasoning.adapters import get_adapter
from reasoning.controls import CONTROL_KINDS, CONTROLS, THINKING_CONTROLS, UnsupportedControl, thinking_params
from reasoning.errors import BadRequest
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, Thinking
from reasoning.testing import FakeUpstream, Script
from reasoning.wire import make_client

# A setting each kind's default control refuses: an effort the model does not list.
REFUSED = {
    "openai": ModelSpec("gpt-4o", thinking_control="reasoning_effort"),
    "openai-responses": ModelSpec("gpt-4o", thinking_control="responses"),
    "anthropic": ModelSpec("claude-3-5-sonnet", thinking_control="anthropic_budget"),
    "gemini": ModelSpec("gemini-2.0-flash", thinking_control="gemini_budget"),
    "ollama": ModelSpec("llama3", thinking_control="ollama_think"),
}


def test_every_control_has_one_registered_implementation():
    assert set(THINKING_CONTROLS) == set(CONTROLS) == set(CONTROL_KINDS)
    for name, entry in CONTROLS.items():
        assert callable(entry.send), name
        assert CONTROL_KINDS[name] == entry.kinds


@pytest.mark.parametrize("kind", list(REFUSED))
async def test_every_adapter_refuses_a_control_the_same_way_and_sends_nothing(kind):
    async with FakeUpstream(Script(chunks=[])) as up, make_client(read_timeout=5) as client:
        request = ChatRequest(
            provider=ProviderConfig(kind, up.url + "/v1"),
            model=REFUSED[kind],
            messages=[Message("user", "hi")],
            thinking=Thinking(effort="high"),
        )
        with pytest.raises(UnsupportedControl) as direct:
            thinking_params(request)
        with pytest.raises(BadRequest) as refused:
            async for _ in get_adapter(kind).stream(request, client):
                pass
        assert str(refused.value) == str(direct.value)
        assert refused.value.parameter == "effort"
        assert up.requests == []


@pytest.mark.parametrize(
    ("kind", "base", "url", "auth"),
    [
        ("openai", "http://h/v1", "http://h/v1/models", ("authorization", "Bearer k")),
        ("openai-responses", "http://h/v1", "http://h/v1/models", ("authorization", "Bearer k")),
        ("anthropic", "http://h/v1", "http://h/v1/models", ("x-api-key", "k")),
        ("gemini", "http://h", "http://h/v1beta/models", ("x-goog-api-key", "k")),
        ("ollama", "http://h/v1", "http://h/api/tags", ("authorization", "Bearer k")),
    ],
)
def test_each_kind_has_one_registered_model_list_request(kind, base, url, auth):
    from reasoning.model_list import MODEL_LISTS, models_request

    prepared = models_request(ProviderConfig(kind, base, "k"))
    assert (prepared.method, prepared.url, prepared.headers[auth[0]]) == ("GET", url, auth[1])
    assert kind in MODEL_LISTS


def test_a_kind_without_a_model_list_is_refused():
    from reasoning.model_list import models_request

    with pytest.raises(BadRequest):
        models_request(ProviderConfig("simulator"))


def test_each_native_schema_kind_has_one_entry():
    from reasoning.structured import NATIVE_KINDS, SCHEMA_FIELDS, schema_params

    schema = {"type": "object"}
    for kind in NATIVE_KINDS:
        request = ChatRequest(ProviderConfig(kind), ModelSpec("m"), (), response_schema=schema)
        assert schema_params(request) == SCHEMA_FIELDS[kind](schema)
    assert schema_params(ChatRequest(ProviderConfig("simulator"), ModelSpec("m"), (), response_schema=schema)) == {}
