"""OpenAI-compatible Chat Completions ("openai"): OpenAI, DeepSeek, vLLM, SGLang,
OpenRouter, Groq, Together, Baseten, Friendli, xAI, Mistral, Ollama's /v1 ….

Request: `POST {base_url}/chat/completions` with `stream: true` and
`stream_options.include_usage: true` (provider option `include_usage: false` for a
server that rejects it). Messages come from `reasoning.context.build_messages`,
thinking fields from `reasoning.controls.thinking_params`. The output cap is sent as
`max_completion_tokens` for models whose thinking control is `reasoning_effort`
(OpenAI's reasoning models reject `max_tokens`; xAI, Groq and vLLM accept both),
else as `max_tokens` (DeepSeek and most open servers); the model option
`max_tokens_field` overrides either.

Reasoning, read once per chunk, first hit wins (spec §12), so servers that send
the same text in two fields (OpenRouter: `reasoning` and `reasoning_details`) are
not counted twice:

    delta.reasoning_content → delta.reasoning → delta.reasoning_details[] (`text`, or
    `summary`; encrypted entries skipped) → delta.content as an array holding
    `{type: "thinking"}` chunks (Mistral)

`reasoning_details` are also accumulated, merged by index, and given back once as
`ReplayData({"format": "openai", "reasoning_details": [...]})` (OpenRouter wants them back unmodified).

Content: for `ReasoningStyle.MARKUP` models, `delta.content` goes through the family's
streaming parser (`reasoning.parsers.make_parser`). For `NATIVE` models a server may
still leave the tags in the text (vLLM without `--reasoning-parser`, Groq's default
`raw` format, Friendli without `parse_reasoning`): when the answer *starts* with
`<think>` (after whitespace) and no native reasoning field has been seen, the rest of
the stream is parsed as `think` markup. A `<think>` later in the answer, or after
native reasoning, is the model talking about the tag and stays content. A `</think>`
with no opening tag and no native reasoning before it (the template opened the block)
turns the answer so far into reasoning: a `Reclassified` event. With thinking off
neither happens, and a markup model's `starts_in_reasoning` is ignored. When the request
offers tools, calls the server left in the text (`<tool_call>{json}</tool_call>`,
harmony's `commentary to=functions.NAME`) become tool-call events too, numbered after
the wire's own (reasoning.parsers, `tool_calls=True`).

Tool calls (`delta.tool_calls[]`): fragments keyed by `index` (the first names the
call's `id` and `function.name`, the rest carry `function.arguments` pieces; several
calls may stream at once) become ToolCallStart / ToolCallDelta, and every call is
closed with ToolCallDone at the end of the stream. Gemini's OpenAI-compatible endpoint
sends no `index` and one whole call per chunk: those are keyed by `id`, and a call's
`extra_content` (its `thought_signature`) is kept in
`ReplayData({"format": "openai", "reasoning_details": [...], "tool_calls": [{"id",
"extra_content"}]})` to go back verbatim. A stream with calls that ends with `stop`
finishes "tool_calls" (some servers say stop). The request offers `ChatRequest.tools`
in OpenAI's shape (`reasoning.tool_calls.tool_params`).

End: `data: [DONE]`. A body that ends without it is accepted only if a
`finish_reason` was seen (some servers omit `[DONE]`); otherwise it is a
`BrokenStream`. An `error` object in a data line after HTTP 200 is raised as the
matching `ProviderError` (`reasoning.wire.error_from_payload`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any, Protocol

import httpx

from reasoning.adapters import base_url, prepare_or_refuse, register
from reasoning.context import build_context
from reasoning.controls import extra_body, merge_params, thinking_params
from reasoning.errors import BrokenStream
from reasoning.events import (
    ContentDelta,
    Event,
    Finish,
    ParsedText,
    ReasoningDelta,
    ReplayData,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStart,
    Usage,
)
from reasoning.request import ChatRequest, PreparedRequest, ReasoningStyle
from reasoning.structured import schema_params
from reasoning.tool_calls import ToolCalls, tool_params
from reasoning.wire import drain, error_from_payload, iter_sse, open_stream, parse_json_data

FINISH_REASONS: dict[str, str] = {
    "stop": "stop",
    "eos": "stop",
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "content_filter": "content_filter",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}

SNIFFED_OPEN_TAG = "<think>"


class TextParser(Protocol):
    """What `reasoning.parsers.make_parser` returns."""

    def feed(self, delta: str) -> list[ParsedText]: ...

    def close(self) -> list[ParsedText]: ...


def _make_parser(
    family: str,
    *,
    starts_in_reasoning: bool,
    tags: tuple[str, str] | None,
    reclassify: bool = False,
    close_only: bool = False,
    tool_calls: bool = False,
) -> TextParser:
    # Imported late: only markup models need it.
    from reasoning.parsers import make_parser

    parser: TextParser = make_parser(
        family,
        starts_in_reasoning=starts_in_reasoning,
        tags=tags,
        reclassify=reclassify,
        close_only=close_only,
        tool_calls=tool_calls,
    )
    return parser


def markup_parser(request: ChatRequest) -> TextParser:
    """The parser of a MARKUP model's text for this request. With thinking off the
    template opens no block, so the text is never taken for reasoning: no
    `starts_in_reasoning`, no reclassification at a stray close tag."""
    model = request.model
    thinking = request.thinking.mode != "off"
    return _make_parser(
        model.markup or "think",
        starts_in_reasoning=model.starts_in_reasoning and thinking,
        tags=model.markup_tags,
        reclassify=thinking,
        tool_calls=bool(request.tools),
    )


def usage_from(raw: Mapping[str, Any]) -> Usage:
    """OpenAI-shaped `usage`, with DeepSeek's `prompt_cache_hit_tokens` as cached tokens."""
    completion_details = raw.get("completion_tokens_details") or {}
    prompt_details = raw.get("prompt_tokens_details") or {}
    cached = prompt_details.get("cached_tokens")
    if cached is None:
        cached = raw.get("prompt_cache_hit_tokens")
    return Usage(
        prompt_tokens=raw.get("prompt_tokens"),
        completion_tokens=raw.get("completion_tokens"),
        reasoning_tokens=completion_details.get("reasoning_tokens"),
        cached_tokens=cached,
    )


class ChatStream:
    """Turns parsed Chat Completions chunks into events; one per request."""

    def __init__(self, request: ChatRequest) -> None:
        model = request.model
        self.thinking = request.thinking.mode != "off"
        inline = request.thinking.reasoning_mode == "inline"  # the raw text, tags and all
        # With tools offered, calls the server left in the text (`<tool_call>`,
        # harmony's to=functions.X) are read too (reasoning.parsers, tool_calls).
        self.text_calls = bool(request.tools)
        self.parser: TextParser | None = None
        if model.reasoning == ReasoningStyle.MARKUP and not inline:
            self.parser = markup_parser(request)
        elif inline and self.text_calls:
            self.parser = _make_parser("none", starts_in_reasoning=False, tags=None, tool_calls=True)
        # NATIVE models: hold the start of the answer until it is clear whether it
        # opens a <think> block the server failed to parse out.
        self.sniffing = model.reasoning == ReasoningStyle.NATIVE and not inline
        self.sniffed = ""
        self.native_seen = False
        self.details: list[dict[str, Any]] = []
        self.calls = ToolCalls()
        self.call_extras: list[dict[str, Any]] = []
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    def chunk(self, payload: Any) -> list[Event]:
        if not isinstance(payload, dict):
            raise BrokenStream(f"expected a JSON object chunk, got {type(payload).__name__}")
        if payload.get("error"):
            raise error_from_payload(payload)
        if isinstance(payload.get("usage"), dict):
            self.usage = usage_from(payload["usage"])
        choices = payload.get("choices") or []
        choice = next((c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0), None)
        if not isinstance(choice, dict):
            return []
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        delta = choice.get("delta") or {}
        events: list[Event] = []
        reasoning = self._reasoning(delta)
        if reasoning:
            self.native_seen = True
            if self.sniffing:
                events += self._end_sniffing(markup=False)
            events.append(ReasoningDelta(reasoning))
        content = delta.get("content")
        if isinstance(content, list):
            content = "".join(
                part.get("text") or ""
                for part in content
                if isinstance(part, dict) and part.get("type") == "text"
            )
        if isinstance(content, str) and content:
            events += self._content(content)
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            for fragment in tool_calls:
                if isinstance(fragment, dict):
                    events += self._tool_call(fragment)
        return events

    def _tool_call(self, fragment: Mapping[str, Any]) -> list[Event]:
        index = fragment.get("index")
        call_id = fragment.get("id") if isinstance(fragment.get("id"), str) else None
        raw_function = fragment.get("function")
        function: Mapping[str, Any] = raw_function if isinstance(raw_function, dict) else {}
        name = function.get("name") if isinstance(function.get("name"), str) else None
        if isinstance(index, int) and not isinstance(index, bool):
            key: Any = ("index", index)
        elif call_id:
            key = ("id", call_id)  # Gemini's endpoint: no index, one whole call per chunk
        else:
            key = ("index", 0)
        events: list[Event] = []
        if key not in self.calls:
            if self.sniffing:
                events += self._end_sniffing(markup=False)
            events += self.calls.start(key, call_id, name or "", index=index if key[0] == "index" else None)
        if fragment.get("extra_content") is not None and call_id:
            self.call_extras.append({"id": call_id, "extra_content": fragment["extra_content"]})
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            events += self.calls.add(key, arguments)
        elif isinstance(arguments, dict):  # a server that sends the object itself
            events += self.calls.add(key, json.dumps(arguments, ensure_ascii=False, separators=(",", ":")))
        return events

    def _reasoning(self, delta: Mapping[str, Any]) -> str:
        details = delta.get("reasoning_details")
        if isinstance(details, list) and details:
            self._keep_details(details)
        for key in ("reasoning_content", "reasoning"):
            value = delta.get(key)
            if isinstance(value, str) and value:
                return value
        if isinstance(details, list):
            text = "".join(_detail_text(d) for d in details if isinstance(d, dict))
            if text:
                return text
        content = delta.get("content")
        if isinstance(content, list):
            return "".join(
                _thinking_text(part)
                for part in content
                if isinstance(part, dict) and part.get("type") == "thinking"
            )
        return ""

    def _keep_details(self, details: list[Any]) -> None:
        for entry in details:
            if not isinstance(entry, dict):
                continue
            index = entry.get("index")
            same = [
                kept
                for kept in self.details
                if kept.get("type") == entry.get("type")
                and (kept.get("index") == index if index is not None else kept is self.details[-1])
            ]
            if not same:
                self.details.append(dict(entry))
                continue
            kept = same[-1]
            for key, value in entry.items():
                if key in ("text", "summary", "data") and isinstance(value, str):
                    kept[key] = (kept.get(key) or "") + value
                elif value is not None:
                    kept[key] = value

    def _content(self, text: str) -> list[Event]:
        if self.sniffing:
            self.sniffed += text
            head = self.sniffed.lstrip()
            if head.startswith(SNIFFED_OPEN_TAG):
                return self._end_sniffing(markup=True)
            if SNIFFED_OPEN_TAG.startswith(head):  # still could be "<thi…", or only whitespace
                return []
            return self._end_sniffing(markup=False)
        if self.parser is not None:
            return self._route(self.parser.feed(text))
        return [ContentDelta(text)]

    def _route(self, parsed: list[ParsedText]) -> list[Event]:
        """Parser output; calls read from the text are numbered with the wire's own."""
        events: list[Event] = []
        for event in parsed:
            if isinstance(event, ToolCallStart):
                events += self.calls.start(("text", event.index), event.id, event.name)
            elif isinstance(event, ToolCallDelta):
                events += self.calls.add(("text", event.index), event.arguments)
            elif isinstance(event, ToolCallDone):
                events += self.calls.done(("text", event.index), event.arguments)
            else:
                events.append(event)
        return events

    def _end_sniffing(self, *, markup: bool) -> list[Event]:
        self.sniffing = False
        held, self.sniffed = self.sniffed, ""
        calls = self.text_calls
        if markup and not self.native_seen:
            self.parser = _make_parser(
                "think", starts_in_reasoning=False, tags=None, reclassify=self.thinking, tool_calls=calls
            )
        elif not self.native_seen and self.thinking:
            # No reasoning field and no opening tag: the template may have opened the
            # block itself (DeepSeek-R1, Qwen3 on a server without a reasoning parser),
            # so a `</think>` turns the answer so far into reasoning.
            self.parser = _make_parser("think", starts_in_reasoning=False, tags=None, close_only=True, tool_calls=calls)
        elif calls:
            self.parser = _make_parser("none", starts_in_reasoning=False, tags=None, tool_calls=True)
        if not held:
            return []
        return self._content(held)

    def close(self) -> list[Event]:
        events: list[Event] = []
        if self.sniffing:
            events += self._end_sniffing(markup=False)
        if self.parser is not None:
            events += self._route(self.parser.close())
        events += self.calls.done_all()
        if self.details or self.call_extras:
            payload: dict[str, Any] = {"format": "openai", "reasoning_details": self.details}
            if self.call_extras:
                payload["tool_calls"] = self.call_extras
            events.append(ReplayData(payload))
        if self.usage is not None:
            events.append(self.usage)
        reason = self.finish_reason
        finish = FINISH_REASONS.get(reason, reason) if reason else None
        if self.calls and finish in ("stop", None):
            finish = "tool_calls"
        events.append(Finish(finish))
        return events


def _detail_text(detail: Mapping[str, Any]) -> str:
    kind = detail.get("type")
    if kind == "reasoning.encrypted":
        return ""
    value = detail.get("summary") if kind == "reasoning.summary" else detail.get("text")
    return value if isinstance(value, str) else ""


def _thinking_text(part: Mapping[str, Any]) -> str:
    thinking = part.get("thinking")
    if isinstance(thinking, str):
        return thinking
    if isinstance(thinking, list):
        return "".join(
            t.get("text") or "" for t in thinking if isinstance(t, dict) and t.get("type") == "text"
        )
    return ""


def base_headers(request: ChatRequest) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": "text/event-stream"}
    if request.provider.api_key:
        headers["authorization"] = f"Bearer {request.provider.api_key}"
    extra = request.provider.options.get("headers")
    if isinstance(extra, Mapping):
        headers.update({str(k): str(v) for k, v in extra.items()})
    return headers


def max_tokens_field(request: ChatRequest) -> str:
    explicit = request.model.options.get("max_tokens_field")
    if explicit in ("max_tokens", "max_completion_tokens"):
        return str(explicit)
    if request.model.thinking_control == "reasoning_effort":
        return "max_completion_tokens"
    return "max_tokens"


@register("openai")
class OpenAICompatAdapter:
    def prepare(self, request: ChatRequest) -> PreparedRequest:
        body: dict[str, Any] = {
            "model": request.model.model_id,
            **build_context(request, "openai"),
            "stream": True,
        }
        if request.provider.options.get("include_usage", True):
            body["stream_options"] = {"include_usage": True}
        if request.max_tokens is not None:
            body[max_tokens_field(request)] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.stop:
            body["stop"] = list(request.stop)
        merge_params(body, thinking_params(request))
        merge_params(body, schema_params(request))
        merge_params(body, tool_params(request, "openai"))
        merge_params(body, extra_body(request))
        url = base_url(request.provider.kind, request.provider.base_url) + "/chat/completions"
        return PreparedRequest("POST", url, base_headers(request), body)

    async def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]:
        prepared = prepare_or_refuse(self, request)
        reader = ChatStream(request)
        done = False
        async with (
            open_stream(client, prepared) as response,
            aclosing(iter_sse(response)) as events,
        ):
            async for event in events:
                if event.data == "[DONE]":
                    done = True
                    break
                if not event.data.strip():
                    continue
                for item in reader.chunk(parse_json_data(event.data)):
                    yield item
            if done:
                await drain(events)
        if not done and reader.finish_reason is None:
            raise BrokenStream("stream ended before its end marker")
        for item in reader.close():
            yield item
