"""The conversation socket, through the routed application."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from playground.asgi import application
from playground.models import Conversation, Turn
from reasoning.events import ContentDelta, Finish, ReasoningDelta, Usage

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(user, conversation, query=""):
    from channels.auth import AuthMiddlewareStack  # noqa: F401  (routed app includes it)

    comm = WebsocketCommunicator(
        application,
        f"/ws/conversations/{conversation.pk}/{query}",
        headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")],
    )
    comm.scope["user"] = user  # what AuthMiddlewareStack would set from the session
    return comm


async def login_communicator(client, user, conversation, query=""):
    await database_sync_to_async(client.force_login)(user)
    cookie = client.cookies["sessionid"].value
    return WebsocketCommunicator(
        application,
        f"/ws/conversations/{conversation.pk}/{query}",
        headers=[
            (b"origin", b"http://127.0.0.1"),
            (b"host", b"127.0.0.1"),
            (b"cookie", f"sessionid={cookie}".encode()),
        ],
    )


async def started_turn(comm):
    """Wait for the new exchange to be shown; return the assistant turn."""
    html = await comm.receive_from(timeout=5)
    assert 'hx-swap-oob="beforeend:#turns"' in html
    turn_id = int(html.rsplit('data-turn="', 1)[1].split('"', 1)[0])
    return await database_sync_to_async(Turn.objects.get)(pk=turn_id)


async def receive_until_done(comm, turn_id, timeout=5.0):  # noqa: ASYNC109 (the communicator's own timeout)
    frames = []
    while True:
        text = await comm.receive_from(timeout=timeout)
        frames.append(text)
        if f'id="turn-{turn_id}"' in text and 'hx-swap-oob="outerHTML"' in text:
            return frames


async def test_it_streams_reasoning_then_content_as_separate_events(client, owner, scripted, scripted_model):
    scripted.enqueue(
        [ReasoningDelta("First I think."), ReasoningDelta(" Then more."), ContentDelta("Answer"),
         ContentDelta(" done."), Usage(5, 9, 4), Finish("stop")],
        delay=0.05,
    )
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    comm = await login_communicator(client, owner, conv)
    connected, _ = await comm.connect()
    assert connected
    await comm.send_to(text_data=json.dumps({"action": "send", "prompt": "Why?", "model": scripted_model.pk}))
    turn = await started_turn(comm)
    frames = await receive_until_done(comm, turn.pk)
    await comm.disconnect()

    appended = [f for f in frames if "beforeend:#t" in f]
    kinds = ["r" if f"#t{turn.pk}-r" in f else "c" for f in appended]
    # All reasoning before any content, and each frame is one block's new text.
    assert kinds == sorted(kinds, key=lambda k: k == "c")
    assert "r" in kinds and "c" in kinds
    # A message may also carry the run's thinking time for the thought label (#t<id>-clock).
    def text(block: str) -> str:
        swap = re.compile(rf'<div hx-swap-oob="beforeend:#t{turn.pk}-{block}">(.*?)</div>', re.S)
        return "".join(t for f in appended for t in swap.findall(f))

    text_r, text_c = text("r"), text("c")
    assert text_r == "First I think. Then more."
    assert text_c == "Answer done."
    await database_sync_to_async(turn.refresh_from_db)()
    assert (turn.reasoning, turn.content, turn.status) == ("First I think. Then more.", "Answer done.", "complete")
    assert (turn.prompt_tokens, turn.completion_tokens, turn.reasoning_tokens) == (5, 9, 4)


async def test_it_closes_a_strangers_socket(client, owner, stranger):
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    comm = await login_communicator(client, stranger, conv)
    connected, code = await comm.connect()
    assert not connected or code == 4403
    if connected:
        assert (await comm.receive_output())["type"] == "websocket.close"


async def test_it_refuses_an_anonymous_socket(owner):
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    comm = WebsocketCommunicator(application, f"/ws/conversations/{conv.pk}/", headers=headers)
    connected, _ = await comm.connect()
    assert not connected


async def test_it_refuses_a_foreign_origin(client, owner):
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    await database_sync_to_async(client.force_login)(owner)
    comm = WebsocketCommunicator(
        application,
        f"/ws/conversations/{conv.pk}/",
        headers=[(b"origin", b"http://evil.example"), (b"host", b"127.0.0.1"),
                 (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())],
    )
    connected, _ = await comm.connect()
    assert not connected


async def test_a_late_socket_gets_the_rest_without_gap_or_duplicate(client, owner, scripted, scripted_model):
    from tests.playground.stream_page import Page

    words = [ReasoningDelta(f"r{i} ") for i in range(30)] + [ContentDelta(f"c{i} ") for i in range(30)]
    scripted.enqueue([*words, Finish("stop")], delay=0.01)
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    first = await login_communicator(client, owner, conv)
    await first.connect()
    await first.send_to(text_data=json.dumps({"action": "send", "prompt": "Go", "model": scripted_model.pk}))
    turn = await started_turn(first)
    await asyncio.sleep(0.2)  # part of the stream has gone by
    # A second tab opens the page: it was rendered from the checkpoint.
    saved = await database_sync_to_async(lambda: Turn.objects.get(pk=turn.pk))()
    page = Page()
    page.load(turn.pk, saved.reasoning, saved.content)
    second = await login_communicator(
        client, owner, conv, f"?resume={turn.pk}:{len(saved.reasoning)}:{len(saved.content)}"
    )
    await second.connect()
    shown: dict[str, str] = {}

    async def read_second():
        while turn.pk not in page.done:
            message = await second.receive_from(timeout=5)
            if turn.pk not in page.done:
                shown.update(r=page.text(turn.pk, "r"), c=page.text(turn.pk, "c"))
            page.apply(message)
            if turn.pk not in page.done:
                shown.update(r=page.text(turn.pk, "r"), c=page.text(turn.pk, "c"))

    await read_second()
    await first.disconnect()
    await second.disconnect()
    # The streamed text as the tab showed it just before the final render.
    assert shown["r"] == "".join(f"r{i} " for i in range(30))
    assert shown["c"] == "".join(f"c{i} " for i in range(30))


async def test_a_new_exchange_is_rendered_once_for_every_socket_watching(
    client, owner, scripted, scripted_model, monkeypatch
):
    # Each socket used to render it in the sync thread, and the run's first frame
    # queued behind that render; the socket that starts it now renders it once.
    from playground.conversations import fragments as views_support

    renders = []
    render = views_support.render_new_exchange
    monkeypatch.setattr(views_support, "render_new_exchange", lambda *a: renders.append(a) or render(*a))
    scripted.enqueue([ReasoningDelta("hm"), ContentDelta("ok"), Finish("stop")])
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    sender = await login_communicator(client, owner, conv)
    watcher = await login_communicator(client, owner, conv)
    for comm in (sender, watcher):
        assert (await comm.connect())[0]
    await sender.send_to(text_data=json.dumps({"action": "send", "prompt": "Go", "model": scripted_model.pk}))
    turns = [await started_turn(comm) for comm in (sender, watcher)]
    assert turns[0].pk == turns[1].pk
    for comm in (sender, watcher):
        await receive_until_done(comm, turns[0].pk)
        await comm.disconnect()
    assert len(renders) == 1
