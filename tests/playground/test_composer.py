"""Never two user messages in a row: a prompt sent while an answer streams is refused."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from playground.models import Conversation, Turn
from playground.turns.services import PROMPT_WHILE_STREAMING, BadInput, start_exchange
from reasoning.events import ContentDelta, Finish, ReasoningDelta, Usage
from tests.playground.test_consumer import login_communicator, receive_until_done, started_turn

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_prompt_sent_while_the_answer_streams_is_refused_with_a_message(
    client, owner, scripted, scripted_model
):
    scripted.enqueue(
        [
            ReasoningDelta("Thinking a while."),
            *[ContentDelta(" word") for _ in range(20)],
            Usage(3, 21, 1),
            Finish("stop"),
        ],
        delay=0.05,
    )
    scripted.enqueue([ContentDelta("Second answer."), Finish("stop")])
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    comm = await login_communicator(client, owner, conv)
    assert (await comm.connect())[0]
    await comm.send_to(text_data=json.dumps({"action": "send", "prompt": "First?", "model": scripted_model.pk}))
    turn = await started_turn(comm)

    await comm.send_to(text_data=json.dumps({"action": "send", "prompt": "Too soon?", "model": scripted_model.pk}))
    frames = await receive_until_done(comm, turn.pk)
    notices = [f for f in frames if "innerHTML:#notice" in f]
    assert notices and PROMPT_WHILE_STREAMING.split(":")[0] in notices[0]
    prompts = await database_sync_to_async(list)(
        Turn.objects.filter(conversation=conv, role="user").values_list("content", flat=True)
    )
    assert prompts == ["First?"]

    # Once the answer is in, the next prompt continues it.
    await comm.send_to(text_data=json.dumps({"action": "send", "prompt": "Now?", "model": scripted_model.pk}))
    second = await started_turn(comm)
    await receive_until_done(comm, second.pk)
    await comm.disconnect()
    user_turn = await database_sync_to_async(Turn.objects.get)(pk=second.parent_id)
    assert user_turn.content == "Now?" and user_turn.parent_id == turn.pk


def test_a_prompt_after_an_unanswered_prompt_is_refused(owner, scripted_model):
    conv = Conversation.objects.create(owner=owner)
    Turn.objects.create(conversation=conv, role=Turn.Role.USER, content="Alone")
    with pytest.raises(BadInput):
        start_exchange(conv, "Again", scripted_model, {})
    assert conv.turns.count() == 1


def test_a_turn_left_streaming_by_a_dead_process_does_not_block_the_next_prompt(owner, scripted_model, settings):
    from datetime import timedelta

    from django.utils import timezone

    conv = Conversation.objects.create(owner=owner)
    first = start_exchange(conv, "First", scripted_model, {})
    Turn.objects.filter(pk=first.assistant_turn.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    conv.refresh_from_db()
    second = start_exchange(conv, "Second", scripted_model, {})
    assert second.user_turn.parent_id == first.assistant_turn.pk
    assert Turn.objects.get(pk=first.assistant_turn.pk).status == Turn.Status.INTERRUPTED
