"""Google Gemini (`POST {base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse`),
spec §5.

Every `data:` line is a whole GenerateContentResponse holding only the new parts:

    part with "thought": true               ReasoningDelta (thought summaries)
    other part with text                    ContentDelta
    "thoughtSignature" on any part          after the stream, one ReplayData({"format":
                                            "gemini", "parts": [...]}) with the parts as
                                            received (thought parts without a signature
                                            left out: they are never sent back)
    usageMetadata (the last one wins)       Usage: prompt = promptTokenCount, reasoning =
                                            thoughtsTokenCount, completion =
                                            candidatesTokenCount + thoughtsTokenCount
                                            (Gemini counts thoughts apart, §5/§11),
                                            cached = cachedContentTokenCount
    finishReason                            Finish (STOP → stop, MAX_TOKENS → length,
                                            SAFETY and the other blocks → content_filter)
    promptFeedback.blockReason, no answer   Finish("content_filter")
    {"error": {...}} inside the stream      the ProviderError its status names

There is no `[DONE]`: the stream ends when the socket closes. If it closes before
any finishReason (or prompt block) arrived, the answer may be cut: BrokenStream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from reasoning.adapters import prepare_or_refuse, register
from reasoning.context import build_context
from reasoning.controls import extra_body, merge_params, thinking_params
from reasoning.errors import BrokenStream
from reasoning.events import ContentDelta, Event, Finish, ReasoningDelta, ReplayData, Usage
from reasoning.request import ChatRequest, PreparedRequest
from reasoning.structured import schema_params
from reasoning.wire import error_from_payload, iter_sse, open_stream, parse_json_data

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
FINISH_REASONS: dict[str, str | None] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "LANGUAGE": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "OTHER": "other",
    "FINISH_REASON_UNSPECIFIED": None,
}


def stream_url(base_url: str, model_id: str) -> str:
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    if not base.endswith(("/v1beta", "/v1", "/v1alpha")):
        base += "/v1beta"
    model = model_id.removeprefix("models/")
    return f"{base}/models/{model}:streamGenerateContent?alt=sse"


@register("gemini")
class GeminiAdapter:
    def prepare(self, request: ChatRequest) -> PreparedRequest:
        provider = request.provider
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            **dict(provider.options.get("headers", {})),
        }
        if provider.api_key:
            headers["x-goog-api-key"] = provider.api_key
        body: dict[str, Any] = build_context(request, "gemini")
        generation: dict[str, Any] = {}
        if request.max_tokens is not None:
            generation["maxOutputTokens"] = request.max_tokens
        if request.temperature is not None:
            generation["temperature"] = request.temperature
        if request.top_p is not None:
            generation["topP"] = request.top_p
        if request.stop:
            generation["stopSequences"] = list(request.stop)
        if generation:
            body["generationConfig"] = generation
        merge_params(body, thinking_params(request))
        merge_params(body, schema_params(request))
        merge_params(body, extra_body(request))
        url = stream_url(provider.base_url, request.model.model_id)
        return PreparedRequest("POST", url, headers, body)

    async def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]:
        prepared = prepare_or_refuse(self, request)
        reader = _ResponseReader()
        async with open_stream(client, prepared) as response:
            async for sse in iter_sse(response):
                for event in reader.read(sse.data):
                    yield event
        if not reader.finished:
            raise BrokenStream("the Gemini stream closed before a finishReason")
        for event in reader.finish():
            yield event


class _ResponseReader:
    def __init__(self) -> None:
        self.kept_parts: list[dict[str, Any]] = []
        self.signed = False
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self.finished = False

    def read(self, data: str) -> list[Event]:
        chunk = parse_json_data(data)
        if isinstance(chunk, list) and len(chunk) == 1:
            chunk = chunk[0]  # some proxies wrap a chunk (or an error) in a list
        if not isinstance(chunk, dict):
            raise BrokenStream(f"unexpected Gemini chunk: {data[:200]!r}")
        if "error" in chunk:
            raise error_from_payload(chunk)
        if isinstance(chunk.get("usageMetadata"), dict):
            self.usage = chunk["usageMetadata"]
        feedback = chunk.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            self.finish_reason = "content_filter"
            self.finished = True
        events: list[Event] = []
        candidates = chunk.get("candidates")
        if not isinstance(candidates, list) or not candidates:
            return events
        candidate = candidates[0]  # we never ask for more than one
        if not isinstance(candidate, dict):
            return events
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, dict):
                continue
            text = part.get("text")
            is_thought = bool(part.get("thought"))
            if isinstance(text, str) and text:
                events.append(ReasoningDelta(text) if is_thought else ContentDelta(text))
            if part.get("thoughtSignature"):
                self.signed = True
            if not is_thought or part.get("thoughtSignature"):
                self.kept_parts.append(part)
        reason = candidate.get("finishReason")
        if isinstance(reason, str) and reason:
            self.finish_reason = FINISH_REASONS.get(reason, reason.lower())
            self.finished = True
        return events

    def finish(self) -> list[Event]:
        events: list[Event] = []
        if self.signed:
            events.append(ReplayData({"format": "gemini", "parts": self.kept_parts}))
        if self.usage is not None:
            events.append(_usage(self.usage))
        events.append(Finish(self.finish_reason))
        return events


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _usage(raw: dict[str, Any]) -> Usage:
    candidates = _count(raw.get("candidatesTokenCount"))
    thoughts = _count(raw.get("thoughtsTokenCount"))
    completion = None
    if candidates is not None or thoughts is not None:
        completion = (candidates or 0) + (thoughts or 0)
    return Usage(
        prompt_tokens=_count(raw.get("promptTokenCount")),
        completion_tokens=completion,
        reasoning_tokens=thoughts,
        cached_tokens=_count(raw.get("cachedContentTokenCount")),
    )
