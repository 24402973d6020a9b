"""A run's text handed straight to a reader in the same process (issue 23.2).

The chat page's sockets get a run's text through the channel layer, in frames
coalesced over FRAME_INTERVAL (a browser gains nothing from more than ~25 paints a
second). A caller that reads the turn itself (the API's SSE writer, `ask`) sits in
the process that runs the turn, so it needs neither the frame interval nor the
layer: the run hands it every piece of text in the same pass that appends it for
the checkpoint and the frames (`TurnRun._on_reasoning` / `_on_content`), and the
reader wakes at once. Lateness is then a scheduling cost, not a frame interval.

A tool loop's messages (tool.start/args/result/awaiting/notice, turn.step: see
`tool_frames`) ride along as `ToolNote`s, in order with the text: `ask --tools` prints
them between the pieces, and a "turn.step" note tells the reader that the next model
call's text starts afresh.

The tap keeps what the reader has not taken yet (at most the turn's own text,
which the run holds anyway); the reader detaches it when it leaves.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from playground.streaming.follower import Piece

CLOCK_SLACK = 0.001  # seconds: uvloop's timers count in milliseconds


@dataclass(frozen=True)
class ToolNote:
    """A tool-loop message of the run (see playground.streaming.tool_frames)."""

    message: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.message.get("type", ""))


class DirectTap:
    def __init__(self) -> None:
        self._pieces: deque[Piece | ToolNote | None] = deque()  # None: the run has ended
        self._waiter: asyncio.Future[None] | None = None
        # The reader's wait ends at `_deadline` when nothing comes. One timer serves
        # many waits: at 50 pieces a second a wait of the heartbeat interval almost
        # always ends with a piece, so the timer is not re-made and cancelled each
        # time; when it fires before the latest deadline it is set again for it.
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # ---- the run's side: cheap, never blocks ----------------------------------------

    def delta(self, block: str, text: str) -> None:
        self._pieces.append(Piece(block, text))
        self._wake()

    def replace(self, reasoning: str, content: str) -> None:
        """The answer so far was reasoning: both blocks start again from these texts."""
        self._pieces.append(Piece("r", reasoning, replace=True))
        self._pieces.append(Piece("c", content, replace=True))
        self._wake()

    def note(self, message: dict[str, Any]) -> None:
        """A tool-loop message, in order with the text around it."""
        self._pieces.append(ToolNote(message))
        self._wake()

    def end(self) -> None:
        self._pieces.append(None)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- the reader's side ------------------------------------------------------------

    def pending(self) -> int:
        return len(self._pieces)

    def take(self) -> Piece | ToolNote | None:
        """The next piece (None: the run has ended); only when `pending()`."""
        return self._pieces.popleft()

    def put_back(self, piece: Piece | ToolNote) -> None:
        """A piece taken but not used yet: it comes first again."""
        self._pieces.appendleft(piece)

    async def wait(self, timeout: float) -> bool:  # noqa: ASYNC109 (a timer, not wait_for: no task per wait)
        """Until a piece is pending (True) or `timeout` seconds have passed (False)."""
        if self._pieces:
            return True
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        deadline = self._deadline = loop.time() + timeout
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(deadline, self._expire)
        try:
            await waiter
        except BaseException:
            self.stop_timer()  # the reader is gone (cancelled): nothing holds the tap
            raise
        finally:
            self._waiter = None
        return bool(self._pieces)

    def _expire(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # no wait going on: the next one sets the timer again
        loop = waiter.get_loop()
        # A loop's timers may run up to its clock's resolution early.
        if loop.time() + CLOCK_SLACK >= self._deadline:
            waiter.set_result(None)
        else:
            self._timer = loop.call_at(self._deadline, self._expire)

    def stop_timer(self) -> None:
        """The reader leaves: the pending timer goes (it would keep the tap for up to a heartbeat)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def pieces(self) -> AsyncIterator[Piece | ToolNote]:
        """Every piece (and tool note) in the order the run produced it, until the run ends."""
        try:
            while True:
                while self._pieces:
                    piece = self._pieces.popleft()
                    if piece is None:
                        return
                    yield piece
                await self.wait(3600.0)
        finally:
            self.stop_timer()
