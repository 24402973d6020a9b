"""A finished chat turn is rendered once, by its run, and carried in "turn.done"
(issue 23.3): every watching socket used to render it again from the database
(the turn, its siblings, its rating, the conversation's totals: four queries a
socket a turn). What the run carries must be what a socket would have rendered
from the database, for whatever part of the text its page shows; and a new
exchange's render knows its siblings from the turns its store read."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from playground.conversations import fragments
from playground.conversations.consumer import ConversationConsumer
from playground.conversations.fragments import KEEP_STREAMED_CHARS, carried_finished_html, render_turn_oob
from playground.models import Conversation, Rating, Turn
from playground.streaming.launch import Question, launch, store
from playground.turns.services import start_exchange
from reasoning.events import ContentDelta, Finish, ReasoningDelta, Usage
from tests.playground.test_consumer import login_communicator, receive_until_done, started_turn

pytestmark = pytest.mark.django_db(transaction=True)

LONG = ("A step of the **thought** <b>kept</b>.\n\n" * (KEEP_STREAMED_CHARS // 30))[: KEEP_STREAMED_CHARS + 5]


async def finished_message(conversation, prompt_events, scripted, scripted_model, *, owner) -> dict:
    """Run one chat turn as the chat socket starts it; the "turn.done" its group got."""
    scripted.enqueue(prompt_events)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(conversation.group_name, channel)
    await launch(Question(owner=owner, model=scripted_model, text="Go", conversation=conversation),
                 render_done=ConversationConsumer.render_done)
    async with asyncio.timeout(10):
        while (message := await layer.receive(channel))["type"] != "turn.done":
            pass
    await layer.group_discard(conversation.group_name, channel)
    return message


@pytest.mark.parametrize("reasoning", ["Brief.", LONG])
async def test_the_carried_render_is_the_database_render_for_any_page(
    owner, scripted, scripted_model, reasoning
):
    conversation = await Conversation.objects.acreate(owner=owner, model=scripted_model)
    # An earlier answer with a cost and a rating, and a sibling of the new prompt's answer
    # to come: the totals, the rating and the ‹ 1/2 › switcher all show in the render.
    earlier = await database_sync_to_async(start_exchange)(conversation, "Before?", scripted_model, {})
    await Turn.objects.filter(pk=earlier.assistant_turn.pk).aupdate(
        status="complete", content="yes", prompt_tokens=7, completion_tokens=11, cost="0.0125", duration_ms=40
    )
    await Rating.objects.acreate(turn=earlier.assistant_turn, value=1, note="good")
    message = await finished_message(
        conversation, [ReasoningDelta(reasoning), ContentDelta("The answer."), Usage(3, 5, 2), Finish("stop")],
        scripted, scripted_model, owner=owner,
    )
    turn = await Turn.objects.aget(pk=message["turn"])
    assert turn.status == Turn.Status.COMPLETE and message.get("finished")
    whole = (len(turn.reasoning), len(turn.content))
    for shown in (None, whole, (whole[0] - 1, whole[1]), (0, 0)):
        from_database = await database_sync_to_async(render_turn_oob)(turn.pk, shown)
        assert carried_finished_html(message["finished"], shown) == from_database, shown
    assert "0.0125" in from_database or "$0.01" in from_database  # the totals count the earlier answer


async def test_a_rating_given_while_it_streamed_is_in_the_carried_render(owner, scripted, scripted_model):
    conversation = await Conversation.objects.acreate(owner=owner, model=scripted_model)
    scripted.enqueue([ContentDelta("Slow"), ContentDelta(" answer."), Finish("stop")], delay=0.3)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(conversation.group_name, channel)
    launched = await launch(Question(owner=owner, model=scripted_model, text="Go", conversation=conversation),
                            render_done=ConversationConsumer.render_done)
    await Rating.objects.acreate(turn_id=launched.turn_id, value=-1, note="meh, while streaming")
    async with asyncio.timeout(10):
        while (message := await layer.receive(channel))["type"] != "turn.done":
            pass
    html = carried_finished_html(message["finished"], None)
    assert html is not None and "meh, while streaming" in html
    assert html == await database_sync_to_async(render_turn_oob)(launched.turn_id, None)


async def test_every_watching_socket_shows_the_one_render(client, owner, scripted, scripted_model, monkeypatch):
    renders: list[int] = []
    once = fragments.render_finished_once
    monkeypatch.setattr(fragments, "render_finished_once", lambda turn: renders.append(turn.pk) or once(turn))
    monkeypatch.setattr(fragments, "render_turn_oob", lambda *a: pytest.fail("a socket rendered it again"))
    scripted.enqueue([ReasoningDelta("hm"), ContentDelta("ok"), Usage(2, 3, 1), Finish("stop")])
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    sockets = [await login_communicator(client, owner, conv) for _ in range(3)]
    for comm in sockets:
        assert (await comm.connect())[0]
    await sockets[0].send_to(text_data=json.dumps({"action": "send", "prompt": "Go", "model": scripted_model.pk}))
    turn = await started_turn(sockets[0])
    for n, comm in enumerate(sockets):
        if n:
            await started_turn(comm)
        frames = await receive_until_done(comm, turn.pk)
        assert 'id="totals"' in "".join(frames) or "totals" in frames[-1]
        await comm.disconnect()
    assert renders == [turn.pk]


async def test_a_new_prompt_knows_its_siblings_without_reading_them(owner, scripted_model):
    """A prompt sent below an answer that already has one (its branch was left for
    another and the leaf set back by hand here): the new prompt is its second."""
    conversation = await Conversation.objects.acreate(owner=owner, model=scripted_model)

    def setup() -> Turn:
        first = start_exchange(conversation, "First?", scripted_model, {})
        Turn.objects.filter(pk=first.assistant_turn.pk).update(status="complete", content="yes")
        second = start_exchange(conversation, "Second?", scripted_model, {})
        Turn.objects.filter(pk=second.assistant_turn.pk).update(status="complete", content="yes")
        Conversation.objects.filter(pk=conversation.pk).update(leaf=first.assistant_turn)
        return first.assistant_turn

    parent = await database_sync_to_async(setup)()

    def exchange_renders() -> tuple[str, str]:
        exchange = store(Question(owner=owner, model=scripted_model.pk, text="Third?", params={},
                                  conversation=conversation))
        assert exchange.user_turn.parent_id == parent.pk
        known = fragments.render_new_exchange(exchange.user_turn, exchange.assistant_turn)
        read = fragments.render_new_exchange(exchange.user_turn.pk, exchange.assistant_turn.pk)
        return known, read

    known, read = await database_sync_to_async(exchange_renders)()
    assert known == read
    assert "2/2" in known or "2 of 2" in known
