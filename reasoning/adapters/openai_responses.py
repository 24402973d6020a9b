"""OpenAI Responses API ("openai-responses"), spec §2.

Request: `POST {base_url}/responses` with `input` (from
`reasoning.context.build_context(request, "responses")`, with `previous_response_id`
when the model option of that name is set), `stream: true`, `store: false` (true with
that option) and, unless the model does not reason (`ReasoningStyle.NONE`),
`include: ["reasoning.encrypted_content"]` so reasoning items can be replayed without
server-side storage. `reasoning: {effort, summary: "auto"}` comes from
`reasoning.controls.thinking_params` (thinking control `responses`). The output cap
is `max_output_tokens`.

Events read (everything else, e.g. `response.created`, `*.added`, `*.done` texts, is
ignored since the deltas already carried it):

    response.reasoning_summary_text.delta   ReasoningDelta; summary parts (and separate
    response.reasoning_text.delta           reasoning items) joined by "\\n\\n"
    response.output_text.delta              ContentDelta
    response.refusal.delta                  ContentDelta (a refusal is the answer)
    response.output_item.added function_call ToolCallStart(index = the call's order,
                                            id = the item's `call_id`)
    response.function_call_arguments.delta  ToolCallDelta
    response.function_call_arguments.done   ToolCallDone (its `arguments` win)
    response.output_item.done               kept; when any reasoning or function_call
                                            item came, all items
                                            are given back once as
                                            ReplayData({"format": "responses", "items":
                                            [...], "response_id": id}) to send back
                                            verbatim with the next request
    response.completed                      Usage, Finish("stop"; "tool_calls" when
                                            the output has function calls)
    response.incomplete                     Usage, Finish("length" for max_output_tokens,
                                            else the reason given)
    response.failed, error                  the matching ProviderError

The request offers `ChatRequest.tools` as `tools: [{type: function, name, ...}]`
(`reasoning.tool_calls.tool_params`).

A body that ends before a terminal event is a `BrokenStream`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

import httpx

from reasoning.adapters import base_url, prepare_or_refuse, register
from reasoning.adapters.openai_compat import base_headers
from reasoning.context import build_context
from reasoning.controls import extra_body, merge_params, thinking_params
from reasoning.errors import BrokenStream
from reasoning.events import ContentDelta, Event, Finish, ReasoningDelta, ReplayData, Usage
from reasoning.request import ChatRequest, PreparedRequest, ReasoningStyle
from reasoning.structured import schema_params
from reasoning.tool_calls import ToolCalls, tool_params
from reasoning.wire import drain, error_from_payload, iter_sse, open_stream, parse_json_data

INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}
TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def usage_from(raw: Mapping[str, Any]) -> Usage:
    output_details = raw.get("output_tokens_details") or {}
    input_details = raw.get("input_tokens_details") or {}
    return Usage(
        prompt_tokens=raw.get("input_tokens"),
        completion_tokens=raw.get("output_tokens"),
        reasoning_tokens=output_details.get("reasoning_tokens"),
        cached_tokens=input_details.get("cached_tokens"),
    )


class ResponsesStream:
    """Turns parsed Responses API events into our events; one per request."""

    def __init__(self) -> None:
        self.last_part: tuple[Any, ...] | None = None
        self.items: dict[int, dict[str, Any]] = {}
        self.ended: list[Event] | None = None
        self.calls = ToolCalls()

    def event(self, payload: Any) -> list[Event]:
        if not isinstance(payload, dict):
            raise BrokenStream(f"expected a JSON object event, got {type(payload).__name__}")
        kind = payload.get("type")
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            index = payload.get("summary_index", payload.get("content_index"))
            return self._reasoning((kind, payload.get("item_id"), index), payload.get("delta"))
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            delta = payload.get("delta")
            return [ContentDelta(delta)] if isinstance(delta, str) and delta else []
        if kind == "response.output_item.added":
            item = payload.get("item")
            if isinstance(item, dict) and item.get("type") == "function_call":
                return self.calls.start(
                    item.get("id") or item.get("call_id"), item.get("call_id"), str(item.get("name") or "")
                )
            return []
        if kind == "response.function_call_arguments.delta":
            delta = payload.get("delta")
            return self.calls.add(payload.get("item_id"), delta) if isinstance(delta, str) else []
        if kind == "response.function_call_arguments.done":
            arguments = payload.get("arguments")
            return self.calls.done(payload.get("item_id"), arguments if isinstance(arguments, str) else None)
        if kind == "response.output_item.done":
            item = payload.get("item")
            events: list[Event] = []
            if isinstance(item, dict):
                self.items[int(payload.get("output_index", len(self.items)))] = item
                if item.get("type") == "function_call":
                    key = item.get("id") or item.get("call_id")
                    # A call seen only here (no .added event) still reaches the caller.
                    events += self.calls.start(key, item.get("call_id"), str(item.get("name") or ""))
                    arguments = item.get("arguments")
                    events += self.calls.done(key, arguments if isinstance(arguments, str) else None)
            return events
        if kind == "error":
            raise error_from_payload(payload)
        if kind in TERMINAL:
            return self._end(kind, payload.get("response") or {})
        return []

    def _reasoning(self, part: tuple[Any, ...], delta: Any) -> list[Event]:
        if not isinstance(delta, str) or not delta:
            return []
        if self.last_part is not None and part != self.last_part:
            delta = "\n\n" + delta
        self.last_part = part
        return [ReasoningDelta(delta)]

    def _end(self, kind: str, response: Mapping[str, Any]) -> list[Event]:
        if kind == "response.failed":
            error = response.get("error") or {"message": "the response failed"}
            raise error_from_payload({"error": error})
        events: list[Event] = []
        items = [self.items[i] for i in sorted(self.items)]
        if not items and isinstance(response.get("output"), list):
            items = [item for item in response["output"] if isinstance(item, dict)]
        events += self.calls.done_all()
        if any(item.get("type") in ("reasoning", "function_call") for item in items):
            payload: dict[str, Any] = {"format": "responses", "items": items}
            if isinstance(response.get("id"), str):
                payload["response_id"] = response["id"]
            events.append(ReplayData(payload))
        if isinstance(response.get("usage"), dict):
            events.append(usage_from(response["usage"]))
        if kind == "response.incomplete":
            reason = (response.get("incomplete_details") or {}).get("reason")
            events.append(Finish(INCOMPLETE_REASONS.get(reason, reason) if reason else "length"))
        else:
            has_calls = self.calls or any(item.get("type") == "function_call" for item in items)
            events.append(Finish("tool_calls" if has_calls else "stop"))
        self.ended = events
        return events


@register("openai-responses")
class OpenAIResponsesAdapter:
    def prepare(self, request: ChatRequest) -> PreparedRequest:
        body: dict[str, Any] = {"model": request.model.model_id}
        body.update(build_context(request, "responses"))
        body["stream"] = True
        # Stateless by default: the reasoning goes back as encrypted items. The model
        # option `previous_response_id` keeps state on the server instead (§2).
        body["store"] = bool(request.model.options.get("previous_response_id"))
        if request.model.reasoning != ReasoningStyle.NONE:
            body["include"] = ["reasoning.encrypted_content"]
        if request.max_tokens is not None:
            body["max_output_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.stop:
            raise ValueError("stop is not supported by the OpenAI Responses API")
        merge_params(body, thinking_params(request))
        merge_params(body, schema_params(request))
        merge_params(body, tool_params(request, "responses"))
        merge_params(body, extra_body(request))
        url = base_url(request.provider.kind, request.provider.base_url) + "/responses"
        return PreparedRequest("POST", url, base_headers(request), body)

    async def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]:
        prepared = prepare_or_refuse(self, request)
        reader = ResponsesStream()
        async with (
            open_stream(client, prepared) as response,
            aclosing(iter_sse(response)) as events,
        ):
            async for event in events:
                if not event.data.strip() or event.data == "[DONE]":
                    continue
                for item in reader.event(parse_json_data(event.data)):
                    yield item
                if reader.ended is not None:
                    break
            if reader.ended is not None:
                await drain(events)
        if reader.ended is None:
            raise BrokenStream("stream ended before its end marker")
