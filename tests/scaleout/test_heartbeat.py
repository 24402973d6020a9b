"""A worker killed with SIGKILL mid-stream: a surviving worker marks its turn
interrupted, text kept, within WORKER_LOST_AFTER + one heartbeat interval, while
nobody has a page or a socket open; the survivor's own streaming turn is untouched."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from tests.scaleout.app import expected
from tests.scaleout.harness import Deployment, Server, create_database, drop_database, open_socket, services_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.services]

LONG = {"reasoning": 8000, "content": 10, "rate": 200}  # 40 s: streaming throughout
INTERVAL, LOST_AFTER = 0.5, 2.0


async def start_turn(server: Server, conversation: int, ids) -> int:
    """Send a prompt, read a second of frames, close the socket: nobody watches after."""
    ws = await open_socket(server, conversation, ids["session"])
    await ws.send(json.dumps({"action": "send", "prompt": "Go", "model": ids["model"]}))
    first = await asyncio.wait_for(ws.recv(), 10)
    turn_id = int(first.rsplit('data-turn="', 1)[1].split('"', 1)[0])
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        await asyncio.wait_for(ws.recv(), 5)
    await ws.close()
    return turn_id


async def test_a_dead_workers_turn_is_interrupted_within_the_bound_while_nobody_watches(tmp_path):
    pg_user, redis_url = services_or_skip()
    name = f"test_heartbeat_{os.getpid()}"
    database_url = create_database(pg_user, name)
    deployment = Deployment(
        tmp_path, database_url=database_url, redis_url=redis_url,
        extra={
            "WORKER_HEARTBEAT_INTERVAL": str(INTERVAL), "WORKER_LOST_AFTER": str(LOST_AFTER),
            # The per-turn rule (no checkpoint for this long) must not be what finds it.
            "STREAM_STALE_AFTER": "120",
        },
    )
    servers: list[Server] = []
    try:
        ids = deployment.setup(LONG, conversations=2)
        a, b = Server(deployment).start(), Server(deployment).start()
        servers = [a, b]
        survivor_turn = await start_turn(a, ids["conversations"][0], ids)
        doomed_turn = await start_turn(b, ids["conversations"][1], ids)
        b.kill9()
        killed = time.monotonic()
        checkpointed = deployment.turn(doomed_turn)
        assert checkpointed["status"] == "streaming" and checkpointed["reasoning"]

        while (saved := deployment.turn(doomed_turn))["status"] == "streaming":
            assert time.monotonic() - killed < LOST_AFTER + INTERVAL + 2.0, "not interrupted within the bound"
            await asyncio.sleep(0.1)
        took = time.monotonic() - killed
        print(f"interrupted {took:.2f} s after the kill (bound {LOST_AFTER + INTERVAL} s)")
        assert saved["status"] == "interrupted", saved["status"]
        assert "stopped" in saved["error"]["message"]
        full_reasoning, _ = expected(LONG)
        # What was checkpointed is kept (at most one more checkpoint landed before the kill took effect).
        assert saved["reasoning"].startswith(checkpointed["reasoning"])
        assert full_reasoning.startswith(saved["reasoning"])
        assert took >= LOST_AFTER - 0.5  # not earlier than the worker could be taken for lost
        # The survivor's own turn streams on.
        assert deployment.turn(survivor_turn)["status"] == "streaming"
    finally:
        for server in servers:
            server.stop()
        drop_database(pg_user, name)
