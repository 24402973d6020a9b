"""Issue 23.2: a reader in the run's process (the API, `ask`) is handed each piece
as the run parses it (playground.streaming.tap), while the run still checkpoints
and feeds the sockets' frames in the same pass: the reader's text, a watcher's
text through the layer and the stored turn are the same, character for character."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer

from playground.streaming.follower import TurnFollower
from playground.streaming.launch import Question, launch
from playground.streaming.run import RUNS
from reasoning.events import ContentDelta, Finish, ReasoningDelta, Reclassified, Usage

pytestmark = pytest.mark.django_db(transaction=True)

REASONING = [ReasoningDelta(f"r{i} ") for i in range(30)]
CONTENT = [ContentDelta(f"c{i} ") for i in range(30)]


async def watch(group, turn_id):
    """A socket's view: frames through the channel layer, by the gap/resume protocol."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    follower = TurnFollower()
    text = {"r": "", "c": ""}
    try:
        async with asyncio.timeout(10):
            while True:
                message = await layer.receive(channel)
                if message.get("turn") != turn_id:
                    continue
                kind = message["type"]
                if kind == "turn.done":
                    return text
                if kind == "turn.frame":
                    delivery = follower.on_frame(message)
                elif kind == "turn.reclassified":
                    delivery = follower.on_reclassified(message)
                else:
                    continue
                for piece in delivery.pieces:
                    text[piece.block] = piece.text if piece.replace else text[piece.block] + piece.text
    finally:
        await layer.group_discard(group, channel)


async def test_the_reader_gets_every_piece_as_parsed_and_equals_the_watchers_and_the_store(
    owner, scripted, scripted_model, settings
):
    settings.FRAME_INTERVAL = 0.5  # frames coalesce; the direct reader must not
    scripted.enqueue([*REASONING, *CONTENT, Usage(3, 60, 30), Finish("stop")], delay=0.005)
    launched = await launch(Question(owner, scripted_model, "Go"), follow=True)
    watcher = asyncio.create_task(watch(launched.group, launched.turn_id))
    pieces = [(p.block, p.text) async for p in launched.deltas()]
    seen = await watcher
    turn = await launched.outcome()
    # One piece per parsed delta, in order, in its field (no frame joined them).
    assert pieces == [("r", d.text) for d in REASONING] + [("c", d.text) for d in CONTENT]
    read = ("".join(t for b, t in pieces if b == "r"), "".join(t for b, t in pieces if b == "c"))
    assert (turn.reasoning, turn.content, turn.status) == (*read, "complete")
    assert seen == {"r": turn.reasoning, "c": turn.content}
    assert launched.turn_id not in RUNS and launched.run is not None and launched.run.taps == []


async def test_a_reclassified_answer_replaces_both_blocks_for_the_reader(owner, scripted, scripted_model):
    scripted.enqueue([ContentDelta("was "), ContentDelta("thinking"), Reclassified(), ContentDelta("Answer."),
                      Finish("stop")], delay=0.005)
    launched = await launch(Question(owner, scripted_model, "Go"), follow=True)
    watcher = asyncio.create_task(watch(launched.group, launched.turn_id))
    text = {"r": "", "c": ""}
    async for piece in launched.deltas():
        text[piece.block] = piece.text if piece.replace else text[piece.block] + piece.text
    turn = await launched.outcome()
    assert text == {"r": "was thinking", "c": "Answer."} == {"r": turn.reasoning, "c": turn.content}
    assert await watcher == text


async def test_a_reader_that_leaves_detaches_its_tap(owner, scripted, scripted_model):
    scripted.enqueue([*REASONING, Finish("stop")], delay=0.01)
    launched = await launch(Question(owner, scripted_model, "Go"), follow=True)
    deltas = launched.deltas()
    assert (await anext(deltas)).text == "r0 "
    assert launched.run is not None and len(launched.run.taps) == 1
    await deltas.aclose()
    assert launched.run.taps == []
    await launched.stop()
    assert (await launched.outcome()).status == "stopped"
