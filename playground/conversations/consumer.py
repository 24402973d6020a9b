"""The chat page's socket: watches one conversation, sends prompts, stops runs.

Delivery (frames, gaps and resume, the watchdog, backpressure, message sizes) is
the base class's (playground.streaming.consumer); this says how the chat page
renders turns: new exchanges appended to `#turns`, the finished turn with the
conversation's totals.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from playground.conversations import fragments
from playground.models import Conversation, Turn
from playground.streaming.consumer import StreamingConsumer
from playground.turns import blind


class ConversationConsumer(StreamingConsumer):
    def announce_exchange(self, user_turn: Turn, turn: Turn) -> str:
        return fragments.render_new_exchange(user_turn, turn)

    def render_exchange(self, user_turn_id: int, turn_id: int) -> str:
        return fragments.render_new_exchange(user_turn_id, turn_id)

    def render_branch(self) -> list[str]:
        return fragments.render_branch(self.conversation.pk)

    def render_finished(self, turn_id: int, shown: tuple[int, int] | None = None) -> str:
        return fragments.render_turn_oob(turn_id, shown)

    @staticmethod
    def render_done(turn: Turn) -> dict[str, Any]:
        return fragments.render_finished_once(turn)

    def finished_html(self, event: dict[str, Any], shown: tuple[int, int] | None) -> str | None:
        # Rendered once by the run for every chat tab; the watchdog's "done" has none.
        return fragments.carried_finished_html(event.get("finished"), shown)

    def announced_html(self, event: dict[str, Any]) -> str | None:
        # The socket that sent the prompt rendered the exchange once for every chat
        # tab (playground.streaming.launch); a comparison's announcement has none.
        html: str | None = event.get("html")
        return html

    @database_sync_to_async
    def _conversation(self, user: Any, pk: int) -> Conversation | None:
        # This socket renders model labels: a blind column is watched through its
        # column socket (playground.compare.consumer), which disguises them.
        conversation = Conversation.objects.filter(owner=user, pk=pk).first()
        if conversation is not None and blind.hidden_column(pk):
            return None
        return conversation
