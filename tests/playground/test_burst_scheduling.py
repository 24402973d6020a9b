"""Many turns started at once (issue 23's burst of 200): what a turn's first frame
must not wait for. Not timed: each test holds the shared database thread, or the
starts, and looks at what got through meanwhile (counts, order, states)."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from playground.models import Conversation, Turn
from tests.playground.test_consumer import login_communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_sockets_messages_do_not_queue_on_the_shared_database_thread(client, owner):
    # Channels hops to asgiref's one shared thread before every handler
    # (close_old_connections), in line behind whatever is queued there: in a burst,
    # every other prompt's store. A turn announced and streaming must reach its page
    # while that thread is busy; here it is held until the socket has both.
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    comm = await login_communicator(client, owner, conv)
    assert (await comm.connect())[0]
    # The socket's connect goes on after the accept (its reads on the shared thread):
    # a message answered proves it has ended, so nothing of it waits on the held thread.
    await comm.send_to(text_data=json.dumps({"action": "stop"}))
    assert "Stop which turn?" in await comm.receive_from(timeout=30)
    entered, release = threading.Event(), threading.Event()

    def hold_the_shared_thread() -> None:
        entered.set()
        release.wait(60)

    holder = asyncio.ensure_future(database_sync_to_async(hold_the_shared_thread)())
    try:
        assert await asyncio.to_thread(entered.wait, 30)
        layer = get_channel_layer()
        announced = '<div hx-swap-oob="beforeend:#turns"><div id="turn-990" data-turn="990"></div></div>'
        await layer.group_send(conv.group_name, {"type": "turn.started", "user_turn": 989, "turn": 990,
                                                  "html": announced})
        await layer.group_send(conv.group_name, {"type": "turn.frame", "turn": 990, "r_off": 0, "r": "hm",
                                                  "c_off": 0, "c": ""})
        got = [await comm.receive_from(timeout=20), await comm.receive_from(timeout=20)]
        assert not release.is_set() and not holder.done()  # the thread was held all along
    finally:
        release.set()
        await holder
    assert 'data-turn="990"' in got[0]
    assert "beforeend:#t990-r" in got[1] and "hm" in got[1]
    await comm.disconnect()


async def test_a_socket_still_rejects_a_group_message_naming_a_private_method(client, owner):
    # The dispatch without the hop keeps channels' check of the handler's name.
    from playground.conversations.consumer import ConversationConsumer

    consumer = ConversationConsumer()
    with pytest.raises(ValueError):
        await consumer.dispatch({"type": "_send_prompt"})
    with pytest.raises(ValueError):
        await consumer.dispatch({"type": "no.such.handler"})


async def test_prompts_sent_at_once_start_in_order_and_the_first_streams_before_the_last_is_stored(
    client, owner, scripted, scripted_model, monkeypatch
):
    # Eight sockets send a prompt each at once. The stores go through the shared
    # thread one at a time, in the order the prompts reached `launch`; the last store
    # is held there. Meanwhile every turn stored before it is shown and streams: none
    # waits for every start. Once it is let go, every turn runs to its end: none is
    # lost, each in its own conversation and socket.
    from playground.streaming import consumer, launch
    from tests.playground.test_consumer import receive_until_done, started_turn

    n = 8
    convs = [await database_sync_to_async(Conversation.objects.create)(owner=owner) for _ in range(n)]
    comms = []
    for conv in convs:
        comm = await login_communicator(client, owner, conv)
        assert (await comm.connect())[0]
        await comm.send_to(text_data=json.dumps({"action": "stop"}))  # its connect has ended
        assert "Stop which turn?" in await comm.receive_from(timeout=30)
        comms.append(comm)
    arrived: list[int] = []  # conversations, in the order their prompts reached launch()
    stored: list[int] = []  # in the order they were stored
    entered, release = threading.Event(), threading.Event()
    launch_it, store = consumer.launch, launch.store

    async def arrive(start, **kwargs):
        arrived.append(start.conversation.pk)
        return await launch_it(start, **kwargs)

    def store_in_turn(start, allowed):
        stored.append(start.conversation.pk)
        if len(stored) == n:
            entered.set()
            release.wait(60)
        return store(start, allowed)

    monkeypatch.setattr(consumer, "launch", arrive)
    monkeypatch.setattr(launch, "store", store_in_turn)
    by_conv = {conv.pk: comm for conv, comm in zip(convs, comms, strict=True)}
    shown: dict[int, int] = {}  # conversation -> its turn
    try:
        for i, comm in enumerate(comms):
            await comm.send_to(text_data=json.dumps({"action": "send", "prompt": f"Q{i}", "model": scripted_model.pk}))
        assert await asyncio.to_thread(entered.wait, 60)
        for pk in arrived[:-1]:  # shown and streaming while the last store is held
            html = await by_conv[pk].receive_from(timeout=30)
            assert 'hx-swap-oob="beforeend:#turns"' in html
            turn_id = int(html.rsplit('data-turn="', 1)[1].split('"', 1)[0])
            while f"beforeend:#t{turn_id}-r" not in html:
                html = await by_conv[pk].receive_from(timeout=30)
            shown[pk] = turn_id
        assert not release.is_set()
    finally:
        release.set()
    assert sorted(arrived) == sorted(conv.pk for conv in convs)
    assert stored == arrived  # first come, first stored
    shown[arrived[-1]] = (await started_turn(by_conv[arrived[-1]])).pk
    for pk in arrived:
        await receive_until_done(by_conv[pk], shown[pk], timeout=30)
        await by_conv[pk].disconnect()
    turns = await database_sync_to_async(
        lambda: list(Turn.objects.filter(conversation__in=convs, role=Turn.Role.ASSISTANT).order_by("pk"))
    )()
    assert [t.conversation_id for t in turns] == arrived  # one turn each, in the order stored
    assert [t.pk for t in turns] == [shown[pk] for pk in arrived]
    unfinished = [(t.status, t.error) for t in turns if t.status != Turn.Status.COMPLETE]
    assert unfinished == []
