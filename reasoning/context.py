# placeholder: replaced by adapters-native branch (which owns reasoning/context.py).
# Same signature; reasoning left out, system first.
"""Provider messages from stored turns (placeholder; see the adapters-native branch)."""

from __future__ import annotations

from typing import Any

from reasoning.request import ChatRequest


def build_messages(request: ChatRequest, flavour: str) -> list[dict[str, Any]]:
    system = [request.system] if request.system else []
    system += [m.content for m in request.messages if m.role == "system"]
    messages: list[dict[str, Any]] = (
        [{"role": "system", "content": "\n\n".join(system)}] if system else []
    )
    messages += [
        {"role": m.role, "content": m.content} for m in request.messages if m.role != "system"
    ]
    return messages
