"""What a browser tab would show, rebuilt from the HTML the socket sends.

The consumer's messages are htmx out-of-band swaps; this applies the ones it
uses (beforeend into #turns or a streaming block, innerHTML of a block, outerHTML
of a turn) to a dict of block texts, so a test can assert on the text a user sees,
with every duplicate or gap visible, rather than on the frames themselves.
"""

from __future__ import annotations

import html
import re

from channels.db import database_sync_to_async

BLOCK = re.compile(r'<div hx-swap-oob="(beforeend|innerHTML):#t(\d+)-([rc])">(.*?)</div>', re.S)
RENDERED_BLOCK = re.compile(r'<div class="(?:reasoning|content) streaming" id="t(\d+)-([rc])">(.*?)</div>', re.S)
DONE = re.compile(r'<article class="turn assistant ([a-z]+)" id="turn-(\d+)"[^>]*hx-swap-oob="outerHTML"')


class Page:
    def __init__(self) -> None:
        self.blocks: dict[tuple[int, str], str] = {}
        self.done: dict[int, str] = {}  # turn id -> the final turn HTML
        self.status: dict[int, str] = {}
        self.messages: list[str] = []

    def load(self, turn_id: int, reasoning: str, content: str) -> None:
        """The page as rendered from the database."""
        self.blocks[(turn_id, "r")] = reasoning
        self.blocks[(turn_id, "c")] = content

    def apply(self, message: str) -> None:
        self.messages.append(message)
        if 'hx-swap-oob="beforeend:#turns"' in message:
            for turn, block, text in RENDERED_BLOCK.findall(message):
                self.blocks[(int(turn), block)] = html.unescape(text)
        for swap, turn, block, text in BLOCK.findall(message):
            key = (int(turn), block)
            if swap == "innerHTML":
                self.blocks[key] = html.unescape(text)
            else:
                self.blocks[key] = self.blocks.get(key, "") + html.unescape(text)
        for status, turn in DONE.findall(message):
            self.done[int(turn)] = message
            self.status[int(turn)] = status

    def text(self, turn_id: int, block: str) -> str:
        return self.blocks.get((turn_id, block), "")

    async def read_until_done(self, comm, turn_id: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        while turn_id not in self.done:
            self.apply(await comm.receive_from(timeout=timeout))

    async def read_for(self, comm, seconds: float) -> None:
        """Apply whatever arrives within `seconds`. (A timed-out `receive_from`
        would cancel the application, so this polls with `receive_nothing`.)"""
        import asyncio

        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            if not await comm.receive_nothing(timeout=0.01):
                self.apply(await comm.receive_from())


async def started_turn_id(comm, page: Page) -> int:
    """Read the new exchange; return the assistant turn's id."""
    message = await comm.receive_from(timeout=5)
    assert 'hx-swap-oob="beforeend:#turns"' in message, message
    page.apply(message)
    return int(message.rsplit('data-turn="', 1)[1].split('"', 1)[0])


@database_sync_to_async
def saved(turn_id: int):
    from playground.models import Turn

    return Turn.objects.get(pk=turn_id)


async def open_socket(client, user, path: str):
    """A connected websocket to `path`, logged in as `user` through the session cookie."""
    from channels.testing import WebsocketCommunicator

    from playground.asgi import application

    await database_sync_to_async(client.force_login)(user)
    comm = WebsocketCommunicator(
        application,
        path,
        headers=[
            (b"origin", b"http://127.0.0.1"),
            (b"host", b"127.0.0.1"),
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        ],
    )
    connected, _ = await comm.connect()
    assert connected
    return comm


def layer_losing(kind: str):
    """A channel layer that drops every group message of type `kind` (as a full
    channel would) and passes everything else to the real one."""
    from channels.layers import get_channel_layer

    real_layer = get_channel_layer()

    class LayerLosing:
        def __getattr__(self, name):
            return getattr(real_layer, name)

        async def group_send(self, group, message):
            if message["type"] != kind:
                await real_layer.group_send(group, message)

    return LayerLosing
