"""What a caller asks for: one generation from one model at one provider.

These are plain frozen dataclasses so the same request can be built by the
Django app, the `ask` command, the benchmarks and the tests, and inspected
(`Adapter.prepare`) without sending anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class ReasoningStyle(StrEnum):
    """How a model shows its reasoning."""

    NATIVE = "native"  # a separate field or block on the wire
    MARKUP = "markup"  # tags inside the text (`<think>`, `[THINK]`, harmony …), parsed by us
    HIDDEN = "hidden"  # the provider reasons but only reports a token count
    NONE = "none"  # no reasoning at all


ThinkingMode = Literal["default", "on", "off"]
# How reasoning reaches the caller (Friendli's parse_reasoning / include_reasoning):
# separate (its own block), inline (the model's raw text as it came, markup and all),
# hidden (asked off where the provider can, else stripped; its token count kept).
ReasoningMode = Literal["separate", "inline", "hidden"]
REASONING_MODES: tuple[str, ...] = ("separate", "inline", "hidden")
EFFORT_LEVELS: tuple[str, ...] = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
# Which stored reasoning goes back to the model (DESIGN "Replay policy"):
# strip: none (the product's promise); interleaved: the reasoning of every assistant
# step inside the current tool chain (from the last real user message on), in the
# family's carrier; preserved: every earlier turn's too, with the family's
# preservation flag. None on a request means "the catalogue's default for the model".
ReplayPolicy = Literal["strip", "interleaved", "preserved"]
REPLAY_POLICIES: tuple[str, ...] = ("strip", "interleaved", "preserved")


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    kind: str  # openai | anthropic | gemini | ollama | openai-responses | simulator
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    # Provider-specific knobs (extra headers, OpenRouter-style `reasoning` object, …).
    options: Mapping[str, Any] = field(default_factory=dict)
    # Who serves the models when set explicitly (reasoning.catalogue.GATEWAY_NAMES);
    # "" = inferred from base_url's host where it matters.
    gateway: str = ""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    model_id: str
    reasoning: ReasoningStyle = ReasoningStyle.NATIVE
    markup: str | None = None  # parser family when reasoning is MARKUP (see reasoning.parsers)
    markup_tags: tuple[str, str] | None = None  # overrides the family's tag pair
    starts_in_reasoning: bool = False  # the chat template already opened the thinking block
    # How thinking is switched and sized on the wire; see reasoning.controls for the values.
    thinking_control: str = "none"
    efforts: tuple[str, ...] = ()  # effort levels this model accepts; empty = no effort control
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call: a function with a JSON Schema for its arguments."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call an assistant step made; `arguments` is JSON text as the model wrote it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Message:
    """One stored turn, or one step of a tool loop, as context. `reasoning` and
    `replay` are carried so the context builder can decide, per provider and replay
    policy, whether anything goes back.

    A tool loop is: a user message, then assistant steps with `tool_calls`, each
    followed by one `tool` message per call (`tool_call_id`, `name`, the result in
    `content`, `is_error` for a failed call), and a last assistant step without calls."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    reasoning: str = ""
    replay: Any = None
    # "kind:model_id" of the model that produced an assistant turn: replay data
    # (signatures) from another provider or model must never be sent back.
    source: str | None = None
    # Never merged into the message before it, even of the same role: the
    # chain-of-thought instructions are their own user message (reasoning.cot).
    apart: bool = False
    tool_calls: tuple[ToolCall, ...] = ()  # assistant: the calls this step made
    tool_call_id: str | None = None  # tool: the call this result answers
    name: str | None = None  # tool: the tool's name (Gemini's functionResponse needs it)
    is_error: bool = False  # tool: the call failed; `content` says why
    # assistant: `content` is the model's raw text with its reasoning between tags (the
    # Inline reasoning mode); the context builder takes the tags out before replay.
    inline: bool = False


@dataclass(frozen=True, slots=True)
class Thinking:
    mode: ThinkingMode = "default"
    effort: str | None = None  # one of EFFORT_LEVELS, or None for the model's default
    budget_tokens: int | None = None
    include_reasoning: bool = True  # ask the provider to return reasoning text where it can
    reasoning_mode: ReasoningMode = "separate"  # "hidden" implies include_reasoning=False


@dataclass(frozen=True, slots=True)
class ChatRequest:
    provider: ProviderConfig
    model: ModelSpec
    messages: Sequence[Message]
    system: str | None = None
    thinking: Thinking = Thinking()
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()  # sequences that end the answer
    # A chain-of-thought prompt's thinking instructions ("" = the default ones);
    # None for a plain prompt. Served by reasoning.cot.
    thinking_instructions: str | None = None
    # JSON Schema the final answer must match (reasoning.structured).
    response_schema: Mapping[str, Any] | None = None
    tools: tuple[ToolSpec, ...] = ()
    # "auto" | "none" | "required" | {"name": NAME} (a given tool); None = provider default
    tool_choice: str | Mapping[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    replay_policy: ReplayPolicy | None = None  # None: the catalogue's default for the model


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """The exact HTTP request an adapter will send; shown by the context inspector."""

    method: str
    url: str
    headers: Mapping[str, str]
    json: Any

    def redacted(self) -> PreparedRequest:
        secret = {"authorization", "x-api-key", "x-goog-api-key", "api-key"}
        headers = {k: ("[redacted]" if k.lower() in secret else v) for k, v in self.headers.items()}
        url = self.url.split("key=")[0] + "key=[redacted]" if "key=" in self.url else self.url
        return PreparedRequest(self.method, url, headers, self.json)
