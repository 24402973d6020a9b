"""Google Gemini (`POST {base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse`),
spec §5.

Every `data:` line is a whole GenerateContentResponse holding only the new parts:

    part with "thought": true               ReasoningDelta (thought summaries)
    other part with text                    ContentDelta
    part with "functionCall" {name, args}   ToolCallStart, one ToolCallDelta (args as
                                            JSON), ToolCallDone; id = functionCall.id when
                                            Gemini sends one, else one we make
    "thoughtSignature" on any part          after the stream, one ReplayData({"format":
                                            "gemini", "parts": [...], "call_ids": [...]})
                                            with the parts as received (thought parts
                                            without a signature left out: they are never
                                            sent back; adjacent unsigned answer-text parts
                                            merged into one, so an answer is one part, not
                                            one per chunk); `call_ids` names the call id
                                            of each functionCall part, in order, so the
                                            part, signature and all, goes back verbatim
                                            for that call (reasoning.replay.function_call_parts)
    usageMetadata (the last one wins)       Usage: prompt = promptTokenCount, reasoning =
                                            thoughtsTokenCount, completion =
                                            candidatesTokenCount + thoughtsTokenCount
                                            (Gemini counts thoughts apart, §5/§11),
                                            cached = cachedContentTokenCount
    finishReason                            Finish (STOP → stop, MAX_TOKENS → length,
                                            SAFETY and the other blocks → content_filter)
    promptFeedback.blockReason, no answer   Finish("content_filter")
    {"error": {...}} inside the stream      the ProviderError its status names

A step with function calls finishes "tool_calls" (Gemini says STOP). Thought parts
between calls stay ReasoningDelta (interleaved thinking). The request offers
`ChatRequest.tools` as `tools: [{functionDeclarations}]` and `toolConfig`
(`reasoning.tool_calls.tool_params`).

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
from reasoning.events import ContentDelta, Event, Finish, ReasoningDelta, ReplayData, ToolCallStart, Usage
from reasoning.request import ChatRequest, PreparedRequest
from reasoning.structured import schema_params
from reasoning.tool_calls import ToolCalls, tool_params
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
        merge_params(body, tool_params(request, "gemini"))
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
        self.calls = ToolCalls()
        self.call_ids: list[str] = []

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
            call = part.get("functionCall")
            if isinstance(call, dict):
                key = self.calls.count
                wire_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else None
                events += self.calls.whole(key, wire_id, str(call.get("name") or ""), call.get("args") or {})
                self.call_ids.append(self._call_id(events))
            if part.get("thoughtSignature"):
                self.signed = True
            if not is_thought or part.get("thoughtSignature"):
                self._keep(part)
        reason = candidate.get("finishReason")
        if isinstance(reason, str) and reason:
            self.finish_reason = FINISH_REASONS.get(reason, reason.lower())
            self.finished = True
        return events

    @staticmethod
    def _call_id(events: list[Event]) -> str:
        starts = [e for e in events if isinstance(e, ToolCallStart)]
        return starts[-1].id

    def _keep(self, part: dict[str, Any]) -> None:
        # An answer streamed in many chunks is stored as one text part: adjacent
        # plain text parts (no signature, no thought, nothing else) are merged.
        last = self.kept_parts[-1] if self.kept_parts else None
        if last is not None and _plain_text(last) and _plain_text(part):
            self.kept_parts[-1] = {"text": last["text"] + part["text"]}
        else:
            self.kept_parts.append(part)

    def finish(self) -> list[Event]:
        events: list[Event] = []
        if self.signed:
            payload: dict[str, Any] = {"format": "gemini", "parts": self.kept_parts}
            if self.call_ids:
                payload["call_ids"] = self.call_ids
            events.append(ReplayData(payload))
        if self.usage is not None:
            events.append(_usage(self.usage))
        reason = self.finish_reason
        events.append(Finish("tool_calls" if self.calls and reason == "stop" else reason))
        return events


def _plain_text(part: dict[str, Any]) -> bool:
    return set(part) == {"text"} and isinstance(part["text"], str)


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
