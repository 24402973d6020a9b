"""Which reasoning a request body carries back to the model, and in which carrier.

The inspector shows, per call of a turn (a tool loop has one per step), each earlier
assistant message whose reasoning went back and the field it travelled in. It reads
the body exactly as it was sent, so it tells what the provider got, not what we
meant to send. The carriers are those of reasoning.context, per flavour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reasoning.context import FLAVOUR_OF_KIND


@dataclass(frozen=True, slots=True)
class Carried:
    message: int  # 1-based position in the body's message list
    carrier: str  # the field or block it travelled in
    chars: int  # how much reasoning text (0: opaque, e.g. encrypted or signed only)
    tool_calls: int = 0  # calls the message made: a step of a tool loop when > 0

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "carrier": self.carrier, "chars": self.chars, "tool_calls": self.tool_calls}


def _text(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def carried(body: Any, kind: str) -> list[Carried]:
    """The reasoning `body` (a provider `kind`'s request JSON) sends back."""
    if not isinstance(body, Mapping):
        return []
    flavour = FLAVOUR_OF_KIND.get(kind, "openai" if isinstance(body.get("messages"), list) else "")
    if flavour in ("openai", "ollama"):
        return _chat(body.get("messages"))
    if flavour == "anthropic":
        return _anthropic(body.get("messages"))
    if flavour == "gemini":
        return _gemini(body.get("contents"))
    if flavour == "responses":
        return _responses(body.get("input"))
    return []


def _chat(messages: Any) -> list[Carried]:
    out = []
    for i, m in enumerate(messages if isinstance(messages, list) else [], 1):
        if not isinstance(m, Mapping) or m.get("role") != "assistant":
            continue
        calls = len(m.get("tool_calls") or ())
        for field in ("reasoning_content", "reasoning", "thinking"):
            if _text(m.get(field)):
                out.append(Carried(i, field, _text(m[field]), calls))
        details = m.get("reasoning_details")
        if isinstance(details, list) and details:
            chars = sum(_text(d.get("text")) for d in details if isinstance(d, Mapping))
            out.append(Carried(i, "reasoning_details", chars, calls))
        content = m.get("content")
        if isinstance(content, str) and "<think>" in content and "</think>" in content:
            inner = content.split("<think>", 1)[1].split("</think>", 1)[0]
            out.append(Carried(i, "<think> tags in content", len(inner.strip()), calls))
    return out


def _anthropic(messages: Any) -> list[Carried]:
    out = []
    for i, m in enumerate(messages if isinstance(messages, list) else [], 1):
        if not isinstance(m, Mapping) or m.get("role") != "assistant" or not isinstance(m.get("content"), list):
            continue
        blocks = [b for b in m["content"] if isinstance(b, Mapping)]
        calls = sum(1 for b in blocks if b.get("type") == "tool_use")
        thinking = [b for b in blocks if b.get("type") == "thinking"]
        if thinking:
            out.append(Carried(i, "signed thinking block", sum(_text(b.get("thinking")) for b in thinking), calls))
        if any(b.get("type") == "redacted_thinking" for b in blocks):
            out.append(Carried(i, "redacted_thinking block", 0, calls))
    return out


def _gemini(contents: Any) -> list[Carried]:
    out = []
    for i, c in enumerate(contents if isinstance(contents, list) else [], 1):
        if not isinstance(c, Mapping) or c.get("role") != "model" or not isinstance(c.get("parts"), list):
            continue
        parts = [p for p in c["parts"] if isinstance(p, Mapping)]
        calls = sum(1 for p in parts if "functionCall" in p)
        signed = [p for p in parts if p.get("thoughtSignature")]
        if signed:
            out.append(Carried(i, "thoughtSignature", sum(_text(p.get("text")) for p in signed if p.get("thought")),
                               calls))
    return out


def _responses(items: Any) -> list[Carried]:
    out = []
    for i, item in enumerate(items if isinstance(items, list) else [], 1):
        if not isinstance(item, Mapping) or item.get("type") != "reasoning":
            continue
        summary: list[Any] = item["summary"] if isinstance(item.get("summary"), list) else []
        chars: int = sum(_text(s.get("text")) for s in summary if isinstance(s, Mapping))
        carrier = "reasoning item (encrypted_content)" if item.get("encrypted_content") else "reasoning item"
        out.append(Carried(i, carrier, chars))
    return out
