"""Ollama native chat (`POST {base_url}/api/chat`, NDJSON), spec §7.

One JSON object per line:

    message.thinking                  ReasoningDelta
    message.content                   ContentDelta; for a MARKUP model (an old Ollama,
                                      or a model it has no parser for, leaving `<think>`
                                      in the text) parsed with reasoning.parsers
    message.tool_calls[]              each call whole: ToolCallStart, one ToolCallDelta
                                      (`function.arguments`, an object, as JSON),
                                      ToolCallDone; id = the call's `id` when Ollama
                                      sends one, else one we make; index =
                                      `function.index` when given, else the order
    "done": true                      Usage (prompt_eval_count, eval_count; no
                                      reasoning count exists, so None) and
                                      Finish(done_reason: stop, length, …)
    {"error": "..."}                  ProviderError with Ollama's message
    the stream ends without done      BrokenStream

A step with tool calls finishes "tool_calls" (Ollama says stop). The request offers
`ChatRequest.tools` as `tools: [{type: function, function}]`; Ollama has no
tool_choice or parallel switch (refused, reasoning.tool_calls).

Thinking is switched with `think` (reasoning.controls, `ollama_think`). `max_tokens`
and `temperature` go in `options` as `num_predict` and `temperature`. An API key,
when set (a hosted Ollama or a proxy), is sent as a bearer token.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

import httpx

from reasoning.adapters import prepare_or_refuse, register
from reasoning.context import build_context
from reasoning.controls import extra_body, merge_params, thinking_params
from reasoning.errors import BrokenStream
from reasoning.events import (
    ContentDelta,
    Event,
    Finish,
    ParsedText,
    ReasoningDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStart,
    Usage,
)
from reasoning.request import ChatRequest, PreparedRequest, ReasoningStyle
from reasoning.structured import schema_params
from reasoning.tool_calls import ToolCalls, tool_params
from reasoning.wire import error_from_payload, iter_ndjson, open_stream

DEFAULT_BASE_URL = "http://localhost:11434"


class _Parser(Protocol):
    def feed(self, delta: str) -> list[ParsedText]: ...

    def close(self) -> list[ParsedText]: ...


def chat_url(base_url: str) -> str:
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    # A base copied from the OpenAI-compatible setup (`…/v1`) or ending in /api.
    base = base.removesuffix("/v1").removesuffix("/api")
    return f"{base}/api/chat"


@register("ollama")
class OllamaAdapter:
    def prepare(self, request: ChatRequest) -> PreparedRequest:
        provider = request.provider
        headers = {
            "content-type": "application/json",
            "accept": "application/x-ndjson",
            **dict(provider.options.get("headers", {})),
        }
        if provider.api_key:
            headers["authorization"] = f"Bearer {provider.api_key}"
        body: dict[str, Any] = {"model": request.model.model_id}
        body.update(build_context(request, "ollama"))
        options: dict[str, Any] = {}
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.top_p is not None:
            options["top_p"] = request.top_p
        if request.stop:
            options["stop"] = list(request.stop)
        if options:
            body["options"] = options
        merge_params(body, thinking_params(request))
        merge_params(body, schema_params(request))
        merge_params(body, tool_params(request, "ollama"))
        merge_params(body, extra_body(request))
        body["stream"] = True
        return PreparedRequest("POST", chat_url(provider.base_url), headers, body)

    async def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]:
        prepared = prepare_or_refuse(self, request)
        parser = _markup_parser(request)
        final: dict[str, Any] | None = None
        calls = ToolCalls()
        async with open_stream(client, prepared) as response:
            async for line in iter_ndjson(response):
                if "error" in line:
                    raise error_from_payload(line)
                message = line.get("message")
                if isinstance(message, dict):
                    thinking = message.get("thinking")
                    if isinstance(thinking, str) and thinking:
                        yield ReasoningDelta(thinking)
                    content = message.get("content")
                    if isinstance(content, str) and content:
                        if parser is None:
                            yield ContentDelta(content)
                        else:
                            for event in _route(calls, parser.feed(content)):
                                yield event
                    for call_event in _tool_calls(calls, message.get("tool_calls")):
                        yield call_event
                if line.get("done") is True:
                    final = line
                    break
        if final is None:
            raise BrokenStream("the Ollama stream ended without a done line")
        if parser is not None:
            for event in _route(calls, parser.close()):
                yield event
        yield Usage(
            prompt_tokens=_count(final.get("prompt_eval_count")),
            completion_tokens=_count(final.get("eval_count")),
        )
        reason = final.get("done_reason")
        # Older Ollama releases end a normal answer with no done_reason at all.
        finish = reason if isinstance(reason, str) and reason else "stop"
        yield Finish("tool_calls" if calls and finish == "stop" else finish)


def _tool_calls(calls: ToolCalls, wire: Any) -> list[Event]:
    events: list[Event] = []
    for call in wire if isinstance(wire, list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        index = function.get("index")
        index = index if isinstance(index, int) and not isinstance(index, bool) else None
        wire_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else None
        name = str(function.get("name") or "")
        events += calls.whole(calls.count, wire_id, name, function.get("arguments"), index=index)
    return events


def _route(calls: ToolCalls, parsed: list[ParsedText]) -> list[Event]:
    """Parser output; calls read from the text are numbered after the wire's own."""
    events: list[Event] = []
    for event in parsed:
        if isinstance(event, ToolCallStart):
            events += calls.start(("text", event.index), event.id, event.name)
        elif isinstance(event, ToolCallDelta):
            events += calls.add(("text", event.index), event.arguments)
        elif isinstance(event, ToolCallDone):
            events += calls.done(("text", event.index), event.arguments)
        else:
            events.append(event)
    return events


def _markup_parser(request: ChatRequest) -> _Parser | None:
    model = request.model
    # Imported here: the parsers module is only needed for markup models and tools.
    parsers = importlib.import_module("reasoning.parsers")
    if model.reasoning != ReasoningStyle.MARKUP or request.thinking.reasoning_mode == "inline":
        if request.tools:
            # A model Ollama has no tool parser for leaves `<tool_call>` in the text.
            plain: _Parser = parsers.make_parser("none", tool_calls=True)
            return plain
        return None
    # With thinking off the template opens no block: the text is never reasoning.
    thinking = request.thinking.mode != "off"
    parser: _Parser = parsers.make_parser(
        model.markup or "think",
        starts_in_reasoning=model.starts_in_reasoning and thinking,
        tags=model.markup_tags,
        reclassify=thinking,
        tool_calls=bool(request.tools),
    )
    return parser


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
