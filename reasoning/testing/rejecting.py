"""Loopback providers that reject a tool loop the way the real ones do.

`StrictProvider(rule)` is a `FakeUpstream` responder: for each request it checks the
body as the provider does (spec §13) and, when a carrier is missing, answers with the
provider's own status and error text (§3, §4, §5, §13) instead of the next script:

    deepseek    400 Missing `reasoning_content` field in the assistant message at message index N. …
    kimi        400 thinking is enabled but reasoning_content is missing in assistant tool call message at index N
    anthropic   400 messages.N.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. …
    anthropic_bound  the above, and 400 … Invalid signature in thinking block. The block is bound to a
                different conversation … for a block sent after another prefix than the one it followed
                (with `thinking.block_binding.prefix_mismatch_behavior: "drop_block"` it is dropped
                and listed in `dropped` instead)
    gemini3     400 INVALID_ARGUMENT Function call is missing a thought_signature in functionCall parts. …
    responses   400 Item 'fc_…' of type 'function_call' was provided without its required 'reasoning'
                item: 'rs_…'.

The stateful rules learn from the scripts they answer with: which signature was given
after which prefix (Anthropic's binding), which reasoning item preceded which function
call (Responses). The checks are written from the providers' documented behaviour,
independently of `reasoning.context`: they are the oracle a replay is tested against.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from reasoning.testing.upstream import RecordedRequest, Script

DEEPSEEK_MISSING = (
    "Missing `reasoning_content` field in the assistant message at message index {index}. For more "
    "information, please refer to https://api-docs.deepseek.com/guides/thinking_mode#tool-calls"
)
KIMI_MISSING = "thinking is enabled but reasoning_content is missing in assistant tool call message at index {index}"
ANTHROPIC_MISSING = (
    "messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. When "
    "`thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the "
    "lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from "
    "previous turns. To avoid this requirement, disable `thinking`."
)
ANTHROPIC_BOUND = (
    "messages.{index}.content.{block}: Invalid signature in thinking block. The block is bound to a "
    "different conversation prefix than the one it was sent with."
)
GEMINI_MISSING = (
    "Function call is missing a thought_signature in functionCall parts. This is required for tools to work "
    "correctly, and missing thought_signature may lead to degraded model performance. Additional data, "
    "function call `default_api:{name}` , position {position}. Please refer to "
    "https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
)
RESPONSES_MISSING = "Item '{fc}' of type 'function_call' was provided without its required 'reasoning' item: '{rs}'."

RULES = ("deepseek", "kimi", "anthropic", "anthropic_bound", "gemini3", "responses")


def _openai_error(message: str) -> Script:
    return Script.error(400, {"error": {"message": message, "type": "invalid_request_error", "param": None,
                                        "code": "invalid_request_error"}})


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _events(chunks: Iterable[bytes | str]) -> list[dict[str, Any]]:
    """The JSON objects in an SSE or NDJSON body."""
    text = "".join(c.decode() if isinstance(c, bytes) else c for c in chunks)
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        line = line.removeprefix("data:").strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


class StrictProvider:
    """A responder: the provider's rejection when the body breaks its replay rule,
    else the next of `scripts` (enqueue more with `add`)."""

    def __init__(self, rule: str, *scripts: Script) -> None:
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")
        self.rule = rule
        self.scripts: deque[Script] = deque(scripts)
        self.rejections: list[str] = []
        self.dropped: list[str] = []  # blocks dropped under `prefix_mismatch_behavior: drop_block`
        self._bound: dict[str, str] = {}  # Anthropic signature -> the prefix it followed
        self._needs: dict[str, str] = {}  # Responses function_call id -> its reasoning item id

    def add(self, *scripts: Script) -> None:
        self.scripts.extend(scripts)

    def __call__(self, request: RecordedRequest) -> Script:
        body = request.json
        check: Callable[[dict[str, Any]], Script | None] = getattr(self, f"_check_{self.rule}")
        rejection = check(body)
        if rejection is not None:
            return rejection
        script = self.scripts.popleft()
        self._learn(body, script)
        return script

    def _reject(self, script: Script, message: str) -> Script:
        self.rejections.append(message)
        return script

    # ---- DeepSeek and Kimi: the field on every assistant message that made tool calls ----

    def _thinking_on(self, body: dict[str, Any]) -> bool:
        thinking = body.get("thinking")
        return not (isinstance(thinking, dict) and thinking.get("type") == "disabled")

    def _check_deepseek(self, body: dict[str, Any]) -> Script | None:
        if not self._thinking_on(body):
            return None
        for index, message in enumerate(body.get("messages") or []):
            if message.get("role") == "assistant" and message.get("tool_calls") and not message.get(
                "reasoning_content"
            ):
                text = DEEPSEEK_MISSING.format(index=index)
                return self._reject(_openai_error(text), text)
        return None

    def _check_kimi(self, body: dict[str, Any]) -> Script | None:
        if not self._thinking_on(body):
            return None
        for index, message in enumerate(body.get("messages") or []):
            if message.get("role") == "assistant" and message.get("tool_calls") and not message.get(
                "reasoning_content"
            ):
                text = KIMI_MISSING.format(index=index)
                return self._reject(_openai_error(text), text)
        return None

    # ---- Anthropic: the last assistant message of a tool loop starts with thinking -------

    def _check_anthropic(self, body: dict[str, Any]) -> Script | None:
        thinking = body.get("thinking")
        if not (isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")):
            return None
        messages = body.get("messages") or []
        last = messages[-1] if messages else None
        if not (last and last.get("role") == "user" and isinstance(last.get("content"), list)
                and any(b.get("type") == "tool_result" for b in last["content"])):
            return None
        index = len(messages) - 2
        content = messages[index].get("content") if index >= 0 else None
        first = content[0] if isinstance(content, list) and content else {"type": "text"}
        if first.get("type") in ("thinking", "redacted_thinking"):
            return None
        text = ANTHROPIC_MISSING.format(index=index, found=first.get("type", "text"))
        return self._reject(Script.error(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                                          "message": text}}), text)

    def _prefix(self, body: dict[str, Any], messages: list[Any]) -> str:
        return _canonical({"system": body.get("system"), "tools": body.get("tools"), "messages": messages})

    def _check_anthropic_bound(self, body: dict[str, Any]) -> Script | None:
        rejected = self._check_anthropic(body)
        if rejected is not None:
            return rejected
        messages = body.get("messages") or []
        binding = (body.get("thinking") or {}).get("block_binding") or {}
        drop = binding.get("prefix_mismatch_behavior") == "drop_block"
        for index, message in enumerate(messages):
            content = message.get("content")
            if message.get("role") != "assistant" or not isinstance(content, list):
                continue
            for block_at, block in enumerate(content):
                signature = block.get("signature") if block.get("type") == "thinking" else None
                if signature in self._bound and self._bound[signature] != self._prefix(body, messages[:index]):
                    text = ANTHROPIC_BOUND.format(index=index, block=block_at)
                    if drop:  # the beta's behaviour: dropped and listed, no error
                        self.dropped.append(text)
                        continue
                    return self._reject(Script.error(400, {"type": "error", "error": {
                        "type": "invalid_request_error", "message": text}}), text)
        return None

    # ---- Gemini 3: each step's first functionCall part carries its signature --------------

    def _check_gemini3(self, body: dict[str, Any]) -> Script | None:
        contents = body.get("contents") or []
        # The current turn: from the last user content that is not function responses.
        start = 0
        for at, content in enumerate(contents):
            parts = content.get("parts") or []
            if content.get("role") == "user" and not any("functionResponse" in p for p in parts):
                start = at
        for at in range(start, len(contents)):
            content = contents[at]
            calls = [p for p in content.get("parts") or [] if "functionCall" in p]
            if content.get("role") == "model" and calls and not calls[0].get("thoughtSignature"):
                text = GEMINI_MISSING.format(name=calls[0]["functionCall"].get("name"), position=at + 1)
                return self._reject(
                    Script.error(400, {"error": {"code": 400, "message": text, "status": "INVALID_ARGUMENT"}}), text
                )
        return None

    # ---- Responses: a function_call item with its id needs the reasoning item before it --

    def _check_responses(self, body: dict[str, Any]) -> Script | None:
        items = body.get("input") or []
        ids = {item.get("id") for item in items if isinstance(item, dict)}
        for item in items:
            if not isinstance(item, dict) or item.get("type") != "function_call":
                continue
            needed = self._needs.get(str(item.get("id")))
            if needed and needed not in ids:
                text = RESPONSES_MISSING.format(fc=item.get("id"), rs=needed)
                return self._reject(_openai_error(text), text)
        return None

    # ---- what the answers teach -------------------------------------------------------------

    def _learn(self, body: dict[str, Any], script: Script) -> None:
        events = _events(script.chunks)
        if self.rule == "anthropic_bound":
            prefix = self._prefix(body, body.get("messages") or [])
            for event in events:
                delta = event.get("delta") or {}
                if event.get("type") == "content_block_delta" and delta.get("type") == "signature_delta":
                    self._bound[str(delta.get("signature"))] = prefix
        if self.rule == "responses":
            reasoning: str | None = None
            for event in events:
                item = event.get("item") if event.get("type") == "response.output_item.done" else None
                if not isinstance(item, dict):
                    continue
                if item.get("type") == "reasoning":
                    reasoning = str(item.get("id"))
                elif item.get("type") == "function_call" and reasoning:
                    self._needs[str(item.get("id"))] = reasoning
