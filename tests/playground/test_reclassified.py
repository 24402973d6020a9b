"""Text streamed as answer that turns out to be reasoning (a close tag with no open
tag): the run moves it, the store keeps it as reasoning, every socket replaces both
blocks, and the timings say the answer started after it."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from playground.models import Conversation
from reasoning.events import ContentDelta, Finish, Reclassified, Usage
from tests.playground.test_consumer import login_communicator, receive_until_done, started_turn

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_reclassification_moves_the_streamed_answer_into_the_thought_block(
    client, owner, scripted, scripted_model
):
    scripted.enqueue(
        [ContentDelta("The user wants 17*23."), ContentDelta(" 340 + 51."), Reclassified(),
         ContentDelta("391"), Usage(5, 9, None), Finish("stop")],
        delay=0.08,
    )
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    comm = await login_communicator(client, owner, conv)
    assert (await comm.connect())[0]
    await comm.send_to(text_data=json.dumps({"action": "send", "prompt": "17*23?", "model": scripted_model.pk}))
    turn = await started_turn(comm)
    frames = await receive_until_done(comm, turn.pk)
    await comm.disconnect()

    moved = [i for i, f in enumerate(frames) if f'innerHTML:#t{turn.pk}-r' in f]
    assert len(moved) == 1, frames
    swap = frames[moved[0]]
    assert "The user wants 17*23. 340 + 51." in swap.split(f"innerHTML:#t{turn.pk}-r", 1)[1]
    assert f'<div hx-swap-oob="innerHTML:#t{turn.pk}-c"></div>' in swap  # the answer block emptied
    # Before it the text went to the answer block; after it only "391" does.
    before = "".join(f for f in frames[: moved[0]] if f"beforeend:#t{turn.pk}-c" in f)
    after = "".join(f for f in frames[moved[0] + 1 :] if f"beforeend:#t{turn.pk}-c" in f)
    assert "17*23" in before and "391" in after and "17*23" not in after

    await database_sync_to_async(turn.refresh_from_db)()
    assert (turn.reasoning, turn.content, turn.status) == ("The user wants 17*23. 340 + 51.", "391", "complete")
    assert turn.first_reasoning_ms is not None
    assert turn.first_content_ms is not None and turn.first_content_ms > turn.first_reasoning_ms


async def test_a_control_the_model_cannot_honour_is_refused_in_the_page_before_anything_is_sent(client, owner):
    from playground.models import ModelProfile, Provider, Turn

    def model():
        provider = Provider.objects.create(name="own", kind="openai", base_url="http://127.0.0.1:9/v1")
        return ModelProfile.objects.create(
            provider=provider, model_id="my-model", label="Mine", thinking_control="none"
        )

    profile = await database_sync_to_async(model)()
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    comm = await login_communicator(client, owner, conv)
    assert (await comm.connect())[0]
    message = {"action": "send", "prompt": "Hi", "model": profile.pk, "thinking": "on"}
    await comm.send_to(text_data=json.dumps(message))
    notice = await comm.receive_from(timeout=5)
    await comm.disconnect()
    assert "Thinking On is not available for Mine" in notice
    assert "Choose Default." in notice  # what would work
    assert not await database_sync_to_async(Turn.objects.exists)()
