"""top_p and stop in each provider's request, checked against the
official SDKs' request types (not our own idea of the field names)."""

from __future__ import annotations

import typing

import pytest
from pydantic import TypeAdapter

from reasoning.adapters import get_adapter
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig


def request(kind: str, **fields) -> ChatRequest:
    return ChatRequest(
        provider=ProviderConfig(kind=kind, base_url="http://127.0.0.1:9"),
        model=ModelSpec(model_id="m"),
        messages=[Message(role="user", content="hi")],
        **fields,
    )


def body(kind: str, **fields) -> dict:
    return get_adapter(kind).prepare(request(kind, **fields)).json


def declared(typed_dict: type) -> set[str]:
    return set(typing.get_type_hints(typed_dict))


def test_openai_chat_takes_them_as_the_sdk_spells_them():
    from openai.types.chat import completion_create_params

    sent = body("openai", top_p=0.5, stop=("END",))
    assert {"top_p", "stop"} <= declared(completion_create_params.CompletionCreateParamsBase)
    checked = TypeAdapter(completion_create_params.CompletionCreateParamsStreaming).validate_python(sent)
    assert (checked["top_p"], checked["stop"]) == (0.5, ["END"])


def test_anthropic_takes_stop_sequences_and_refuses_top_p():
    from anthropic.types import message_create_params

    sent = body("anthropic", stop=("END",))
    assert "stop_sequences" in declared(message_create_params.MessageCreateParamsBase)
    checked = TypeAdapter(message_create_params.MessageCreateParamsStreaming).validate_python(sent)
    assert checked["stop_sequences"] == ["END"]
    # The SDK's request type has no top_p (nor temperature) any more: refused, not sent.
    assert "top_p" not in declared(message_create_params.MessageCreateParamsBase)
    with pytest.raises(ValueError, match="top_p"):
        body("anthropic", top_p=0.5)


def test_gemini_takes_them_in_the_generation_config():
    from google.genai import types

    config = types.GenerationConfig.model_validate(body("gemini", top_p=0.5, stop=("END",))["generationConfig"])
    assert (config.top_p, config.stop_sequences) == (0.5, ["END"])


def test_ollama_takes_them_in_its_options():
    from ollama._types import Options

    options = Options.model_validate(body("ollama", top_p=0.5, stop=("END",))["options"])
    assert (options.top_p, options.stop) == (0.5, ["END"])


def test_the_responses_api_has_no_stop_and_says_so():
    with pytest.raises(ValueError, match="stop"):
        body("openai-responses", stop=("END",))
