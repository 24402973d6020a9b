"""The socket of one comparison column: the conversation socket, with the
column's own target for new turns and blind labels.

A comparison page shows several conversations at once, so a new exchange is
appended to `#turns-<conversation id>` rather than the chat page's `#turns`,
and every turn is rendered with the column's blind label ("Model B") while
its comparison is blind and unrevealed, so the model's name never reaches
the page before the vote. A finished turn also refreshes the metrics panel.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from playground.compare.services import render_column_done, render_column_exchange
from playground.conversations.consumer import ConversationConsumer


class ComparisonColumnConsumer(ConversationConsumer):
    serves_hidden_columns = True  # it disguises every turn it renders

    async def turn_started(self, event: dict[str, Any]) -> None:
        html = await database_sync_to_async(render_column_exchange)(
            self.conversation.pk, event["user_turn"], event["turn"]
        )
        self.delivered[event["turn"]] = [0, 0]
        await self.send(text_data=html)

    async def turn_done(self, event: dict[str, Any]) -> None:
        turn_id = event["turn"]
        if self.delivered.pop(turn_id, None) is None:
            return
        self.resuming.discard(turn_id)
        html = await database_sync_to_async(render_column_done)(self.conversation.pk, turn_id)
        await self.send(text_data=html)
