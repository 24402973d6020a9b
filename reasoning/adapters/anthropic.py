"""Anthropic Messages API (`POST {base_url}/v1/messages`, streamed), spec §4.

Stream → events:

    content_block_delta thinking_delta      ReasoningDelta
    content_block_delta text_delta          ContentDelta
    content_block_start tool_use            ToolCallStart(index = the call's order in
                                            the message, id = the block's toolu_ id)
    content_block_delta input_json_delta    ToolCallDelta (partial_json pieces)
    content_block_stop of a tool_use        ToolCallDone (arguments "{}" when none came)
    signature_delta, redacted_thinking      kept; after message_stop one
                                            ReplayData({"format": "anthropic",
                                            "content": [blocks as received]}) when the
                                            message had thinking or redacted blocks
                                            (tool_use blocks in it carry `input` as the
                                            parsed object, as the API wants them back)
    message_start / message_delta usage     Usage (message_delta values are cumulative)
    message_delta stop_reason               Finish (end_turn → stop, max_tokens → length,
                                            refusal → content_filter, …)
    ping                                    ignored
    error (after HTTP 200)                  the ProviderError its type names
                                            (overloaded_error → Unavailable, …)
    the stream ends before message_stop     BrokenStream

Usage: `prompt_tokens` = input_tokens + cache_read_input_tokens +
cache_creation_input_tokens (Anthropic counts cached input apart; everywhere else the
prompt count includes it), `cached_tokens` = cache_read_input_tokens,
`completion_tokens` = output_tokens (thinking included, §4), `reasoning_tokens` =
output_tokens_details.thinking_tokens when the API reports it, else None: an estimate
from the visible text would undercount summarised thinking, so none is invented.

Interleaved thinking (thinking → tool_use → thinking → tool_use) streams as
ReasoningDelta, call, ReasoningDelta, call, in block order. stop_reason `tool_use`
finishes "tool_calls". The request offers `ChatRequest.tools` as `tools: [{name,
description, input_schema}]` and `tool_choice` (`reasoning.tool_calls.tool_params`).

`max_tokens` is required: `request.max_tokens`, else 16000, else what the thinking
budget needs (see reasoning.controls).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from reasoning.adapters import prepare_or_refuse, register
from reasoning.context import build_context, prefix_digest, rule_of
from reasoning.controls import ANTHROPIC_DEFAULT_MAX_TOKENS, extra_body, merge_params, thinking_params
from reasoning.errors import BrokenStream
from reasoning.events import (
    ContentDelta,
    Event,
    Finish,
    ReasoningDelta,
    ReplayData,
    Usage,
)
from reasoning.request import ChatRequest, PreparedRequest
from reasoning.structured import schema_params
from reasoning.tool_calls import ToolCalls, arguments_text, tool_params
from reasoning.wire import error_from_payload, iter_sse, open_stream, parse_json_data

DEFAULT_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
STOP_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
    "tool_use": "tool_calls",
    "pause_turn": "pause",
}
_REPLAYED_BLOCKS = frozenset({"thinking", "redacted_thinking"})


def messages_url(base_url: str) -> str:
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    return f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages"


@register("anthropic")
class AnthropicAdapter:
    def prepare(self, request: ChatRequest) -> PreparedRequest:
        provider = request.provider
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "anthropic-version": ANTHROPIC_VERSION,
            **dict(provider.options.get("headers", {})),
        }
        if provider.api_key:
            headers["x-api-key"] = provider.api_key
        body: dict[str, Any] = {
            "model": request.model.model_id,
            "max_tokens": request.max_tokens or ANTHROPIC_DEFAULT_MAX_TOKENS,
        }
        body.update(build_context(request, "anthropic"))
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            # The Messages API of the 2026 SDK (anthropic 2.x) declares no top_p.
            raise ValueError("top_p is not supported for Anthropic models")
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        merge_params(body, thinking_params(request))
        merge_params(body, schema_params(request))
        merge_params(body, tool_params(request, "anthropic"))
        merge_params(body, extra_body(request))
        body["stream"] = True
        bind_thinking(request, body, headers)
        return PreparedRequest("POST", messages_url(provider.base_url), headers, body)

    async def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]:
        prepared = prepare_or_refuse(self, request)
        # Stored with the replay data: a prefix-bound model's thinking goes back only
        # after this very prefix (reasoning.context, Claude Fable 5.1+).
        body = prepared.json
        reader = _MessageReader(prefix_digest(body.get("system"), request.tools, body.get("messages") or []))
        async with open_stream(client, prepared) as response:
            async for sse in iter_sse(response):
                for event in reader.read(sse.event, sse.data):
                    yield event
                if reader.stopped:
                    break
        if not reader.stopped:
            raise BrokenStream("the Anthropic stream ended before message_stop")
        for event in reader.finish():
            yield event


BINDING_BETA = "thinking-binding-controls-2026-08-01"


def bind_thinking(request: ChatRequest, body: dict[str, Any], headers: dict[str, str]) -> None:
    """For a prefix-bound model (Claude Fable 5.1+, spec §13) with thinking on, ask the
    API to drop, not refuse, a thinking block whose prefix changed. The context already
    leaves such blocks out (reasoning.context); this covers a change it cannot see."""
    thinking = body.get("thinking")
    if not (rule_of(request).prefix_binding and isinstance(thinking, dict)
            and thinking.get("type") in ("enabled", "adaptive")):
        return
    thinking.setdefault("block_binding", {"prefix_mismatch_behavior": "drop_block"})
    betas = [b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()]
    if BINDING_BETA not in betas:
        headers["anthropic-beta"] = ",".join([*betas, BINDING_BETA])


class _MessageReader:
    """Turns Messages API stream events into reasoning events, keeping the blocks."""

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix
        self.blocks: dict[int, dict[str, Any]] = {}
        # Streamed text kept as pieces per (block index, field) and joined once at the
        # end: appending to one growing string would make a long answer quadratic.
        self.pieces: dict[tuple[int, str], list[str]] = {}
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self.stopped = False
        self.calls = ToolCalls()

    def read(self, name: str | None, data: str) -> list[Event]:
        payload = parse_json_data(data)
        if not isinstance(payload, dict):
            raise BrokenStream(f"unexpected Anthropic event: {data[:200]!r}")
        kind = payload.get("type", name)
        if kind == "content_block_delta":
            return self._delta(payload)
        if kind == "content_block_start":
            block = payload.get("content_block")
            if isinstance(block, dict):
                index = int(payload.get("index", len(self.blocks)))
                self.blocks[index] = dict(block)
                if block.get("type") == "tool_use":
                    return self.calls.start(index, str(block.get("id") or "") or None, str(block.get("name") or ""))
                # Blocks normally start empty; text already present is shown all the same.
                if block.get("type") == "thinking" and block.get("thinking"):
                    return [ReasoningDelta(str(block["thinking"]))]
                if block.get("type") == "text" and block.get("text"):
                    return [ContentDelta(str(block["text"]))]
            return []
        if kind == "message_start":
            message = payload.get("message")
            if isinstance(message, dict) and isinstance(message.get("usage"), dict):
                self.usage.update(message["usage"])
            return []
        if kind == "message_delta":
            delta = payload.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason"):
                self.stop_reason = str(delta["stop_reason"])
            if isinstance(payload.get("usage"), dict):
                # Cumulative counts: later values replace earlier ones.
                self.usage.update({k: v for k, v in payload["usage"].items() if v is not None})
            return []
        if kind == "message_stop":
            self.stopped = True
            return []
        if kind == "error":
            raise error_from_payload(payload)
        if kind == "content_block_stop":
            index = int(payload.get("index", 0))
            if index in self.calls:
                return self.calls.done(index, self._arguments(index))
        return []  # ping, and event types added later

    def _arguments(self, index: int) -> str:
        streamed = "".join(self.pieces.get((index, "partial_json"), ()))
        if streamed:
            return streamed
        # No input_json_delta: the input came whole in content_block_start (or is empty).
        return arguments_text(self.blocks[index].get("input") or {})

    def _delta(self, payload: dict[str, Any]) -> list[Event]:
        delta = payload.get("delta")
        if not isinstance(delta, dict):
            return []
        index = int(payload.get("index", 0))
        block = self.blocks.setdefault(index, {})
        kind = delta.get("type")
        if kind == "thinking_delta":
            text = str(delta.get("thinking", ""))
            block.setdefault("type", "thinking")
            self.pieces.setdefault((index, "thinking"), []).append(text)
            return [ReasoningDelta(text)] if text else []
        if kind == "text_delta":
            text = str(delta.get("text", ""))
            block.setdefault("type", "text")
            self.pieces.setdefault((index, "text"), []).append(text)
            return [ContentDelta(text)] if text else []
        if kind == "signature_delta":
            self.pieces.setdefault((index, "signature"), []).append(str(delta.get("signature", "")))
        elif kind == "input_json_delta":
            piece = str(delta.get("partial_json", ""))
            self.pieces.setdefault((index, "partial_json"), []).append(piece)
            return self.calls.add(index, piece)
        return []

    def finish(self) -> list[Event]:
        events: list[Event] = []
        for index in list(self.blocks):
            if index in self.calls:
                events += self.calls.done(index, self._arguments(index))
        for (index, key), pieces in self.pieces.items():
            block = self.blocks[index]
            if key == "partial_json":
                # Sent back as `input`, the object the streamed JSON spells.
                try:
                    block["input"] = json.loads("".join(pieces) or "{}")
                except ValueError:
                    block["input"] = {}
                continue
            block[key] = str(block.get(key) or "") + "".join(pieces)
        content = [self.blocks[i] for i in sorted(self.blocks)]
        if any(block.get("type") in _REPLAYED_BLOCKS for block in content):
            payload: dict[str, Any] = {"format": "anthropic", "content": content}
            if self.prefix:
                payload["prefix"] = self.prefix
            events.append(ReplayData(payload))
        if self.usage:
            events.append(_usage(self.usage))
        reason = self.stop_reason
        events.append(Finish(STOP_REASONS.get(reason, reason) if reason else None))
        return events


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _usage(raw: dict[str, Any]) -> Usage:
    parts = [
        _count(raw.get(key))
        for key in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    ]
    known = [p for p in parts if p is not None]
    details = raw.get("output_tokens_details")
    thinking = _count(details.get("thinking_tokens")) if isinstance(details, dict) else None
    return Usage(
        prompt_tokens=sum(known) if known else None,
        completion_tokens=_count(raw.get("output_tokens")),
        reasoning_tokens=thinking,
        cached_tokens=parts[1],
    )
