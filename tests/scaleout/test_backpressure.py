"""A browser that stops reading must not grow the server's memory.

Real daphne, raw TCP websocket clients that complete the handshake and then never
read (a tiny receive buffer, so the kernel does not absorb much), and a long,
heavy turn. The assertions are on what the mechanism controls, as the server
counts it (GET /_scaleout/backpressure): the most bytes Twisted held for one
socket, and frames dropped; the same run with WS_BACKPRESSURE=false shows what
Twisted would otherwise buffer. Memory figures (RSS) belong to bench/: they
depend on what else the machine does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time

import httpx
import pytest

from playground.streaming.messages import MESSAGE_BYTES
from tests.playground.stream_page import Page
from tests.scaleout.app import expected
from tests.scaleout.harness import Deployment, Server, open_socket

pytestmark = pytest.mark.slow

# 1,500 deltas of ~6 KB at 250 a second: ~9 MB of text over ~6 s.
OPTIONS = {"reasoning": 1500, "content": 10, "rate": 250, "pad": 6000}
STUCK_SOCKETS = 4


def stuck_socket(server: Server, conversation: int, session: str) -> socket.socket:
    """A websocket that says hello and then never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/conversations/{conversation}/ HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {server.url}\r\nCookie: sessionid={session}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: leave any frame after the head unread
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def heavy_turn(server: Server, ids: dict, stuck: int) -> list[socket.socket]:
    """The heavy turn read to its end by one socket while `stuck` others never read; returns those."""
    reader = await open_socket(server, ids["conversation"], ids["session"])
    await reader.send(json.dumps({"action": "send", "prompt": "warm up", "model": ids["small_model"]}))
    page = Page()
    first = await asyncio.wait_for(reader.recv(), 10)
    page.apply(first)
    warm = int(first.rsplit('data-turn="', 1)[1].split('"', 1)[0])
    async with asyncio.timeout(20):
        while warm not in page.done:
            page.apply(await reader.recv())
    sockets = [stuck_socket(server, ids["conversation"], ids["session"]) for _ in range(stuck)]
    await asyncio.sleep(0.5)
    await reader.send(json.dumps({"action": "send", "prompt": "Go", "model": ids["model"]}))
    turn_id = None
    async with asyncio.timeout(60):
        while turn_id is None or turn_id not in page.done:
            try:
                message = await asyncio.wait_for(reader.recv(), 0.1)
            except TimeoutError:
                message = None
            if message is not None:
                page.apply(message)
                if turn_id is None and 'hx-swap-oob="beforeend:#turns"' in message:
                    turn_id = int(message.rsplit('data-turn="', 1)[1].split('"', 1)[0])
    await reader.close()
    return sockets


def run_deployment(tmp_path, backpressure: bool, stuck: int) -> tuple[dict[str, int], Deployment, float]:
    """(what the server's backpressure counted, the deployment, seconds until the
    stuck sockets were found closed, or inf)."""
    deployment = Deployment(
        tmp_path,
        extra={"WS_BACKPRESSURE": str(backpressure).lower(), "WS_SLOW_CLIENT_TIMEOUT": "3", "CHECKPOINT_INTERVAL": "1"},
    )
    ids = deployment.setup(OPTIONS)
    small = deployment.manage(
        "shell",
        code="from playground.models import ModelProfile as M; m = M.objects.get(); "
        "m.pk = None; m.model_id = m.label = 'small'; m.options = {'reasoning': 5, 'content': 2, 'rate': 100}; "
        "m.save(); print(m.pk)",
    )
    ids["small_model"] = int(small.strip().splitlines()[-1])
    server = Server(deployment).start()
    try:
        sockets = asyncio.run(heavy_turn(server, ids, stuck))
        stats = httpx.get(f"{server.url}/_scaleout/backpressure", timeout=30).json()
        closed_after = _closed_within(sockets, 10)
    finally:
        server.stop()
    for sock in sockets:
        sock.close()
    return stats, deployment, closed_after


def _closed_within(sockets: list[socket.socket], seconds: float) -> float:
    """How long until the server has dropped every stuck socket (reading them now)."""
    started = time.monotonic()
    for sock in sockets:
        sock.settimeout(max(0.1, seconds - (time.monotonic() - started)))
        try:
            while sock.recv(1 << 20):
                pass
        except ConnectionResetError:
            pass
        except TimeoutError:
            return float("inf")
    return time.monotonic() - started


def test_a_browser_that_stops_reading_does_not_grow_server_memory(tmp_path):
    text_bytes = sum(map(len, expected(OPTIONS)))
    on, deployment, closed_after = run_deployment(tmp_path / "on", backpressure=True, stuck=STUCK_SOCKETS)
    off, *_ = run_deployment(tmp_path / "off", backpressure=False, stuck=STUCK_SOCKETS)
    print(
        f"\n{text_bytes / 2**20:.1f} MiB turn, {STUCK_SOCKETS} stuck sockets: most bytes held for one socket "
        f"{on['peak_buffered_bytes'] / 2**20:.2f} MiB with backpressure ({on['frames_dropped']} frames dropped, "
        f"{on['slow_sockets_closed']} sockets closed), {off['peak_buffered_bytes'] / 2**20:.2f} MiB without"
    )
    # Without it a stuck socket buffers (most of) the turn's text in Twisted ...
    assert off["peak_buffered_bytes"] >= text_bytes * 0.5, (on, off)
    assert off["frames_dropped"] == 0 and off["slow_sockets_closed"] == 0
    # ... with it, no more than Twisted's 64 KiB threshold and the message that
    # crossed it (messages are cut under 1 MiB): frames are dropped instead ...
    assert on["peak_buffered_bytes"] <= 64 * 1024 + MESSAGE_BYTES, (on, off)
    assert on["frames_dropped"] > 0
    # ... and the stuck sockets are closed, not left open forever.
    assert on["slow_sockets_closed"] == STUCK_SOCKETS and closed_after != float("inf")
    # The run and the saved turn did not notice.
    turns = deployment.manage(
        "shell", code="from playground.models import Turn; t = Turn.objects.last(); print(t.status, len(t.reasoning))"
    )
    status, length = turns.strip().splitlines()[-1].split()
    assert status == "complete" and int(length) == len(expected(OPTIONS)[0])
