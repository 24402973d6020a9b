"""The chat page's socket: watches one conversation, sends prompts, stops runs.

Delivery (frames, gaps and resume, the watchdog, backpressure, message sizes) is
the base class's (playground.streaming.consumer); this says how the chat page
renders turns: new exchanges appended to `#turns`, the finished turn with the
conversation's totals.
"""

from __future__ import annotations

from typing import Any

from playground.conversations import fragments
from playground.streaming.consumer import StreamingConsumer


class ConversationConsumer(StreamingConsumer):
    def render_exchange(self, user_turn_id: int, turn_id: int) -> str:
        return fragments.render_new_exchange(user_turn_id, turn_id)

    def render_branch(self) -> list[str]:
        return fragments.render_branch(self.conversation.pk)

    def render_finished(self, turn_id: int) -> str:
        return fragments.render_turn_oob(turn_id)

    def announced_html(self, event: dict[str, Any]) -> str | None:
        # The socket that sent the prompt rendered the exchange once for every chat
        # tab (playground.streaming.launch); a comparison's announcement has none.
        html: str | None = event.get("html")
        return html
