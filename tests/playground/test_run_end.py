"""A run's end never waits on its helpers for ever (the CI failure of
`scaleout/test_metrics_workers.py`): a short turn on the Redis pub/sub layer,
under load, ended while its listener was still subscribing to the run's group;
the cancel was lost in the layer, the listener went on into `receive` and waited
there, and the run waited on the listener before its final save: the turn stayed
"streaming" with all its text sent, and no watcher ever heard it had finished."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from channels.layers import get_channel_layer

from playground.streaming import run as runs
from reasoning.events import ContentDelta, Finish, ReasoningDelta
from tests.playground.stream_page import Page, started_turn_id
from tests.playground.test_streams import new_conversation, send_prompt, socket

pytestmark = pytest.mark.django_db(transaction=True)


def layer_losing_a_cancel():
    """The real layer, but a cancel that reaches `group_add` is lost there, as it was
    in the pub/sub layer's SUBSCRIBE (the task still counts it as requested)."""
    real = get_channel_layer()

    class LayerLosingACancel:
        def __getattr__(self, name):
            return getattr(real, name)

        async def group_add(self, group, channel):
            with contextlib.suppress(asyncio.CancelledError):  # lost
                await asyncio.sleep(3)  # longer than the whole turn
            await real.group_add(group, channel)

    return LayerLosingACancel


async def test_a_run_that_ends_while_its_listener_subscribes_saves_and_says_so(
    client, owner, scripted, scripted_model, monkeypatch
):
    monkeypatch.setattr(runs, "get_channel_layer", layer_losing_a_cancel())
    # Short, but long enough for the listener to start subscribing.
    scripted.enqueue([ReasoningDelta("Quick. "), ContentDelta("Done."), Finish("stop")], delay=0.05)
    conv = await new_conversation(owner)
    page = Page()
    comm = await socket(client, owner, conv)
    await send_prompt(comm, scripted_model)
    turn_id = await started_turn_id(comm, page)
    await page.read_until_done(comm, turn_id, timeout=5)
    assert page.status[turn_id] == "complete"
    assert "Done." in page.done[turn_id]
    await comm.disconnect()
    # The listener does not stay behind, waiting on a group nobody sends to.
    for _ in range(250):
        if not any(t.get_name() == f"listen-{turn_id}" for t in asyncio.all_tasks()):
            break
        await asyncio.sleep(0.02)
    assert not any(t.get_name() == f"listen-{turn_id}" for t in asyncio.all_tasks())
