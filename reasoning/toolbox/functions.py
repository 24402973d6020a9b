"""Function tools a person answers: offered to the model beside a toolbox's own tools.

A function is a `ToolSpec` (name, description, JSON Schema of its parameters) with no
code behind it: when the model calls one, the loop pauses (`answers_later`) and the
person's answer is the result (playground.streaming.toolrun). Calls of the inner
toolbox's tools go to it unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from reasoning.request import ToolCall, ToolSpec
from reasoning.toolbox import NoTools, Toolbox, ToolResult

# What a card says served a function's call: a person, not a server.
BY_HAND = "you"


@dataclass
class WithFunctions:
    """`inner`'s tools and `functions`; a function shadows no tool of the same name
    (the server's tool wins, and the function is left out with a problem noted)."""

    inner: Toolbox
    functions: tuple[ToolSpec, ...] = ()
    specs: tuple[ToolSpec, ...] = ()
    problems: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        taken = {spec.name for spec in self.inner.specs}
        offered = []
        for function in self.functions:
            if function.name in taken:
                self.inner.problems.append((function.name, "a server's tool has this name; the function is left out"))
                continue
            taken.add(function.name)
            offered.append(function)
        self.functions = tuple(offered)
        self.specs = (*self.inner.specs, *offered)
        self.problems = self.inner.problems

    def answers_later(self, name: str) -> bool:
        return any(f.name == name for f in self.functions) or self.inner.answers_later(name)

    def server_of(self, name: str) -> str:
        return BY_HAND if any(f.name == name for f in self.functions) else self.inner.server_of(name)

    async def call(self, call: ToolCall) -> ToolResult:
        return await self.inner.call(call)

    async def aclose(self) -> None:
        await self.inner.aclose()


def with_functions(inner: Toolbox | None, functions: Iterable[ToolSpec]) -> Toolbox | None:
    """`inner` with `functions` added; `inner` itself when there are none."""
    functions = tuple(functions)
    if not functions:
        return inner
    return WithFunctions(inner if inner is not None else NoTools(), functions)
