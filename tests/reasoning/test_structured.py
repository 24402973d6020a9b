"""Structured answers: the schema on each provider's wire (checked against the
official SDKs' request types) and validation that reports, never repairs."""

from __future__ import annotations

import typing

import pytest

from reasoning.request import ChatRequest, ModelSpec, ProviderConfig
from reasoning.structured import check_schema, schema_params, system_with_schema, validate

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}, "why": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


def request(kind: str, **options) -> ChatRequest:
    return ChatRequest(
        provider=ProviderConfig(kind=kind), model=ModelSpec("m", options=options), messages=[],
        system="Be terse.", response_schema=SCHEMA,
    )


def keys_fit(typed_dict: type, value: dict) -> None:
    hints = typing.get_type_hints(typed_dict)
    assert set(value) <= set(hints), f"{set(value) - set(hints)} not in {typed_dict.__name__}"
    assert typed_dict.__required_keys__ <= set(value)


def test_openai_chat_completions_gets_response_format_json_schema():
    from openai.types.shared_params.response_format_json_schema import JSONSchema, ResponseFormatJSONSchema

    fmt = schema_params(request("openai"))["response_format"]
    keys_fit(ResponseFormatJSONSchema, fmt)
    keys_fit(JSONSchema, fmt["json_schema"])
    assert fmt["json_schema"]["schema"] == SCHEMA


def test_openai_responses_gets_text_format():
    from openai.types.responses.response_format_text_json_schema_config_param import (
        ResponseFormatTextJSONSchemaConfigParam,
    )

    fmt = schema_params(request("openai-responses"))["text"]["format"]
    keys_fit(ResponseFormatTextJSONSchemaConfigParam, fmt)


def test_anthropic_gets_output_config_format():
    from anthropic.types.json_output_format_param import JSONOutputFormatParam
    from anthropic.types.output_config_param import OutputConfigParam

    config = schema_params(request("anthropic"))["output_config"]
    keys_fit(OutputConfigParam, config)
    keys_fit(JSONOutputFormatParam, config["format"])


def test_gemini_gets_a_json_mime_type_and_response_json_schema():
    from google.genai import types

    generation = schema_params(request("gemini"))["generationConfig"]
    # The SDK's own model, built from the wire (camelCase) names.
    config = types.GenerateContentConfig.model_validate(generation)
    assert config.response_mime_type == "application/json"
    assert config.response_json_schema == SCHEMA


def test_ollama_gets_the_schema_as_format():
    assert schema_params(request("ollama")) == {"format": SCHEMA}


@pytest.mark.parametrize("req", [request("simulator"), request("openai", structured_output="instructions")])
def test_without_a_wire_field_the_schema_goes_into_the_instructions(req):
    assert schema_params(req) == {}
    system = system_with_schema(req)
    assert system.startswith("Be terse.\n\nReply with one JSON value")
    assert '"answer"' in system


def test_a_valid_answer_validates_with_its_value():
    result = validate('{"answer": 4, "why": "sum"}', SCHEMA)
    assert result.as_dict() == {"valid": True, "value": {"answer": 4, "why": "sum"}, "errors": []}


def test_an_answer_that_breaks_the_schema_is_kept_and_reported():
    result = validate('{"answer": "four", "extra": 1}', SCHEMA)
    assert not result.valid
    assert result.value == {"answer": "four", "extra": 1}  # as it came, not repaired
    assert any(e == "$.answer: 'four' is not of type 'integer'" for e in result.errors)
    assert any("Additional properties" in e for e in result.errors)


def test_text_that_is_not_json_is_invalid_with_no_value():
    result = validate("```json\n{\"answer\": 4}\n```", SCHEMA)
    assert (result.valid, result.value) == (False, None)
    assert result.errors[0].startswith("not JSON")


def test_a_broken_schema_is_named():
    assert check_schema({"type": "nonsense"})
    assert check_schema([1]) == ["a JSON Schema must be an object"]
    assert check_schema(SCHEMA) == []
