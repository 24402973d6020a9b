"""Function tools a person answers, as the chat page defines and answers them.

A function is stored (`Conversation.functions`, `ToolSet.functions`) as

    {"name": str, "description": str, "parameters": JSON Schema, "returns": JSON Schema (optional)}

When the model calls one the turn waits ("awaiting_tool"); the card shows whether the
model's arguments match `parameters` and a form for the result. With `returns` the
result must be JSON that matches it, or the form says why and nothing is sent.
"""

from __future__ import annotations

import json
import re
from typing import Any

from playground.turns.services import BadInput
from reasoning.request import ToolSpec
from reasoning.structured import check_schema, validate

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_FUNCTIONS = 32
MAX_SCHEMA_CHARS = 16_000
EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


def _schema(text: str, what: str, *, default: dict[str, Any] | None) -> dict[str, Any] | None:
    text = (text or "").strip()
    if not text:
        return default
    if len(text) > MAX_SCHEMA_CHARS:
        raise BadInput(f"The {what} schema is longer than {MAX_SCHEMA_CHARS:,} characters.")
    try:
        schema = json.loads(text)
    except (ValueError, RecursionError):
        raise BadInput(f"The {what} schema is not valid JSON.") from None
    if problems := check_schema(schema):
        raise BadInput(f"The {what} schema is not a valid JSON Schema: {problems[0]}")
    return dict(schema)


def clean_function(name: str, description: str, parameters: str, returns: str = "") -> dict[str, Any]:
    """A function from the form's fields, or BadInput saying what is wrong."""
    name = (name or "").strip()
    if not NAME.match(name):
        raise BadInput("A function's name is 1 to 64 letters, digits, - or _.")
    params = _schema(parameters, "parameters", default=EMPTY_PARAMETERS)
    if params is not None and params.get("type", "object") != "object":
        raise BadInput("The parameters schema must describe an object (\"type\": \"object\").")
    function: dict[str, Any] = {"name": name, "description": (description or "").strip()[:2000], "parameters": params}
    if (result := _schema(returns, "result", default=None)) is not None:
        function["returns"] = result
    return function


def clean_functions(raw: Any) -> list[dict[str, Any]]:
    """A stored list (an import, a tool set) checked again, function by function."""
    if not isinstance(raw, list) or len(raw) > MAX_FUNCTIONS:
        raise BadInput(f"Functions are a list of at most {MAX_FUNCTIONS}.")
    out: list[dict[str, Any]] = []
    for f in raw:
        if not isinstance(f, dict):
            raise BadInput("Each function is an object with a name.")
        returns = f.get("returns")
        out.append(clean_function(
            str(f.get("name", "")), str(f.get("description", "")), json.dumps(f.get("parameters") or EMPTY_PARAMETERS),
            json.dumps(returns) if returns is not None else "",
        ))
    names = [f["name"] for f in out]
    if len(set(names)) != len(names):
        raise BadInput("Two functions have the same name.")
    return out


def add(functions: list[dict[str, Any]], function: dict[str, Any]) -> list[dict[str, Any]]:
    """`functions` with `function` added, or replacing the one of the same name."""
    kept = [f for f in functions if f.get("name") != function["name"]]
    if len(kept) >= MAX_FUNCTIONS:
        raise BadInput(f"At most {MAX_FUNCTIONS} functions.")
    return [*kept, function]


def specs(functions: Any) -> list[ToolSpec]:
    """The functions as the model is offered them."""
    return [
        ToolSpec(str(f["name"]), str(f.get("description") or ""), f.get("parameters") or EMPTY_PARAMETERS)
        for f in functions or ()
        if isinstance(f, dict) and f.get("name")
    ]


def named(functions: Any, name: str) -> dict[str, Any] | None:
    return next((f for f in functions or () if isinstance(f, dict) and f.get("name") == name), None)


def argument_problems(function: dict[str, Any] | None, arguments: str) -> list[str]:
    """Why the model's arguments do not match the function's parameters ([] when they do)."""
    if function is None:
        return []
    checked = validate(arguments.strip() or "{}", function.get("parameters") or EMPTY_PARAMETERS)
    return list(checked.errors)


def result_problems(function: dict[str, Any] | None, result: str) -> list[str]:
    """Why a person's result does not match the function's `returns` schema ([] when it does, or has none)."""
    if function is None or not function.get("returns"):
        return []
    return list(validate(result, function["returns"]).errors)
