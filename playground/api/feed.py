"""A run's text as it streams, read the way every watcher reads it: frames from the
conversation's channel-layer group, with the gap/resume protocol of
`playground.streaming.run` (a frame whose offset is past what we have asks the run
for the rest), and the stored turn once "turn.done" says the final save is made.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer

from playground.models import Turn
from playground.streaming.run import run_group


@dataclass(frozen=True)
class Text:
    """New text of one frame: reasoning, then answer (either may be empty)."""

    reasoning: str = ""
    content: str = ""


@dataclass(frozen=True)
class Idle:
    """Nothing arrived for the heartbeat interval."""


@dataclass(frozen=True)
class Done:
    turn: Turn


Update = Text | Idle | Done


def _final_turn(turn_id: int) -> Turn:
    return Turn.objects.select_related("model__provider").get(pk=turn_id)


class TurnFeed:
    def __init__(self, group: str, turn_id: int, layer: BaseChannelLayer | None = None) -> None:
        self.group = group
        self.turn_id = turn_id
        self.layer = layer or get_channel_layer()
        self.channel = ""
        self.have = [0, 0]  # characters of reasoning and content passed on
        self._resume_asked = False
        self._asks: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        """Join the group; call before the run starts so no frame is missed."""
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)

    async def close(self) -> None:
        if self.channel:
            await self.layer.group_discard(self.group, self.channel)
            self.channel = ""

    async def updates(self, heartbeat: float) -> AsyncGenerator[Update, None]:
        """Text in order, `Idle` after each `heartbeat` seconds of silence, then one `Done`."""
        while True:
            try:
                message = await asyncio.wait_for(self.layer.receive(self.channel), heartbeat)
            except TimeoutError:
                yield Idle()
                continue
            if message.get("turn") != self.turn_id:
                continue
            kind = message.get("type")
            if kind in ("turn.frame", "turn.resumed"):
                if kind == "turn.resumed":
                    self._resume_asked = False
                if (text := self._new_text(message)) is not None:
                    yield text
            elif kind == "turn.done":
                turn = await database_sync_to_async(_final_turn)(self.turn_id)
                # What frames did not carry (a gap not yet filled) comes from the store.
                rest = Text(turn.reasoning[self.have[0] :], turn.content[self.have[1] :])
                self.have = [len(turn.reasoning), len(turn.content)]
                if rest.reasoning or rest.content:
                    yield rest
                yield Done(turn)
                return

    def _new_text(self, message: dict[str, Any]) -> Text | None:
        new_text = ["", ""]
        gap = False
        for i, (off_key, text_key) in enumerate((("r_off", "r"), ("c_off", "c"))):
            offset, text = int(message.get(off_key, 0)), str(message.get(text_key, ""))
            if not text:
                continue
            if offset > self.have[i]:
                gap = True
                continue
            new = text[self.have[i] - offset :]
            self.have[i] += len(new)
            new_text[i] = new
        if gap and not self._resume_asked:
            self._resume_asked = True
            ask = asyncio.get_running_loop().create_task(self._ask_resume())
            self._asks.add(ask)
            ask.add_done_callback(self._asks.discard)
        return Text(*new_text) if any(new_text) else None

    async def _ask_resume(self) -> None:
        await self.layer.group_send(
            run_group(self.turn_id),
            {"type": "run.resume", "reply_to": self.channel, "r_off": self.have[0], "c_off": self.have[1]},
        )
