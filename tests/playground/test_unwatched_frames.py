"""Issue 23.1: a run whose conversation no socket of this process watches (a /v1
turn, mostly) builds no frames, since the in-process layer would drop them; the
run's offsets move on as if they had been sent, so a socket that joins later gets
the frames a joining socket always got, and every watcher equals the store."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer

from playground.streaming.follower import TurnFollower
from playground.streaming.launch import Question, launch
from playground.streaming.layers import InMemoryChannelLayer
from reasoning.events import ContentDelta, Finish, ReasoningDelta, Usage

pytestmark = pytest.mark.django_db(transaction=True)

REASONING = [ReasoningDelta(f"r{i} ") for i in range(40)]
CONTENT = [ContentDelta(f"c{i} ") for i in range(20)]


@pytest.fixture
def sent_frames(monkeypatch):
    """Every text frame the run hands to the layer, whoever it reaches."""
    frames: list[dict] = []
    original = InMemoryChannelLayer.group_send

    async def recording(self, group, message):
        if message.get("type") == "turn.frame":
            frames.append(message)
        await original(self, group, message)

    monkeypatch.setattr(InMemoryChannelLayer, "group_send", recording)
    return frames


async def test_a_run_nobody_watches_builds_no_frames_and_its_reader_equals_the_store(
    owner, scripted, scripted_model, settings, sent_frames
):
    settings.FRAME_INTERVAL = 0.01
    assert isinstance(get_channel_layer(), InMemoryChannelLayer)
    scripted.enqueue([*REASONING, *CONTENT, Usage(3, 60, 30), Finish("stop")], delay=0.003)
    launched = await launch(Question(owner, scripted_model, "Go"), follow=True)
    pieces = [(p.block, p.text) async for p in launched.deltas()]
    turn = await launched.outcome()
    assert sent_frames == []
    assert pieces == [("r", d.text) for d in REASONING] + [("c", d.text) for d in CONTENT]
    assert (turn.reasoning, turn.content, turn.status) == (
        "".join(d.text for d in REASONING), "".join(d.text for d in CONTENT), "complete")
    # The run's published offsets moved on as if every frame had gone out.
    assert launched.run is not None
    assert (launched.run._r_sent, launched.run._c_sent) == (len(turn.reasoning), len(turn.content))


async def test_a_socket_that_joins_mid_stream_resumes_and_equals_the_store(
    owner, scripted, scripted_model, settings, sent_frames
):
    settings.FRAME_INTERVAL = 0.01
    scripted.enqueue([*REASONING, *CONTENT, Finish("stop")], delay=0.01)
    launched = await launch(Question(owner, scripted_model, "Go"), follow=True)
    deltas = launched.deltas()
    read = {"r": "", "c": ""}
    for _ in range(10):  # a quarter of the thought goes by unwatched
        piece = await anext(deltas)
        read[piece.block] += piece.text
    assert sent_frames == []

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(launched.group, channel)
    follower = TurnFollower.joining()  # a joining socket cannot know what its page shows
    ask = follower.start().ask
    seen = {"r": "", "c": ""}

    async def watch() -> None:
        nonlocal ask
        async with asyncio.timeout(10):
            while True:
                if ask is not None:
                    await layer.group_send(f"run-{launched.turn_id}", {
                        "type": "run.resume", "reply_to": channel, "r_off": ask[0], "c_off": ask[1]})
                    ask = None
                message = await layer.receive(channel)
                kind = message["type"]
                if kind == "turn.done":
                    return
                if kind == "turn.frame":
                    delivery = follower.on_frame(message)
                elif kind == "turn.resumed":
                    delivery = follower.on_resumed(message)
                else:
                    continue
                ask = delivery.ask
                for p in delivery.pieces:
                    seen[p.block] = p.text if p.replace else seen[p.block] + p.text

    watcher = asyncio.create_task(watch())
    async for piece in deltas:
        read[piece.block] += piece.text
    await watcher
    await layer.group_discard(launched.group, channel)
    turn = await launched.outcome()
    assert sent_frames, "a watched run sends its frames"
    assert read == seen == {"r": turn.reasoning, "c": turn.content}


async def test_the_layer_checks_a_group_name_once_and_an_invalid_one_every_time():
    layer = InMemoryChannelLayer()
    assert not layer.has_members("conversation-1")
    await layer.group_send("conversation-1", {"type": "turn.frame"})
    assert "conversation-1" in layer._valid_groups
    channel = await layer.new_channel()
    await layer.group_add("conversation-1", channel)
    assert layer.has_members("conversation-1")
    await layer.group_send("conversation-1", {"type": "turn.frame", "r": "x"})
    assert (await layer.receive(channel))["r"] == "x"
    for _ in range(2):
        with pytest.raises(TypeError):
            await layer.group_send("not a valid name!", {"type": "turn.frame"})
    assert "not a valid name!" not in layer._valid_groups
