"""Structured final answers: a JSON Schema the answer must match.

The schema is asked for on the wire where the provider has a way to say it, and
as instructions in the system text where it has none; either way the answer is
validated here, by `jsonschema`, and an invalid answer is reported as it is,
never repaired. Where each provider takes the schema (checked against the
official SDKs' request types):

* `openai` (Chat Completions): `response_format: {"type": "json_schema",
  "json_schema": {"name", "schema"}}` (openai `ResponseFormatJSONSchema`);
* `openai-responses`: `text.format: {"type": "json_schema", "name", "schema"}`
  (openai `ResponseFormatTextJSONSchemaConfigParam`);
* `anthropic`: `output_config.format: {"type": "json_schema", "schema"}`
  (anthropic `OutputConfigParam` / `JSONOutputFormatParam`);
* `gemini`: `generationConfig.responseMimeType: "application/json"` and
  `responseJsonSchema` (google-genai `GenerateContentConfig.response_json_schema`);
* `ollama`: `format` set to the schema (Ollama's structured outputs);
* anything else, or a model with the option `structured_output = "instructions"`
  (an OpenAI-compatible server without json_schema support): instructions only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from reasoning.request import ChatRequest

SCHEMA_NAME = "final_answer"

# One entry per provider kind that takes a schema on the wire (the list above): the
# body fields that carry it. A kind not here gets instructions only.
SCHEMA_FIELDS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "openai": lambda schema: {
        "response_format": {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "schema": schema}}
    },
    "openai-responses": lambda schema: {
        "text": {"format": {"type": "json_schema", "name": SCHEMA_NAME, "schema": schema}}
    },
    "anthropic": lambda schema: {"output_config": {"format": {"type": "json_schema", "schema": schema}}},
    "gemini": lambda schema: {
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema}
    },
    "ollama": lambda schema: {"format": schema},
}
NATIVE_KINDS = frozenset(SCHEMA_FIELDS)


def uses_native_schema(request: ChatRequest) -> bool:
    mode = request.model.options.get("structured_output", "native")
    return request.provider.kind in NATIVE_KINDS and mode != "instructions"


def instructions(schema: Mapping[str, Any]) -> str:
    return (
        "Reply with one JSON value and nothing else (no prose, no code fence). "
        "It must match this JSON Schema:\n" + json.dumps(schema, ensure_ascii=False)
    )


def schema_params(request: ChatRequest) -> dict[str, Any]:
    """The body fields that ask `request.provider.kind` for the schema, or {}."""
    schema = request.response_schema
    if schema is None or not uses_native_schema(request):
        return {}
    return SCHEMA_FIELDS[request.provider.kind](schema)


def system_with_schema(request: ChatRequest) -> str | None:
    """The system text, with the schema instructions added where the wire cannot carry it."""
    if request.response_schema is None or uses_native_schema(request):
        return request.system
    extra = instructions(request.response_schema)
    return f"{request.system}\n\n{extra}" if request.system else extra


def check_schema(schema: Any) -> list[str]:
    """Why `schema` is not a usable JSON Schema ([] when it is)."""
    if not isinstance(schema, dict):
        return ["a JSON Schema must be an object"]
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        return [f"{_where(e.path)}{e.message}"]
    return []


@dataclass(frozen=True, slots=True)
class StructuredAnswer:
    valid: bool
    value: Any = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "value": self.value, "errors": list(self.errors)}


def validate(text: str, schema: Mapping[str, Any]) -> StructuredAnswer:
    """The answer `text` checked against `schema`. Not JSON at all is invalid with
    value None; JSON that breaks the schema is invalid with its value kept."""
    try:
        value = json.loads(text)
    except ValueError as e:
        return StructuredAnswer(False, None, [f"not JSON: {e}"])
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    messages = [f"{_where(e.absolute_path)}{e.message}" for e in errors]
    return StructuredAnswer(not messages, value, messages)


def _where(path: Any) -> str:
    parts = list(path)
    if not parts:
        return ""
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts) + ": "
