"""Tools a model may call in a tool loop, and how one call is executed.

A `Toolbox` offers `specs` (sent as `ChatRequest.tools`) and executes one
`ToolCall` at a time (`call`), never raising for anything a tool or its server
did: a failure, a timeout, a tool that does not exist, arguments that are not a
JSON object or are too large all come back as a `ToolResult` with `is_error`
set and a message the model can read (and the user sees in the step).

Some calls are answered later, by a person (a function tool with a form): for
those `answers_later(name)` is true, and the tool loop pauses instead of calling
(see playground.streaming.toolrun).

Tool results are untrusted text: whoever shows them escapes them like model output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reasoning.request import ToolCall, ToolSpec

# What a single call may carry, in characters. Arguments over the limit are
# refused (the tool is not called); a result over it is cut, and says so.
MAX_ARGUMENT_CHARS = 32 * 1024
MAX_RESULT_CHARS = 64 * 1024


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What one call returned: the text that goes back to the model."""

    content: str
    is_error: bool = False
    server: str = ""  # the MCP server (or "function") that answered
    duration_ms: int = 0


@dataclass(frozen=True, slots=True)
class Limits:
    argument_chars: int = MAX_ARGUMENT_CHARS
    result_chars: int = MAX_RESULT_CHARS
    call_timeout: float = 30.0  # seconds one call may take
    start_timeout: float = 20.0  # seconds a server may take to start and list its tools


class Toolbox(Protocol):
    specs: tuple[ToolSpec, ...]
    # Servers that could not start or list their tools: (name, why). The loop shows
    # them to the user; their tools are simply not offered.
    problems: list[tuple[str, str]]

    def answers_later(self, name: str) -> bool: ...

    def server_of(self, name: str) -> str: ...

    async def call(self, call: ToolCall) -> ToolResult: ...

    async def aclose(self) -> None: ...


def parse_arguments(call: ToolCall, limits: Limits) -> dict[str, Any] | ToolResult:
    """The call's arguments as an object, or the error result that says why not."""
    if len(call.arguments) > limits.argument_chars:
        return ToolResult(
            f"The arguments of {call.name} are {len(call.arguments):,} characters, over the limit of "
            f"{limits.argument_chars:,}; the tool was not called.",
            is_error=True,
        )
    text = call.arguments.strip() or "{}"
    try:
        arguments = json.loads(text)
    except ValueError as e:
        return ToolResult(f"The arguments of {call.name} are not valid JSON ({e}); the tool was not called.", True)
    if not isinstance(arguments, dict):
        return ToolResult(f"The arguments of {call.name} must be a JSON object; the tool was not called.", True)
    return arguments


def cut_result(text: str, limits: Limits) -> str:
    """A result no longer than the limit; a cut one says where and how long it was."""
    if len(text) <= limits.result_chars:
        return text
    return (
        text[: limits.result_chars]
        + f"\n[The result was {len(text):,} characters; it was cut at the limit of {limits.result_chars:,}.]"
    )


async def timed(work: Callable[[], Awaitable[ToolResult]]) -> ToolResult:
    """`work()` with its duration filled in."""
    started = time.monotonic()
    result = await work()
    ms = int((time.monotonic() - started) * 1000)
    return ToolResult(result.content, result.is_error, result.server, ms)


@dataclass
class NoTools:
    """The toolbox of a turn without tools."""

    specs: tuple[ToolSpec, ...] = ()
    problems: list[tuple[str, str]] = field(default_factory=list)

    def answers_later(self, name: str) -> bool:
        return False

    def server_of(self, name: str) -> str:
        return ""

    async def call(self, call: ToolCall) -> ToolResult:
        return unknown_tool(call.name, ())

    async def aclose(self) -> None:
        return None


def unknown_tool(name: str, known: Sequence[str]) -> ToolResult:
    offered = ", ".join(known) or "none"
    return ToolResult(f"There is no tool named {name!r} (tools offered: {offered}).", is_error=True)
