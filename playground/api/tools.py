"""OpenAI's tool format on the way in: `tools`, `tool_choice`, `parallel_tool_calls`,
assistant messages with `tool_calls` and `role: tool` messages, checked and turned into
the library's terms (`reasoning.request.ToolSpec`, `ToolCall`, `Message`).

Every refusal is a 400 naming the parameter, before anything is stored or sent:

    tools[i]…                   not a function tool, a bad name, parameters that are not
                                an object JSON Schema, a description or schema too large,
                                two tools of one name, more than MAX_TOOLS
    tool_choice                 not auto/none/required/{"type": "function", "function": {"name"}},
                                a name not among the tools, given without tools
    parallel_tool_calls         not a boolean
    messages[i].tool_calls…     not function calls, a missing or repeated id, arguments not text
    messages[i].tool_call_id    a result for no earlier call, or a call answered twice
    messages[i]                 a call left without its result before the next message
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from playground.api.errors import bad_parameter
from reasoning.request import Message, ToolCall, ToolSpec
from reasoning.structured import check_schema

MAX_TOOLS = 128  # OpenAI's own limit
MAX_TOOL_SCHEMA_CHARS = 64_000  # one tool's parameters, as JSON
MAX_DESCRIPTION_CHARS = 8_000
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what every provider accepts as a function name
CHOICES = ("auto", "none", "required")


@dataclass
class ToolUse:
    """The tool parameters of one request, as the library takes them."""

    tools: tuple[ToolSpec, ...] = ()
    choice: str | dict[str, Any] | None = None
    parallel: bool | None = None


@dataclass
class Conversation:
    """The request's messages as library messages (system left out: it is the `system`
    control), and which of them carried tool calls or results."""

    messages: list[Message] = field(default_factory=list)
    uses_tools: bool = False  # an assistant message with calls, or a tool result


def tool_use(body: Mapping[str, Any]) -> ToolUse:
    tools = _tools(body.get("tools"))
    choice = _choice(body.get("tool_choice"), tools)
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise bad_parameter("parallel_tool_calls", "parallel_tool_calls must be true or false.")
    # Without tools the switch says nothing (clients send it by default).
    return ToolUse(tools, choice, parallel if tools else None)


def _tools(value: Any) -> tuple[ToolSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad_parameter("tools", "tools must be a list of function tools.")
    if len(value) > MAX_TOOLS:
        raise bad_parameter("tools", f"At most {MAX_TOOLS} tools, not {len(value)}.")
    specs: list[ToolSpec] = []
    for i, tool in enumerate(value):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
            raise bad_parameter(where, 'Each tool must be {"type": "function", "function": {...}}.')
        function = tool["function"]
        if set(function) - {"name", "description", "parameters", "strict"}:
            extra = sorted(set(function) - {"name", "description", "parameters", "strict"})
            raise bad_parameter(f"{where}.function", f"Unsupported function field(s): {', '.join(extra)}.")
        name = function.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise bad_parameter(
                f"{where}.function.name", "A function name is 1 to 64 letters, digits, underscores or dashes."
            )
        if name in {s.name for s in specs}:
            raise bad_parameter(f"{where}.function.name", f"Two tools are named {name!r}.")
        description = function.get("description", "")
        if not isinstance(description, str):
            raise bad_parameter(f"{where}.function.description", "description must be a string.")
        if len(description) > MAX_DESCRIPTION_CHARS:
            raise bad_parameter(
                f"{where}.function.description", f"description is longer than {MAX_DESCRIPTION_CHARS:,} characters."
            )
        parameters = function.get("parameters", {"type": "object", "properties": {}})
        _check_parameters(parameters, f"{where}.function.parameters")
        if function.get("strict") not in (None, False, True):
            raise bad_parameter(f"{where}.function.strict", "strict must be true or false.")
        specs.append(ToolSpec(name=name, description=description, parameters=parameters))
    return tuple(specs)


def _check_parameters(parameters: Any, where: str) -> None:
    if not isinstance(parameters, dict):
        raise bad_parameter(where, "parameters must be a JSON Schema object.")
    if len(json.dumps(parameters)) > MAX_TOOL_SCHEMA_CHARS:
        raise bad_parameter(where, f"parameters is larger than {MAX_TOOL_SCHEMA_CHARS:,} characters of JSON.")
    if parameters.get("type", "object") != "object":
        raise bad_parameter(where, f"parameters must describe an object (type \"object\"), not {parameters['type']!r}.")
    if problems := check_schema(parameters):
        raise bad_parameter(where, f"parameters is not a valid JSON Schema: {problems[0]}")


def _choice(value: Any, tools: tuple[ToolSpec, ...]) -> str | dict[str, Any] | None:
    if value is None:
        return None
    if not tools:
        if value in ("none", "auto"):
            return None  # asks for nothing without tools
        raise bad_parameter("tool_choice", "tool_choice is only allowed when tools are given.")
    if isinstance(value, str):
        if value not in CHOICES:
            raise bad_parameter("tool_choice", f"tool_choice must be one of {', '.join(CHOICES)} or a function.")
        return value
    function = value.get("function") if isinstance(value, dict) and value.get("type") == "function" else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise bad_parameter("tool_choice", 'A named tool_choice is {"type": "function", "function": {"name": …}}.')
    if name not in {t.name for t in tools}:
        raise bad_parameter("tool_choice", f"tool_choice names {name!r}, which is not among the tools.")
    return {"name": name}


def tool_calls(message: Mapping[str, Any], where: str) -> tuple[ToolCall, ...]:
    """An assistant message's `tool_calls` as library calls."""
    if message.get("function_call") is not None:
        raise bad_parameter(f"{where}.function_call", "function_call is the old form: send tool_calls.")
    value = message.get("tool_calls")
    if value is None or value == []:
        return ()
    if not isinstance(value, list):
        raise bad_parameter(f"{where}.tool_calls", "tool_calls must be a list.")
    calls = []
    for j, call in enumerate(value):
        at = f"{where}.tool_calls[{j}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or call.get("type", "function") != "function" or not isinstance(function, dict):
            raise bad_parameter(at, 'A tool call is {"id", "type": "function", "function": {"name", "arguments"}}.')
        call_id, name, arguments = call.get("id"), function.get("name"), function.get("arguments", "")
        if not isinstance(call_id, str) or not call_id:
            raise bad_parameter(f"{at}.id", "Each tool call needs its id.")
        if not isinstance(name, str) or not name:
            raise bad_parameter(f"{at}.function.name", "Each tool call needs the function's name.")
        if isinstance(arguments, (dict, list)):
            arguments = json.dumps(arguments)  # some clients send the parsed object back
        if not isinstance(arguments, str):
            raise bad_parameter(f"{at}.function.arguments", "arguments must be the JSON text of the call.")
        if len(arguments) > settings.MAX_PROMPT_CHARS:
            raise bad_parameter(f"{at}.function.arguments", f"arguments is longer than {settings.MAX_PROMPT_CHARS:,}.")
        calls.append(ToolCall(id=call_id, name=name, arguments=arguments))
    return tuple(calls)


class CallBook:
    """The calls made so far and which have their result: a `tool` message must answer
    a call of the assistant message before it, once; every call needs its result
    before the next user or assistant message."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.open: dict[str, ToolCall] = {}
        self.opened_at = ""

    def called(self, calls: tuple[ToolCall, ...], where: str) -> None:
        self.check_closed()
        for j, call in enumerate(calls):
            if call.id in self.seen:
                raise bad_parameter(f"{where}.tool_calls[{j}].id", f"The tool call id {call.id!r} is used twice.")
            self.seen.add(call.id)
            self.open[call.id] = call
        self.opened_at = where

    def answered(self, call_id: Any, where: str) -> ToolCall:
        if not isinstance(call_id, str) or not call_id:
            raise bad_parameter(f"{where}.tool_call_id", "A tool message needs the tool_call_id it answers.")
        call = self.open.pop(call_id, None)
        if call is None:
            why = "was answered already" if call_id in self.seen else "is not a call of the assistant message before it"
            raise bad_parameter(f"{where}.tool_call_id", f"tool_call_id {call_id!r} {why}.")
        return call

    def check_closed(self) -> None:
        if self.open:
            ids = ", ".join(sorted(self.open))
            raise bad_parameter(
                self.opened_at,
                "An assistant message with tool_calls must be followed by tool messages answering each call; "
                f"no result for: {ids}.",
            )


def tool_result(text: str, call: ToolCall, where: str) -> Message:
    if len(text) > settings.MAX_PROMPT_CHARS:
        raise bad_parameter(where, f"A tool result is longer than {settings.MAX_PROMPT_CHARS:,} characters.")
    return Message(role="tool", content=text, tool_call_id=call.id, name=call.name)
