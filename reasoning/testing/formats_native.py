"""Wire-format builders for the native APIs: Anthropic Messages SSE, Gemini
`streamGenerateContent?alt=sse`, Ollama `/api/chat` NDJSON (spec §4, §5, §7).

Each turns a neutral description (reasoning text, content text, chunk size, usage,
signature) into the body chunks a `FakeUpstream` script sends, and registers under
a name for `reasoning.testing.upstream.render` ("anthropic", "gemini", "ollama").
Usage follows `reasoning.events.Usage`: completion includes reasoning; each builder
splits it back the way its provider reports it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from reasoning.events import Usage
from reasoning.testing.upstream import FakeToolCall, call_id, pieces, sse, wire_format


@wire_format("anthropic")
def anthropic_sse(
    reasoning: str = "",
    content: str = "",
    *,
    chunk_chars: int = 8,
    usage: Usage | None = None,
    signature: str | None = "sig-anthropic",
    redacted: str | None = None,
    stop_reason: str = "end_turn",
    model: str = "fake-claude",
    error: dict[str, Any] | None = None,
    ping: bool = True,
    stop: bool = True,
    tool_calls: Sequence[FakeToolCall] = (),
) -> list[bytes]:
    """A Messages stream: message_start, a thinking block (deltas then one
    signature_delta), an optional redacted_thinking block, a text block, then per
    tool call a thinking block of its `reasoning_before` (interleaved thinking, signed
    with its `signature` or "sig-N") and a `tool_use` block (`id` toolu_…, `input: {}`,
    the arguments as `input_json_delta.partial_json` pieces), message_delta
    (stop_reason "tool_use" when there are calls and `stop_reason` is "end_turn"),
    message_stop. `error` (an error object such as
    `{"type": "overloaded_error", "message": "Overloaded"}`) replaces the end with an
    `error` event; `stop=False` leaves message_stop out (a cut stream)."""
    out: list[bytes] = []

    def emit(kind: str, **body: Any) -> None:
        out.append(sse({"type": kind, **body}, event=kind))

    start_usage: dict[str, Any] = {"input_tokens": 0, "output_tokens": 1}
    end_usage: dict[str, Any] = {"output_tokens": 0}
    if usage is not None:
        cached = usage.cached_tokens or 0
        start_usage = {
            "input_tokens": (usage.prompt_tokens or 0) - cached,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cached,
            "output_tokens": 1,
        }
        end_usage = {"output_tokens": usage.completion_tokens}
        if usage.reasoning_tokens is not None:
            end_usage["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    message: dict[str, Any] = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    emit("message_start", message=message)
    if ping:
        emit("ping")
    index = 0
    if reasoning or signature:
        emit(
            "content_block_start",
            index=index,
            content_block={"type": "thinking", "thinking": "", "signature": ""},
        )
        for piece in pieces(reasoning, chunk_chars):
            emit(
                "content_block_delta",
                index=index,
                delta={"type": "thinking_delta", "thinking": piece},
            )
        if signature:
            emit(
                "content_block_delta",
                index=index,
                delta={"type": "signature_delta", "signature": signature},
            )
        emit("content_block_stop", index=index)
        index += 1
    if redacted is not None:
        emit(
            "content_block_start",
            index=index,
            content_block={"type": "redacted_thinking", "data": redacted},
        )
        emit("content_block_stop", index=index)
        index += 1
    if content:
        emit("content_block_start", index=index, content_block={"type": "text", "text": ""})
        for piece in pieces(content, chunk_chars):
            emit("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
        emit("content_block_stop", index=index)
        index += 1
    for i, call in enumerate(tool_calls):
        if call.reasoning_before:
            emit(
                "content_block_start",
                index=index,
                content_block={"type": "thinking", "thinking": "", "signature": ""},
            )
            for piece in pieces(call.reasoning_before, chunk_chars):
                emit("content_block_delta", index=index, delta={"type": "thinking_delta", "thinking": piece})
            emit(
                "content_block_delta",
                index=index,
                delta={"type": "signature_delta", "signature": call.signature or f"sig-{i + 1}"},
            )
            emit("content_block_stop", index=index)
            index += 1
        block = {"type": "tool_use", "id": call_id(call, i, "toolu_fake_"), "name": call.name, "input": {}}
        emit("content_block_start", index=index, content_block=block)
        for piece in pieces(call.arguments, chunk_chars):
            emit("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": piece})
        emit("content_block_stop", index=index)
        index += 1
    if error is not None:
        emit("error", error=error)
        return out
    if tool_calls and stop_reason == "end_turn":
        stop_reason = "tool_use"
    emit(
        "message_delta",
        delta={"stop_reason": stop_reason, "stop_sequence": None},
        usage=end_usage,
    )
    if stop:
        emit("message_stop")
    return out


@wire_format("gemini")
def gemini_sse(
    reasoning: str = "",
    content: str = "",
    *,
    chunk_chars: int = 8,
    usage: Usage | None = None,
    # Real signatures are base64 (the SDK decodes them as bytes and rejects anything else).
    signature: str | None = "c2lnLWdlbWluaQ==",
    signature_on_empty_part: bool = False,
    finish_reason: str | None = "STOP",
    model: str = "gemini-fake",
    error: dict[str, Any] | None = None,
    tool_calls: Sequence[FakeToolCall] = (),
) -> list[bytes]:
    """A `streamGenerateContent?alt=sse` stream: one `data:` per chunk, thought parts
    first, then text parts; the last chunk carries the signature (on the last text
    part, or on an extra empty part), `finishReason` and the final usage. With
    `tool_calls`, each call's `reasoning_before` comes as thought parts and then the
    call as one whole `functionCall {name, args}` part (with `id` only when the call
    names one), carrying `thoughtSignature` when the call has a `signature` (Gemini 3:
    the first of parallel calls, each sequential step); the signature argument then
    goes on the first call's part unless that call has its own. No
    `[DONE]`: the stream ends at socket close. `finish_reason=None` leaves the
    reason out (a cut stream); `error` ends the stream with `{"error": …}`."""
    metadata: dict[str, Any] = {}
    if usage is not None:
        thoughts = usage.reasoning_tokens or 0
        metadata = {
            "promptTokenCount": usage.prompt_tokens,
            "candidatesTokenCount": (usage.completion_tokens or 0) - thoughts,
            "totalTokenCount": (usage.prompt_tokens or 0) + (usage.completion_tokens or 0),
        }
        if usage.reasoning_tokens is not None:
            metadata["thoughtsTokenCount"] = thoughts
        if usage.cached_tokens is not None:
            metadata["cachedContentTokenCount"] = usage.cached_tokens
    parts_per_chunk: list[list[dict[str, Any]]] = [
        [{"text": piece, "thought": True}] for piece in pieces(reasoning, chunk_chars)
    ]
    parts_per_chunk += [[{"text": piece}] for piece in pieces(content, chunk_chars)]
    for i, call in enumerate(tool_calls):
        parts_per_chunk += [[{"text": piece, "thought": True}] for piece in pieces(call.reasoning_before, chunk_chars)]
        function_call: dict[str, Any] = {"name": call.name, "args": json.loads(call.arguments or "{}")}
        if call.id is not None:
            function_call["id"] = call.id
        part: dict[str, Any] = {"functionCall": function_call}
        sign = call.signature or (signature if i == 0 else None)
        if sign:
            part["thoughtSignature"] = sign
        parts_per_chunk.append([part])
    if signature is not None and not tool_calls:  # with calls it went on a call's part
        if signature_on_empty_part or not content:
            parts_per_chunk.append([{"text": "", "thoughtSignature": signature}])
        else:
            parts_per_chunk[-1][-1]["thoughtSignature"] = signature
    if not parts_per_chunk:
        parts_per_chunk = [[{"text": ""}]]
    out: list[bytes] = []
    for i, parts in enumerate(parts_per_chunk):
        last = i == len(parts_per_chunk) - 1
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if last and finish_reason is not None:
            candidate["finishReason"] = finish_reason
        chunk: dict[str, Any] = {
            "candidates": [candidate],
            "modelVersion": model,
            "responseId": "resp-fake",
        }
        if metadata and (last or i == 0):
            chunk["usageMetadata"] = metadata
        out.append(sse(chunk))
    if error is not None:
        out.append(sse({"error": error}))
    return out


@wire_format("ollama")
def ollama_ndjson(
    reasoning: str = "",
    content: str = "",
    *,
    chunk_chars: int = 8,
    usage: Usage | None = None,
    done_reason: str = "stop",
    done: bool = True,
    markup: bool = False,
    think_tags: tuple[str, str] = ("<think>", "</think>"),
    model: str = "fake-ollama",
    error: str | None = None,
    tool_calls: Sequence[FakeToolCall] = (),
) -> list[bytes]:
    """An `/api/chat` NDJSON stream: `message.thinking` lines, then `message.content`
    lines, then a `done: true` line with `done_reason` and counts. `markup=True`
    writes the reasoning inside `content` between `think_tags` (an old Ollama or a
    model it has no parser for); `error` ends the stream with `{"error": …}`;
    `done=False` leaves the last line out (a cut stream). Each of `tool_calls` comes
    whole in one line, after its `reasoning_before` as thinking lines, as
    `message.tool_calls: [{function: {index, name, arguments: {…}}}]` (`id` only when
    the call names one), as Ollama streams them."""
    base = {"model": model, "created_at": "2026-01-01T00:00:00Z"}
    lines: list[dict[str, Any]] = []
    if markup:
        text = f"{think_tags[0]}{reasoning}{think_tags[1]}" if reasoning else ""
        for piece in pieces(text + content, chunk_chars):
            lines.append(
                {**base, "message": {"role": "assistant", "content": piece}, "done": False}
            )
    else:
        for piece in pieces(reasoning, chunk_chars):
            message = {"role": "assistant", "content": "", "thinking": piece}
            lines.append({**base, "message": message, "done": False})
        for piece in pieces(content, chunk_chars):
            lines.append(
                {**base, "message": {"role": "assistant", "content": piece}, "done": False}
            )
    for i, call in enumerate(tool_calls):
        for piece in pieces(call.reasoning_before, chunk_chars):
            message = {"role": "assistant", "content": "", "thinking": piece}
            lines.append({**base, "message": message, "done": False})
        wire: dict[str, Any] = {
            "function": {"index": i, "name": call.name, "arguments": json.loads(call.arguments or "{}")}
        }
        if call.id is not None:
            wire["id"] = call.id
        call_message: dict[str, Any] = {"role": "assistant", "content": "", "tool_calls": [wire]}
        lines.append({**base, "message": call_message, "done": False})
    if error is not None:
        lines.append({"error": error})
    elif done:
        final: dict[str, Any] = {
            **base,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": done_reason,
            "total_duration": 1000,
            "eval_duration": 500,
        }
        if usage is not None:
            final["prompt_eval_count"] = usage.prompt_tokens
            final["eval_count"] = usage.completion_tokens
        lines.append(final)
    return [(json.dumps(line, ensure_ascii=False) + "\n").encode() for line in lines]
