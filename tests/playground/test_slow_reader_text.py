"""A long text delivery (a resume reply after a gap can hold a whole backlog) to a
socket whose browser stops reading: the messages not yet written are dropped like
frames, and the follower fetches their text again once the browser reads."""

from __future__ import annotations

from playground.streaming.consumer import StreamingConsumer, text_messages
from playground.streaming.follower import Piece, TurnFollower
from playground.streaming.messages import MESSAGE_BYTES, TEXT_CHARS

TURN = 7


class Reader:
    """Stands in for backpressure.SlowReader: Twisted pauses it once a message is written."""

    def __init__(self) -> None:
        self.paused = False
        self.drops = 0

    def sent(self) -> None:
        pass

    def dropped(self) -> None:
        self.drops += 1


def consumer_with(follower: TurnFollower) -> tuple[StreamingConsumer, list[str], Reader]:
    consumer = StreamingConsumer.__new__(StreamingConsumer)
    consumer.following = {TURN: follower}
    reader = consumer.slow_reader = Reader()  # type: ignore[assignment]
    written: list[str] = []

    async def send(text_data: str | None = None, **_: object) -> None:
        assert text_data is not None
        written.append(text_data)
        reader.paused = True  # the buffer passed Twisted's threshold

    consumer.send = send  # type: ignore[method-assign]
    return consumer, written, reader


def test_text_messages_say_what_each_carries():
    pieces = [Piece("r", "x" * (7 * TEXT_CHARS + 5)), Piece("c", "y" * 10, replace=True)]
    messages = text_messages(TURN, pieces)
    assert len(messages) > 1 and all(len(m.encode()) <= MESSAGE_BYTES for m, _ in messages)
    carried = [c for _, carries in messages for c in carries]
    assert carried == [("r", TEXT_CHARS, False)] * 7 + [("r", 5, False), ("c", 10, True)]


async def test_messages_not_written_once_paused_are_fetched_again():
    follower = TurnFollower()
    backlog = "x" * (8 * TEXT_CHARS)
    delivery = follower.on_resumed({"r_off": 0, "r": backlog, "c_off": 0, "c": ""})  # synced: appended
    assert follower.have == [len(backlog), 0]
    consumer, written, reader = consumer_with(follower)
    await consumer._deliver(TURN, delivery)
    assert len(written) == 1  # one message crossed the threshold; the rest were not written
    sent_chars = sum(chars for _, carries in text_messages(TURN, delivery.pieces)[:1] for _, chars, _ in carries)
    assert sent_chars < len(backlog)
    assert follower.have == [sent_chars, 0] and follower.dropped and reader.drops == 1
    assert follower.retry() == (sent_chars, 0)  # once the browser reads: from where the page is


async def test_a_replacing_text_not_written_syncs_again_from_the_start():
    follower = TurnFollower.joining()
    follower.start()
    reply = {"r_off": 0, "r": "x" * (7 * TEXT_CHARS), "c_off": 0, "c": "answer"}
    delivery = follower.on_resumed(reply)  # replaces both blocks
    consumer, written, _ = consumer_with(follower)
    await consumer._deliver(TURN, delivery)
    assert len(written) == 1
    # The answer block's replacement was not written: what the page holds there is
    # not a prefix of the run's text, so the next resume starts from 0 and replaces.
    assert not follower.synced and follower.have == [0, 0] and follower.dropped
    assert follower.retry() == (0, 0)
