"""A launched turn's text for the SSE writer, with heartbeats.

The run hands every piece of text to the launch's tap as it parses it
(playground.streaming.tap): no frame interval, no channel layer (issue 23.2).
The writer waits on the tap itself, with a timer for the heartbeat: text,
`Idle` after each heartbeat interval of silence, then `Done` with the saved turn.
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.models import Turn
from playground.streaming.follower import Piece
from playground.streaming.launch import Launched
from playground.streaming.tap import DirectTap, ToolNote


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


class TurnStream:
    def __init__(self, launched: Launched) -> None:
        if launched._tap is None:
            raise RuntimeError("launch(..., follow=True) to stream a turn")
        self.launched = launched
        self.tap: DirectTap = launched._tap
        # What went out per block, as parts (joined only for the rare replacing piece,
        # which is cut to its new tail): appending to one string per chunk is quadratic.
        self.sent: dict[str, list[str]] = {"r": [], "c": []}
        self._have = {"r": 0, "c": 0}
        self._ended = launched.run is None  # a turn that never ran has only its saved text

    async def next(self, heartbeat: float) -> Update:
        """The text that arrived since the last call (all of it, in one update)."""
        if self._ended:
            return Done(await self.launched.outcome())
        if not await self.tap.wait(heartbeat):
            return Idle()
        new: dict[str, list[str]] = {"r": [], "c": []}
        # Whatever is already there goes in the same write, up to a reasoning piece
        # after answer text: one update says reasoning first, then answer.
        while self.tap.pending():
            piece = self.tap.take()
            if piece is None:
                self._ended = True
                break
            if isinstance(piece, ToolNote):
                continue  # the gateway runs no tools: its client does
            if piece.block == "r" and new["c"]:
                self.tap.put_back(piece)
                break
            new[piece.block].append(self._new(piece))
        if self._ended:
            self._detach()
            # Whatever the run did not hand over is in the saved turn.
            turn = await self.launched.outcome()
            for block, saved in (("r", turn.reasoning), ("c", turn.content)):
                if len(saved) > self._have[block]:
                    new[block].append(self._new(Piece(block, saved[self._have[block] :])))
        update = Text("".join(new["r"]), "".join(new["c"]))
        if update.reasoning or update.content or not self._ended:
            return update
        return Done(await self.launched.outcome())

    def _new(self, piece: Piece) -> str:
        have = self._have
        have[piece.block] = len(piece.text) if piece.replace else have[piece.block] + len(piece.text)
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

    def _detach(self) -> None:
        self.tap.stop_timer()
        run = self.launched.run
        if run is not None and self.tap in run.taps:
            run.taps.remove(self.tap)

    async def close(self) -> None:
        """Stop reading (the caller left or is done); stop the run if it is still going."""
        self._detach()
        run = self.launched.run
        if run is not None and run.task is not None and not run.task.done():
            await self.launched.stop()
