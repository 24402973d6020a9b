"""A browser that stops reading must not grow the server's memory.

Real daphne, raw TCP websocket clients that complete the handshake and then never
read (a tiny receive buffer, so the kernel does not absorb much), and a long,
heavy turn. The server's RSS is sampled throughout; the same run with
WS_BACKPRESSURE=false shows what Twisted would otherwise buffer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time

import pytest

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


async def heavy_turn(server: Server, ids: dict, stuck: int) -> tuple[int, int, list[socket.socket]]:
    """(baseline RSS, peak RSS during the turn, the stuck sockets) in KiB."""
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
    baseline = server.rss_kib()
    await reader.send(json.dumps({"action": "send", "prompt": "Go", "model": ids["model"]}))
    peak = baseline
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
            peak = max(peak, server.rss_kib())
    await reader.close()
    return baseline, peak, sockets


def run_deployment(tmp_path, backpressure: bool, stuck: int) -> tuple[int, Deployment, float]:
    """(RSS growth in MiB during the heavy turn, the deployment, seconds until the
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
        baseline, peak, sockets = asyncio.run(heavy_turn(server, ids, stuck))
        closed_after = _closed_within(sockets, 10)
    finally:
        server.stop()
    for sock in sockets:
        sock.close()
    return (peak - baseline) // 1024, deployment, closed_after


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
    text_mib = sum(map(len, expected(OPTIONS))) / 2**20
    alone, *_ = run_deployment(tmp_path / "alone", backpressure=True, stuck=0)
    growth_on, deployment, closed_after = run_deployment(tmp_path / "on", backpressure=True, stuck=STUCK_SOCKETS)
    growth_off, *_ = run_deployment(tmp_path / "off", backpressure=False, stuck=STUCK_SOCKETS)
    print(
        f"\n{text_mib:.1f} MiB turn, server RSS growth: {alone} MiB with no stuck socket; with {STUCK_SOCKETS} "
        f"stuck sockets {growth_on} MiB (backpressure on), {growth_off} MiB (off); stuck sockets closed: "
        f"{closed_after != float('inf')}"
    )
    # Without it each stuck socket buffers the turn's text in Twisted ...
    assert growth_off - alone >= STUCK_SOCKETS * text_mib * 0.5, (alone, growth_on, growth_off)
    # ... with it, stuck sockets cost next to nothing beyond the run's own memory.
    assert growth_on - alone <= max(10, STUCK_SOCKETS * text_mib * 0.25), (alone, growth_on, growth_off)
    assert closed_after != float("inf")  # and they were closed, not left open forever
    # The run and the saved turn did not notice.
    turns = deployment.manage(
        "shell", code="from playground.models import Turn; t = Turn.objects.last(); print(t.status, len(t.reasoning))"
    )
    status, length = turns.strip().splitlines()[-1].split()
    assert status == "complete" and int(length) == len(expected(OPTIONS)[0])
