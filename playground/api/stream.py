"""A launched turn's text for the SSE writer, with heartbeats.

`Launched.deltas()` (playground.streaming.launch) gives every character once, in
order, by the sockets' gap/resume protocol. Waiting on it with a timeout would
cancel it mid-read and end it, so a task pumps it into a queue and the writer
waits on the queue: text, `Idle` after each heartbeat interval of silence, then
`Done` with the saved turn.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from playground.models import Turn
from playground.streaming.follower import Piece
from playground.streaming.launch import Launched


@dataclass(frozen=True)
class Text:
    """New text: reasoning, then answer (either may be empty)."""

    reasoning: str = ""
    content: str = ""


@dataclass(frozen=True)
class Idle:
    """Nothing arrived for the heartbeat interval."""


@dataclass(frozen=True)
class Done:
    turn: Turn


Update = Text | Idle | Done
_END = object()


class TurnStream:
    def __init__(self, launched: Launched) -> None:
        self.launched = launched
        # What went out per block, as parts (joined only for the rare replacing piece,
        # which is cut to its new tail): appending to one string per chunk is quadratic.
        self.sent: dict[str, list[str]] = {"r": [], "c": []}
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._pump = asyncio.get_running_loop().create_task(self._read(), name=f"api-{launched.turn_id}")
        self._ended = False
        self._held: object | None = None  # a piece taken from the queue for the next update

    async def _read(self) -> None:
        try:
            async for piece in self.launched.deltas():
                self._queue.put_nowait(piece)
        finally:
            self._queue.put_nowait(_END)

    async def next(self, heartbeat: float) -> Update:
        """The text that arrived since the last call (all of it, in one update)."""
        if self._ended:
            return Done(await self.launched.outcome())
        if self._held is not None:
            item, self._held = self._held, None
        else:
            try:
                item = await asyncio.wait_for(self._queue.get(), heartbeat)
            except TimeoutError:
                return Idle()
        items = [item]
        # What else is already queued goes in the same write, up to a reasoning piece
        # after answer text: one update says reasoning first, then answer.
        answered = isinstance(item, Piece) and item.block == "c"
        while self._held is None and not self._queue.empty():
            more = self._queue.get_nowait()
            if answered and isinstance(more, Piece) and more.block == "r":
                self._held = more
                break
            answered = answered or (isinstance(more, Piece) and more.block == "c")
            items.append(more)
        new: dict[str, list[str]] = {"r": [], "c": []}
        for one in items:
            if one is _END:
                self._ended = True
            elif isinstance(one, Piece):
                new[one.block].append(self._new(one))
        text = Text("".join(new["r"]), "".join(new["c"]))
        if text.reasoning or text.content or not self._ended:
            return text
        return Done(await self.launched.outcome())

    def _new(self, piece: Piece) -> str:
        parts = self.sent[piece.block]
        if not piece.replace:
            parts.append(piece.text)
            return piece.text
        # Text already sent cannot be taken back: pass on only what extends it.
        sent = "".join(parts)
        if piece.text.startswith(sent):
            self.sent[piece.block] = [piece.text]
            return piece.text[len(sent) :]
        return ""

    async def close(self) -> None:
        """Stop reading (the caller left or is done); stop the run if it is still going."""
        if not self._pump.done():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        run = self.launched.run
        if run is not None and run.task is not None and not run.task.done():
            await self.launched.stop()
