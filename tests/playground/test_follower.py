"""The gap/resume protocol (playground.streaming.follower) against a channel that
reorders, drops and duplicates frames and resume replies: what a watcher shows
is always a prefix of the run's text, never a character twice or out of order,
and once every frame has arrived (or a lost one was asked for again) it is the
whole text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from playground.streaming.follower import Delivery, TurnFollower, join_from


class Watcher:
    """A page's two blocks, rebuilt from what the follower gives."""

    def __init__(self, follower: TurnFollower, shown: tuple[str, str] = ("", "")) -> None:
        self.follower = follower
        self.blocks = {"r": shown[0], "c": shown[1]}
        self.asks: list[tuple[int, int]] = []

    def apply(self, delivery: Delivery) -> None:
        for piece in delivery.pieces:
            self.blocks[piece.block] = piece.text if piece.replace else self.blocks[piece.block] + piece.text
        if delivery.ask is not None:
            self.asks.append(delivery.ask)


def frames_of(deltas: list[tuple[str, str]], cuts: list[bool]) -> list[dict]:
    """The run's frames: deltas coalesced where `cuts` says a frame ends, each with its offsets."""
    frames, text, sent = [], {"r": "", "c": ""}, {"r": 0, "c": 0}
    for (block, delta), cut in zip(deltas, cuts, strict=False):
        text[block] += delta
        if cut:
            frames.append(_frame("turn.frame", sent, text))
            sent = {b: len(text[b]) for b in text}
    frames.append(_frame("turn.frame", sent, text))
    return frames


def _frame(kind: str, offsets: dict[str, int], text: dict[str, str]) -> dict:
    return {"type": kind, "turn": 1, "r_off": offsets["r"], "r": text["r"][offsets["r"] :],
            "c_off": offsets["c"], "c": text["c"][offsets["c"] :]}


def reply(ask: tuple[int, int], upto: tuple[str, str]) -> dict:
    """The run's answer to a resume request: everything it has from the offsets on."""
    return _frame("turn.resumed", {"r": ask[0], "c": ask[1]}, {"r": upto[0], "c": upto[1]})


deltas_strategy = st.lists(
    st.tuples(st.sampled_from("rc"), st.text(alphabet="abcdefghij", min_size=1, max_size=5)), min_size=1, max_size=30
)


def assert_prefix(watcher: Watcher, truth: tuple[str, str]) -> None:
    r, c = watcher.blocks["r"], watcher.blocks["c"]
    assert truth[0].startswith(r) and truth[1].startswith(c), (r, c, truth)
    assert watcher.follower.have == [len(r), len(c)]


@settings(max_examples=300, deadline=None)
@given(deltas=deltas_strategy, data=st.data(), joining=st.booleans())
def test_reordered_dropped_and_duplicated_frames_never_show_a_character_twice_or_out_of_order(deltas, data, joining):
    cuts = data.draw(st.lists(st.booleans(), min_size=len(deltas), max_size=len(deltas)))
    frames = frames_of(deltas, cuts)
    truth = ("".join(t for b, t in deltas if b == "r"), "".join(t for b, t in deltas if b == "c"))
    if joining:
        # The page shows a checkpoint it cannot vouch for (taken before the first
        # frame the socket may see, so a prefix of every reply); the first reply replaces it.
        first = _text_upto(frames, 0)
        shown = (first[0][: data.draw(st.integers(0, len(first[0])))], first[1][: data.draw(st.integers(0, 1))])
        watcher = Watcher(TurnFollower.joining(), shown)
        watcher.apply(watcher.follower.start())
    else:
        watcher = Watcher(TurnFollower())
    # What the channel delivers: frames in any order, some twice, some never;
    # replies to resume requests late, early, or never.
    order = data.draw(st.lists(st.integers(0, len(frames) - 1), max_size=3 * len(frames)))
    published = -1
    pending: list[dict] = []
    for index in order:
        published = max(published, index)
        upto = _text_upto(frames, published)
        while watcher.asks:
            ask = watcher.asks.pop()
            if data.draw(st.booleans()):  # else the request or its reply is lost
                pending.append(reply(ask, upto))
        if pending and data.draw(st.booleans()):
            watcher.apply(watcher.follower.on_resumed(pending.pop(data.draw(st.integers(0, len(pending) - 1)))))
        else:
            watcher.apply(watcher.follower.on_frame(frames[index]))
        if watcher.follower.synced:
            assert_prefix(watcher, truth)
        assert_shown_is_exact(watcher, truth)
    for late in pending:
        watcher.apply(watcher.follower.on_resumed(late))
    if watcher.follower.synced:
        assert_prefix(watcher, truth)
    # The watchdog's retry, answered, brings the whole text; nothing is shown twice.
    for _ in range(3):
        if (watcher.blocks["r"], watcher.blocks["c"]) == truth:
            break
        ask = watcher.follower.retry()
        assert ask is not None
        watcher.apply(watcher.follower.on_resumed(reply(ask, truth)))
        assert_prefix(watcher, truth)
    assert (watcher.blocks["r"], watcher.blocks["c"]) == truth


@settings(max_examples=300, deadline=None)
@given(deltas=deltas_strategy, data=st.data())
def test_when_every_frame_arrives_in_any_order_the_whole_text_is_shown_with_no_retry(deltas, data):
    cuts = data.draw(st.lists(st.booleans(), min_size=len(deltas), max_size=len(deltas)))
    frames = frames_of(deltas, cuts)
    truth = ("".join(t for b, t in deltas if b == "r"), "".join(t for b, t in deltas if b == "c"))
    order = data.draw(st.permutations(range(len(frames))))
    extra = data.draw(st.lists(st.integers(0, len(frames) - 1), max_size=len(frames)))  # duplicates
    watcher = Watcher(TurnFollower())
    for index in [*order, *extra]:
        watcher.apply(watcher.follower.on_frame(frames[index]))
        assert_prefix(watcher, truth)
    assert (watcher.blocks["r"], watcher.blocks["c"]) == truth
    assert not watcher.follower.ahead


def assert_shown_is_exact(watcher: Watcher, truth: tuple[str, str]) -> None:
    """What `shown()` vouches for is exactly what the page shows: the run's text up to there
    (the end of the turn may then keep the page's blocks rather than send them again)."""
    shown = watcher.follower.shown()
    if shown is not None:
        assert (watcher.blocks["r"], watcher.blocks["c"]) == (truth[0][: shown[0]], truth[1][: shown[1]])


def test_shown_vouches_only_for_a_watcher_that_holds_the_runs_text_exactly():
    follower = TurnFollower()
    follower.on_frame({"type": "turn.frame", "turn": 1, "r_off": 0, "r": "ab", "c_off": 0, "c": ""})
    assert follower.shown() == (2, 0)
    follower.on_frame({"type": "turn.frame", "turn": 1, "r_off": 4, "r": "ef", "c_off": 0, "c": ""})
    assert follower.shown() is None  # "ef" waits beyond a gap: the page shows less than the run wrote
    follower.on_resumed({"type": "turn.resumed", "turn": 1, "r_off": 2, "r": "cd", "c_off": 0, "c": "x"})
    assert follower.shown() == (6, 1)
    follower.on_dropped()  # a frame could not be sent
    assert follower.shown() is None
    follower.retry()
    follower.on_resumed({"type": "turn.resumed", "turn": 1, "r_off": 6, "r": "", "c_off": 1, "c": "y"})
    assert follower.shown() == (6, 2)
    assert TurnFollower.joining().shown() is None  # what a page that just loaded shows is not known
    stepped = TurnFollower()
    stepped.on_step({"type": "turn.step", "turn": 1, "step": 1})
    assert stepped.shown() is None  # a tool loop's blocks hold only the current step


def test_one_resume_request_is_in_flight_at_a_time_until_answered_or_retried():
    follower = TurnFollower()
    gap = {"type": "turn.frame", "turn": 1, "r_off": 5, "r": "fg", "c_off": 0, "c": ""}
    assert follower.on_frame(gap).ask == (0, 0)
    assert follower.on_frame({**gap, "r_off": 7, "r": "h"}).ask is None  # still waiting for the reply
    assert follower.retry() == (0, 0)  # the watchdog: the reply may be lost
    delivery = follower.on_resumed({"type": "turn.resumed", "turn": 1, "r_off": 0, "r": "abcde", "c_off": 0, "c": ""})
    assert [(p.block, p.text) for p in delivery.pieces] == [("r", "abcdefgh")]


def test_a_dropped_frame_is_fetched_again_when_the_watcher_reads_again():
    follower = TurnFollower()
    follower.on_frame({"type": "turn.frame", "turn": 1, "r_off": 0, "r": "ab", "c_off": 0, "c": ""})
    follower.on_dropped()  # the next frame, "cd", could not be sent
    assert follower.dropped and follower.have == [2, 0]
    assert follower.retry() == (2, 0)
    assert not follower.dropped


def test_join_from_takes_contiguous_text_and_keeps_what_lies_beyond_a_gap():
    assert join_from(3, [(5, "fg"), (0, "abcde")]) == ("defg", [])
    assert join_from(3, [(9, "jk"), (2, "cde")]) == ("de", [(9, "jk")])
    assert join_from(3, [(0, "ab")]) == ("", [])


def _text_upto(frames: list[dict], index: int) -> tuple[str, str]:
    """The run's whole text once frame `index` is published."""
    return (_block_upto(frames, index, "r"), _block_upto(frames, index, "c"))


def _block_upto(frames: list[dict], index: int, block: str) -> str:
    text = ""
    for frame in frames[: index + 1]:
        text = text[: frame[f"{block}_off"]] + frame[block]
    return text
