"""`python -m playground.server`'s eager writes (issue 23.1): a write on a connection
with nothing queued goes to the socket at once, the rest the usual Twisted way.
Real processes: the launcher serving a small ASGI app (below), read by httpx and
`websockets`; a reader that stops reading makes the socket refuse part of a write,
so the queued path is taken too. Every byte arrives once, in order."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

ROOT = Path(__file__).resolve().parents[2]


def chunk(i: int, size: int) -> bytes:
    head = b"%08d:" % i
    return head + bytes([65 + i % 26]) * (size - len(head))


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()  # connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            n, size = (int(v) for v in message["text"].split())
            for i in range(n):
                await send({"type": "websocket.send", "bytes": chunk(i, size)})
        return
    if scope["type"] != "http":
        return
    query = dict(p.split("=") for p in scope["query_string"].decode().split("&") if p)
    n, size = int(query.get("n", 1)), int(query.get("size", 10))
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    for i in range(n):
        await send({"type": "http.response.body", "body": chunk(i, size), "more_body": True})
        if i % 50 == 0:
            await asyncio.sleep(0)  # let the loop write what Twisted queued
    await send({"type": "http.response.body", "body": b""})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", params=["eager", "twisted"])
def base_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {**os.environ, "SERVER_EAGER_WRITES": "1" if request.param == "eager" else "0"}
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    for _attempt in range(3):
        port = _free_port()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "playground.server", "-b", "127.0.0.1", "-p", str(port),
                 "tests.playground.test_server_writes:application"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(url + "/?n=1", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        if process.poll() is None:
            break
        if "Address already in use" not in log_path.read_text(errors="replace"):
            raise RuntimeError(log_path.read_text(errors="replace"))
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


def expected(n: int, size: int) -> bytes:
    return b"".join(chunk(i, size) for i in range(n))


def test_many_small_writes_arrive_once_in_order(base_url: str) -> None:
    with httpx.stream("GET", base_url + "/?n=3000&size=60", timeout=30) as response:
        body = b"".join(response.iter_bytes())
    assert body == expected(3000, 60)


def test_a_reader_that_stops_reading_still_gets_every_byte_in_order(base_url: str) -> None:
    # 24 MB in 64 KiB writes: far more than the socket buffers hold, so while the
    # reader sleeps the server's sends come back short and the rest is queued.
    n, size = 384, 65536
    with httpx.stream("GET", base_url + f"/?n={n}&size={size}", timeout=60) as response:
        parts = []
        for i, data in enumerate(response.iter_raw(size)):
            parts.append(data)
            if i in (1, 50):
                time.sleep(1.0)
        body = b"".join(parts)
    assert len(body) == n * size
    assert body == expected(n, size)


def test_websocket_messages_arrive_once_in_order_with_deflate(base_url: str) -> None:
    async def read() -> list[bytes]:
        async with websockets.connect(base_url.replace("http", "ws") + "/ws", compression="deflate",
                                      max_size=None, max_queue=None) as ws:
            await ws.send("500 3000")
            got = [await ws.recv() for _ in range(500)]
            await asyncio.sleep(0.5)
            await ws.send("200 200000")  # 40 MB: past the socket buffers while we wait
            await asyncio.sleep(1.0)
            got += [await ws.recv() for _ in range(200)]
            return [g if isinstance(g, bytes) else g.encode() for g in got]

    got = asyncio.run(read())
    assert got == [chunk(i, 3000) for i in range(500)] + [chunk(i, 200000) for i in range(200)]
