"""The gap/resume protocol of one watcher of one streaming turn, with no I/O.

A run publishes frames that carry, per block (reasoning "r", content "c"), the
offset of their text in the whole block. A watcher (a browser's socket, the API,
`ask`) keeps how much of each block it has (`have`) and is given only what is
new. Frames may come late, twice, out of order, or not at all (a full layer drops
them; Redis may deliver a group frame before an earlier direct reply):

* text that overlaps what the watcher has is trimmed, so nothing is shown twice;
* text beyond a gap is kept, per block by offset, and given as soon as the gap
  is filled, so nothing is shown out of order;
* on a gap the follower asks the run to resume from `have` (one request in
  flight at a time; `retry()` asks again when a request or its reply was lost).

A watcher that cannot know what it already shows (a socket that joins a
streaming turn: the page may hold a checkpoint, or text from an earlier socket)
starts unsynced: frames are kept until the run's first resume reply, which
*replaces* the blocks' text; from then on only new text is given.

Each event returns a `Delivery`: the pieces to show, in order, and whether to
ask the run to resume (with the offsets to resume from).

A tool-loop turn is a sequence of steps (playground.streaming.steps); the two
blocks are always the current step's, and offsets count from the step's start.
Frames say which step they belong to (no "step": 0): one of an earlier step is
ignored, one of a later step means a step's start was missed, and the watcher
syncs again. At a step's start ("turn.step") the blocks start empty and the
finished steps are shown again (`Delivery.reload_steps`: they are in the
database); the current step's calls (tool.start/args/result/awaiting) are kept
here, whole, and given as `calls` to render in place of what the watcher shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playground.streaming.steps import merge_call

BLOCKS = ("r", "c")
MAX_EARLY = 1000  # frames kept while unsynced; more means the reply is lost: the watchdog asks again
MAX_AHEAD = 500  # pieces kept beyond a gap, per block


@dataclass(frozen=True)
class Piece:
    block: str  # "r" or "c"
    text: str
    replace: bool = False  # set the block's text to this, rather than append it


@dataclass
class Delivery:
    pieces: list[Piece] = field(default_factory=list)
    ask: tuple[int, int] | None = None  # resume from these (reasoning, content) offsets
    reload_steps: bool = False  # show the finished steps again, from the saved turn
    calls: list[dict[str, Any]] | None = None  # the current step's calls to show


@dataclass
class TurnFollower:
    have: list[int] = field(default_factory=lambda: [0, 0])
    synced: bool = True
    resuming: bool = False  # a resume request is in flight
    dropped: bool = False  # the watcher could not take what came; fetch it again when it can
    early: list[dict[str, Any]] = field(default_factory=list)  # frames before the first, replacing, reply
    ahead: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # block -> text beyond a gap
    step: int = 0  # the step the blocks hold (0 for a turn with no tool calls)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)  # the step's tool calls, by index

    @classmethod
    def joining(cls) -> TurnFollower:
        """A watcher that does not know what it shows: sync it with `start()`."""
        return cls(synced=False)

    def start(self) -> Delivery:
        """The first request of a joining watcher: everything, from offset 0."""
        return Delivery(ask=self._ask())

    def shown(self) -> tuple[int, int] | None:
        """How many characters of each block the watcher shows, when it shows exactly
        the run's text up to there: synced, nothing dropped or waiting beyond a gap, and
        no tool loop (whose blocks hold only the current step). None when it may not."""
        if not self.synced or self.dropped or self.ahead or self.step:
            return None
        return (self.have[0], self.have[1])

    def on_frame(self, frame: dict[str, Any]) -> Delivery:
        if not self.synced:
            if len(self.early) < MAX_EARLY:
                self.early.append(frame)
            return Delivery()
        return self._take(frame)

    def on_resumed(self, reply: dict[str, Any]) -> Delivery:
        """The run's answer to a resume request."""
        self.resuming = False
        step = reply.get("step", 0)
        if self.synced and step == self.step:
            out = self._take(reply)
            if isinstance(reply.get("calls"), list):  # a watcher that dropped a card's change gets it here
                self.calls = {i: dict(c) for i, c in enumerate(reply["calls"]) if isinstance(c, dict)}
                out.calls = self._calls()
            return out
        if self.synced and step < self.step:
            return Delivery()  # a late reply about an earlier step
        self.synced = True
        r, c = reply["r"], reply["c"]
        self.have = [reply["r_off"] + len(r), reply["c_off"] + len(c)]
        self.ahead.clear()
        # An empty block is left alone: what the watcher holds is a prefix of the
        # run's text, so it is empty too (and for the page, text in the answer
        # block means the answer has started). Not so past a step's end: the
        # watcher may hold an earlier step's text.
        out = Delivery(
            [Piece(b, text, replace=True) for b, text in (("r", r), ("c", c)) if text or step > 0],
            reload_steps=step > 0,
        )
        if step != self.step:
            self.calls = {}
        if isinstance(reply.get("calls"), list):  # the run's calls of the step, where it says them
            self.calls = {i: dict(c) for i, c in enumerate(reply["calls"]) if isinstance(c, dict)}
        if self.calls or step != self.step:
            out.calls = self._calls()
        self.step = step
        early, self.early = self.early, []
        for frame in early:
            more = self._take(frame)
            out.pieces += more.pieces
            out.ask = out.ask or more.ask
        return out

    def on_step(self, event: dict[str, Any]) -> Delivery:
        """The next model call of a tool loop begins: the step before it is saved (show
        the finished steps again), the new step's blocks and calls start empty."""
        if not self.synced or event["step"] <= self.step:
            return Delivery()  # the resume reply to come shows it; or an old message
        self.step = event["step"]
        self.have = [0, 0]
        self.ahead.clear()
        self.calls = {}
        return Delivery(
            [Piece("r", "", replace=True), Piece("c", "", replace=True)], reload_steps=True, calls=[]
        )

    def on_tool(self, event: dict[str, Any]) -> Delivery:
        """A tool call of the current step started, got its arguments, its result, or
        waits for a person's answer: the step's calls as they are now."""
        step = event.get("step", 0)
        if not self.synced or step < self.step:
            return Delivery()  # the resume reply to come shows it; or an old message
        if step > self.step:
            return self._missed_step()
        merge_call(self.calls.setdefault(event["index"], {}), event)
        return Delivery(calls=self._calls())

    def _calls(self) -> list[dict[str, Any]]:
        return [self.calls[i] for i in sorted(self.calls)]

    def on_reclassified(self, event: dict[str, Any]) -> Delivery:
        """The answer so far was reasoning (a close tag with no open tag): both blocks
        are replaced with the run's whole texts, and offsets start from them. Frames
        kept from before are of the old texts."""
        if event.get("step", 0) != self.step:
            return self._missed_step() if event.get("step", 0) > self.step else Delivery()
        self.ahead.clear()
        self.early.clear()
        self.synced = True
        r, c = event["r"], event["c"]
        self.have = [len(r), len(c)]
        return Delivery([Piece("r", r, replace=True), Piece("c", c, replace=True)])

    def forget(self) -> None:
        """Start again as a joining watcher (the texts it holds are no longer a prefix
        of the run's): the next resume, from offset 0, replaces both blocks."""
        self.have = [0, 0]
        self.synced = False
        self.early.clear()
        self.ahead.clear()
        self.on_dropped()

    def on_dropped(self, *, reply: bool = False) -> None:
        """What came (a frame, or with `reply` a resume reply) did not reach the
        watcher: its text is not counted as had, and `retry()` fetches it once
        the watcher reads again."""
        self.dropped = True
        if reply:
            self.resuming = False

    def retry(self) -> tuple[int, int] | None:
        """Ask again: after a drop, or when a request or its reply may have been lost."""
        self.dropped = False
        self.resuming = False
        return self._ask()

    def _ask(self) -> tuple[int, int] | None:
        if self.resuming:
            return None
        self.resuming = True
        return (self.have[0], self.have[1])

    def _missed_step(self) -> Delivery:
        """Something of a later step came before that step's start: sync again."""
        self.forget()
        return Delivery(ask=self.retry())

    def _take(self, frame: dict[str, Any]) -> Delivery:
        step = frame.get("step", 0)
        if step != self.step:
            return self._missed_step() if step > self.step else Delivery()
        out = Delivery()
        gap = False
        for i, block in enumerate(BLOCKS):
            off, text = frame[f"{block}_off"], frame[block]
            waiting = self.ahead.get(i)
            if not waiting and off <= self.have[i]:  # the usual case: contiguous or overlapping
                new = text[self.have[i] - off :]
            else:
                waiting = waiting or []
                if text:
                    waiting.append((off, text))
                new, waiting = join_from(self.have[i], waiting)
                if waiting and len(waiting) < MAX_AHEAD:
                    self.ahead[i] = waiting
                    gap = True
                else:
                    self.ahead.pop(i, None)
                    gap = gap or bool(waiting)
            if new:
                self.have[i] += len(new)
                out.pieces.append(Piece(block, new))
        if gap:
            out.ask = self._ask()
        return out


def join_from(have: int, pieces: list[tuple[int, str]]) -> tuple[str, list[tuple[int, str]]]:
    """The text that continues from offset `have` out of (offset, text) pieces,
    and the pieces still beyond a gap."""
    out: list[str] = []
    left: list[tuple[int, str]] = []
    for off, text in sorted(pieces):
        if off > have:
            left.append((off, text))
        elif off + len(text) > have:
            out.append(text[have - off :])
            have = off + len(text)
    return "".join(out), [(off, text) for off, text in left if off + len(text) > have]
