"""Tool calls on the wire, model → us: one assembler shared by the adapters, and the
tool fields each flavour sends (`tools`, `tool_choice`, `parallel_tool_calls`).

Every adapter turns its format's calls into `ToolCallStart` → `ToolCallDelta`… →
`ToolCallDone` (reasoning.events). `ToolCalls` keeps the calls of one step by a key the
format gives (Chat Completions' `index`, Anthropic's block index, a Responses item id),
hands out the event `index` (the wire's own index for Chat Completions, else the calls'
order in the step: 0, 1, …) and remembers what it emitted, so `done_all()` can close
calls a format never closes explicitly.

Ids: the provider's where it sends one; otherwise (Gemini without `functionCall.id`,
Ollama without `id`, markup) `new_call_id()` makes one that is unique across steps of a
conversation, because a tool result is matched to its call by id.

What goes out (`tool_params(request, flavour)`), from `ChatRequest.tools`,
`.tool_choice` ("auto" | "none" | "required" | {"name": NAME}) and `.parallel_tool_calls`:

    openai     tools: [{type: function, function: {name, description, parameters}}],
               tool_choice: "auto"|"none"|"required"|{type: function, function: {name}},
               parallel_tool_calls
    responses  tools: [{type: function, name, description, parameters, strict: false}],
               tool_choice: "auto"|"none"|"required"|{type: function, name},
               parallel_tool_calls
    anthropic  tools: [{name, description, input_schema}],
               tool_choice: {type: auto|none|any|tool (+ name)}, with
               disable_parallel_tool_use: true when parallel_tool_calls is False
    gemini     tools: [{functionDeclarations: [{name, description, parametersJsonSchema}]}],
               toolConfig: {functionCallingConfig: {mode: AUTO|NONE|ANY
               (+ allowedFunctionNames)}}; Gemini has no switch for parallel calls
    ollama     tools: [{type: function, function: {...}}]; Ollama has neither a
               tool_choice nor a parallel switch, so those are refused (ValueError)
               rather than silently dropped, except "auto" (its only behaviour)
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reasoning.events import Event, ToolCallDelta, ToolCallDone, ToolCallStart
from reasoning.request import ChatRequest, ToolSpec


def new_call_id(prefix: str = "call_") -> str:
    """A call id for formats that send none: unique across a conversation's steps."""
    return prefix + secrets.token_hex(8)


def arguments_text(value: Any) -> str:
    """A call's arguments as JSON text: a string is kept as the model wrote it, an
    object (Gemini `args`, Ollama `arguments`, Anthropic `input`) is dumped compactly."""
    if isinstance(value, str):
        return value
    if value is None:
        return "{}"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass
class _Call:
    index: int
    id: str
    name: str
    pieces: list[str] = field(default_factory=list)
    done: bool = False


class ToolCalls:
    """The calls of one step, as they stream."""

    def __init__(self) -> None:
        self._calls: dict[Any, _Call] = {}
        self._next = 0

    def __bool__(self) -> bool:
        return bool(self._calls)

    def __contains__(self, key: object) -> bool:
        return key in self._calls

    @property
    def count(self) -> int:
        return len(self._calls)

    def start(self, key: Any, id: str | None, name: str, *, index: int | None = None) -> list[Event]:
        """A new call under `key` (no-op if it is already known)."""
        if key in self._calls:
            return []
        if index is None or any(c.index == index for c in self._calls.values()):
            index = self._next
        self._next = max(self._next, index + 1)
        call = _Call(index, id or new_call_id(), name)
        self._calls[key] = call
        return [ToolCallStart(call.index, call.id, call.name)]

    def add(self, key: Any, arguments: str) -> list[Event]:
        call = self._calls.get(key)
        if call is None or call.done or not arguments:
            return []
        call.pieces.append(arguments)
        return [ToolCallDelta(call.index, arguments)]

    def done(self, key: Any, arguments: str | None = None) -> list[Event]:
        """Close the call. `arguments`, when the format repeats the whole text at the
        end, wins over the joined fragments (it is what the provider stored)."""
        call = self._calls.get(key)
        if call is None or call.done:
            return []
        call.done = True
        text = arguments if arguments is not None else "".join(call.pieces)
        return [ToolCallDone(call.index, call.id, call.name, text or "{}")]

    def whole(self, key: Any, id: str | None, name: str, arguments: Any, *, index: int | None = None) -> list[Event]:
        """A call that arrives complete (Gemini, Ollama, markup): start, one delta, done."""
        text = arguments_text(arguments)
        return [*self.start(key, id, name, index=index), *self.add(key, text), *self.done(key, text)]

    def done_all(self) -> list[Event]:
        events: list[Event] = []
        for key in sorted(self._calls, key=lambda k: self._calls[k].index):
            events += self.done(key)
        return events


# -- what goes out ------------------------------------------------------------------


def _function(tool: ToolSpec) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": tool.name}
    if tool.description:
        spec["description"] = tool.description
    spec["parameters"] = dict(tool.parameters)
    return spec


def _named(choice: Any) -> str | None:
    if isinstance(choice, Mapping):
        name = choice.get("name")
        if name is None and isinstance(choice.get("function"), Mapping):
            name = choice["function"].get("name")  # OpenAI's own shape, passed through
        if not isinstance(name, str) or not name:
            raise ValueError(f"tool_choice must name a tool: {dict(choice)!r}")
        return name
    return None


def _check_choice(request: ChatRequest) -> Any:
    choice = request.tool_choice
    if choice is None:
        return None
    if isinstance(choice, Mapping):
        name = _named(choice)
        if name not in {t.name for t in request.tools}:
            raise ValueError(f"tool_choice names {name!r}, which is not among the request's tools")
        return choice
    if choice not in ("auto", "none", "required"):
        raise ValueError(f"tool_choice must be auto, none, required or a tool's name, not {choice!r}")
    return choice


def tool_params(request: ChatRequest, flavour: str) -> dict[str, Any]:
    """The body fields that offer the request's tools, in `flavour`'s shape (see the
    module docstring); {} when the request has no tools."""
    if not request.tools:
        if request.tool_choice not in (None, "none", "auto"):
            raise ValueError("tool_choice was given but the request has no tools")
        return {}
    names = [t.name for t in request.tools]
    if len(set(names)) != len(names):
        raise ValueError("two tools share a name: " + ", ".join(sorted({n for n in names if names.count(n) > 1})))
    choice = _check_choice(request)
    named = _named(choice)
    parallel = request.parallel_tool_calls
    body: dict[str, Any] = {}
    if flavour in ("openai", "ollama"):
        body["tools"] = [{"type": "function", "function": _function(t)} for t in request.tools]
        if flavour == "ollama":
            if choice not in (None, "auto"):
                raise ValueError("Ollama has no tool_choice: it always lets the model choose")
            if parallel is not None:
                raise ValueError("Ollama has no parallel_tool_calls switch")
            return body
        if choice is not None:
            body["tool_choice"] = {"type": "function", "function": {"name": named}} if named else choice
        if parallel is not None:
            body["parallel_tool_calls"] = parallel
    elif flavour == "responses":
        # `strict` is required by the SDK's FunctionToolParam and defaults to true on the
        # API, which would refuse any schema not written for strict mode (MCP tools').
        body["tools"] = [{"type": "function", **_function(t), "strict": False} for t in request.tools]
        if choice is not None:
            body["tool_choice"] = {"type": "function", "name": named} if named else choice
        if parallel is not None:
            body["parallel_tool_calls"] = parallel
    elif flavour == "anthropic":
        tools = []
        for t in request.tools:
            tool: dict[str, Any] = {"name": t.name}
            if t.description:
                tool["description"] = t.description
            tool["input_schema"] = dict(t.parameters)
            tools.append(tool)
        body["tools"] = tools
        kind = {"auto": "auto", "none": "none", "required": "any"}.get(choice) if not named else "tool"
        if kind is None and parallel is False:
            kind = "auto"  # the parallel switch lives inside tool_choice
        if kind is not None:
            tool_choice: dict[str, Any] = {"type": kind}
            if named:
                tool_choice["name"] = named
            if parallel is False and kind != "none":
                tool_choice["disable_parallel_tool_use"] = True
            body["tool_choice"] = tool_choice
    elif flavour == "gemini":
        # `parametersJsonSchema` takes the schema as JSON Schema; `parameters` would
        # want Gemini's OpenAPI subset (upper-case types, no additionalProperties …),
        # which MCP tools' schemas are not.
        declarations = []
        for t in request.tools:
            declaration: dict[str, Any] = {"name": t.name}
            if t.description:
                declaration["description"] = t.description
            declaration["parametersJsonSchema"] = dict(t.parameters)
            declarations.append(declaration)
        body["tools"] = [{"functionDeclarations": declarations}]
        if choice is not None:
            mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}.get(choice) if not named else "ANY"
            config: dict[str, Any] = {"mode": mode}
            if named:
                config["allowedFunctionNames"] = [named]
            body["toolConfig"] = {"functionCallingConfig": config}
    else:
        raise ValueError(f"unknown tool flavour {flavour!r}")
    return body
