"""Two daphne workers on one PostgreSQL database and one Redis channel layer:
a turn started through worker A is watched, joined and stopped through worker B."""

from __future__ import annotations

import asyncio
import html as html_module
import json
import os
import re
import time

import httpx
import pytest

from tests.playground.stream_page import Page
from tests.scaleout.app import expected
from tests.scaleout.harness import (
    Deployment,
    Server,
    create_database,
    drop_database,
    open_socket,
    services_or_skip,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]

OPTIONS = {"reasoning": 700, "content": 60, "rate": 200}  # about 3.8 s


@pytest.fixture(scope="module", params=["pubsub", "lists"])
def workers(request, tmp_path_factory):
    """Two daphne workers on one PostgreSQL database and one Redis, with either of
    the Redis channel layers `REDIS_LAYER` selects (pub/sub is the default)."""
    pg_user, redis_url = services_or_skip()
    # One database per test run and layer: parallel runs do not collide.
    name = f"test_scaleout_{os.getpid()}_{request.param}"
    database_url = create_database(pg_user, name)
    deployment = Deployment(
        tmp_path_factory.mktemp("workers"), database_url=database_url, redis_url=redis_url,
        extra={"REDIS_LAYER": request.param},
    )
    servers: list[Server] = []
    try:
        ids = deployment.setup(OPTIONS, conversations=3)
        servers = [Server(deployment).start(), Server(deployment).start()]
        yield deployment, ids, servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()
        drop_database(pg_user, name)


def assert_whole_once(page: Page, turn_id: int) -> None:
    """The finished turn, as the page shows it, holds the run's whole text, once.

    Its last words may come only with the finished turn rather than in a frame:
    a watching worker's watchdog can find the turn saved as complete before it
    has relayed the last frame, and then renders it from the database."""
    final = " ".join(re.sub(r"<[^>]+>", " ", html_module.unescape(page.done[turn_id])).split())
    for text in expected(OPTIONS):
        whole = " ".join(text.split())
        assert final.count(whole) == 1, (whole[-80:], final[-400:])


def turn_of(message: str) -> int:
    return int(message.rsplit('data-turn="', 1)[1].split('"', 1)[0])


async def test_a_turn_started_on_one_worker_streams_live_on_another(workers):
    deployment, ids, a, b = workers
    conversation = ids["conversations"][0]
    watcher = await open_socket(b, conversation, ids["session"])
    sender = await open_socket(a, conversation, ids["session"])
    await sender.send(json.dumps({"action": "send", "prompt": "Go", "model": ids["model"]}))
    page = Page()
    started = await asyncio.wait_for(watcher.recv(), 5)  # the new exchange, relayed by Redis
    page.apply(started)
    turn_id = turn_of(started)
    streaming = []
    async with asyncio.timeout(20):
        while turn_id not in page.done:
            page.apply(await watcher.recv())
            if turn_id not in page.done:
                streaming.append((time.monotonic(), page.text(turn_id, "r"), page.text(turn_id, "c")))
    await watcher.close()
    await sender.close()
    full_r, full_c = expected(OPTIONS)
    assert all(full_r.startswith(r) and full_c.startswith(c) for _, r, c in streaming)
    assert_whole_once(page, turn_id)
    assert len(streaming) > 20  # live frames over the ~2.4 s, not one final render
    assert streaming[-1][0] - streaming[0][0] > 1.5
    assert page.status[turn_id] == "complete"
    saved = deployment.turn(turn_id)
    assert (saved["status"], saved["reasoning"], saved["content"]) == ("complete", full_r, full_c)


async def test_a_socket_joining_on_the_other_worker_mid_stream_has_no_gap_or_duplicate(workers):
    deployment, ids, a, b = workers
    conversation = ids["conversations"][1]
    sender = await open_socket(a, conversation, ids["session"])
    await sender.send(json.dumps({"action": "send", "prompt": "Go", "model": ids["model"]}))
    turn_id = turn_of(await asyncio.wait_for(sender.recv(), 5))
    await asyncio.sleep(0.5)
    # A page on worker B, rendered from the checkpoint, then its socket.
    html = await asyncio.to_thread(b.page, conversation, ids["session"])
    assert f'data-turn="{turn_id}" data-status="streaming"' in html
    checkpoint = deployment.turn(turn_id)
    page = Page()
    page.load(turn_id, checkpoint["reasoning"], checkpoint["content"])
    resume = f"?resume={turn_id}:{len(checkpoint['reasoning'])}:{len(checkpoint['content'])}"
    watcher = await open_socket(b, conversation, ids["session"], resume)
    full_r, full_c = expected(OPTIONS)
    last = ("", "")
    async with asyncio.timeout(20):
        while turn_id not in page.done:
            page.apply(await watcher.recv())
            if turn_id not in page.done:
                last = (page.text(turn_id, "r"), page.text(turn_id, "c"))
                assert full_r.startswith(last[0]) and full_c.startswith(last[1])
    await watcher.close()
    await sender.close()
    assert any('hx-swap-oob="innerHTML:#t' in m for m in page.messages)  # it joined while streaming
    # The streamed text was a prefix of the run's at every step (above).
    assert last[0] and last[1]
    assert_whole_once(page, turn_id)


async def test_stop_on_one_worker_stops_the_run_on_the_other(workers):
    deployment, ids, a, b = workers
    conversation = ids["conversations"][2]
    sender = await open_socket(a, conversation, ids["session"])
    watcher = await open_socket(b, conversation, ids["session"])
    await sender.send(json.dumps({"action": "send", "prompt": "Go", "model": ids["model"]}))
    page = Page()
    first = await asyncio.wait_for(watcher.recv(), 5)
    page.apply(first)
    turn_id = turn_of(first)
    async with asyncio.timeout(5):
        while len(page.text(turn_id, "r")) < 200:
            page.apply(await watcher.recv())
    clicked = time.monotonic()
    await watcher.send(json.dumps({"action": "stop", "turn": turn_id}))  # through B; the run is on A
    async with asyncio.timeout(5):
        while turn_id not in page.done:
            page.apply(await watcher.recv())
    assert time.monotonic() - clicked < 1.0
    await watcher.close()
    await sender.close()
    saved = deployment.turn(turn_id)
    full_r, _ = expected(OPTIONS)
    assert saved["status"] == "stopped"
    assert len(saved["reasoning"]) < len(full_r) and full_r.startswith(saved["reasoning"])
    assert page.status[turn_id] == "stopped"


def test_the_workers_share_sessions_and_health(workers):
    _, ids, a, b = workers
    for server in (a, b):
        assert httpx.get(f"{server.url}/health", timeout=5).text == "ok"
        assert "Paced" in server.page(ids["conversation"], ids["session"])
