"""The socket of one comparison column: the conversation socket, with the
column's own target for new turns and blind labels.

A comparison page shows several conversations at once, so a new exchange is
appended to `#turns-<conversation id>` rather than the chat page's `#turns`,
and every turn is rendered with the column's blind label ("Model B") while
its comparison is blind and unrevealed, so the model's name never reaches
the page before the vote. A finished turn also refreshes the metrics panel.
Everything else (delivery, the watchdog, message sizes) is the base class's.
"""

from __future__ import annotations

from playground.compare.fragments import render_column_branch, render_column_done, render_column_exchange
from playground.streaming.consumer import StreamingConsumer


class ComparisonColumnConsumer(StreamingConsumer):
    def render_exchange(self, user_turn_id: int, turn_id: int) -> str:
        return render_column_exchange(self.conversation.pk, user_turn_id, turn_id)

    def render_branch(self) -> list[str]:
        return render_column_branch(self.conversation.pk)

    def render_finished(self, turn_id: int, shown: tuple[int, int] | None = None) -> str:
        return render_column_done(self.conversation.pk, turn_id)
