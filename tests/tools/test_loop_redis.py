"""The tool loop's messages through the Redis channel layer (scale-out mode): every
tool message and step boundary survives the layer's serialisation, in order, for a
watcher of the conversation's group (a socket on another worker); the reader in the
run's own process (ask, through its tap) sees the same messages."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.layers import channel_layers

from playground.streaming.tap import ToolNote
from reasoning.events import ContentDelta, Finish
from tests.scaleout.harness import services_or_skip
from tests.tools.test_tool_loop import FakeToolbox, ask, calls_step, conversation_with_tools

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@pytest.fixture
def redis_layer(settings):
    _, redis_url = services_or_skip()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": f"toolrun-{uuid.uuid4().hex[:8]}"},
        }
    }
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


async def test_a_loop_through_redis(redis_layer, owner, scripted_model, scripted, monkeypatch):
    from channels.layers import get_channel_layer

    from playground.streaming import run as runs

    assert type(get_channel_layer()).__name__ == "RedisChannelLayer"
    box = FakeToolbox()

    async def opened(selection):
        return box

    monkeypatch.setattr(runs, "_open_toolbox", opened)
    scripted.enqueue(calls_step(("c1", "add", '{"a": 2, "b": 3}'), ("c2", "now", "{}")))
    scripted.enqueue([ContentDelta("5 at noon."), Finish("stop")])
    conversation = await conversation_with_tools(owner, scripted_model, ["fake"])
    layer = get_channel_layer()
    watcher = await layer.new_channel()
    await layer.group_add(conversation.group_name, watcher)
    turn, seen = await ask(owner, scripted_model, "2+3 and the time?", conversation=conversation)
    watched: list[dict] = []
    while True:
        message = await asyncio.wait_for(layer.receive(watcher), timeout=10)
        if message.get("type") == "turn.done":
            break
        if message.get("type", "").startswith("tool.") or message.get("type") == "turn.step":
            watched.append(message)
    await layer.group_discard(conversation.group_name, watcher)
    assert turn.status == "complete" and turn.content == "5 at noon."
    notes = [item.message for item in seen if isinstance(item, ToolNote)]
    kinds = [n["type"] for n in notes]
    assert kinds.count("tool.start") == 2 and kinds.count("tool.result") == 2 and kinds[-1] == "turn.step"
    assert {(n["id"], n["result"]) for n in notes if n["type"] == "tool.result"} == {("c1", "5"), ("c2", "12:00")}
    assert [n["type"] for n in watched] == kinds  # through Redis, the same messages in the same order
    assert {(n["id"], n["result"]) for n in watched if n["type"] == "tool.result"} == {("c1", "5"), ("c2", "12:00")}
    text = "".join(item.text for item in seen if not isinstance(item, ToolNote) and item.block == "c")
    assert text == "5 at noon."
