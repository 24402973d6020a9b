"""A daphne process killed with SIGKILL mid-stream: at most the last checkpoint
interval is lost, and once restarted the turn shows as interrupted with its text."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.playground.stream_page import Page
from tests.scaleout.app import expected
from tests.scaleout.harness import Deployment, Server, open_socket

pytestmark = pytest.mark.slow

OPTIONS = {"reasoning": 4000, "content": 100, "rate": 200}  # 20 s: still streaming when killed


async def test_it_keeps_the_text_up_to_the_last_checkpoint_and_shows_the_turn_interrupted(tmp_path):
    deployment = Deployment(tmp_path, extra={"STREAM_STALE_AFTER": "1.5"})
    ids = deployment.setup(OPTIONS)
    full_reasoning, _ = expected(OPTIONS)
    server = Server(deployment).start()
    try:
        ws = await open_socket(server, ids["conversation"], ids["session"])
        await ws.send(json.dumps({"action": "send", "prompt": "Go", "model": ids["model"]}))
        page = Page()
        first = await asyncio.wait_for(ws.recv(), 5)
        page.apply(first)
        turn_id = int(first.rsplit('data-turn="', 1)[1].split('"', 1)[0])
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            page.apply(await asyncio.wait_for(ws.recv(), 5))
        server.kill9()
        seen = page.text(turn_id, "r")
        await ws.close()
    finally:
        server.stop()

    saved = deployment.turn(turn_id)
    assert saved["status"] == "streaming"  # nobody could say otherwise: the process is gone
    assert saved["reasoning"] and full_reasoning.startswith(saved["reasoning"])
    assert full_reasoning.startswith(seen)
    # At most one checkpoint interval (0.25 s at 200 deltas/s, ~6 chars each) plus
    # the frame in flight went unsaved.
    lost = len(seen) - len(saved["reasoning"])
    assert lost <= 0.5 * 200 * 7, (lost, len(seen))

    restarted = Server(deployment).start()
    try:
        # A socket opened by a page rendered just after the restart (the turn still
        # looked alive) gets the turn re-rendered as interrupted once it is stale.
        ws = await open_socket(
            restarted, ids["conversation"], ids["session"], f"?resume={turn_id}:{len(saved['reasoning'])}:0"
        )
        page = Page()
        page.load(turn_id, saved["reasoning"], "")
        async with asyncio.timeout(15):
            while turn_id not in page.done:
                page.apply(await ws.recv())
        await ws.close()
        assert page.status[turn_id] == "interrupted"
        # Opening the conversation shows it so, with the text kept.
        html = restarted.page(ids["conversation"], ids["session"])
        assert f'<article class="turn assistant interrupted" id="turn-{turn_id}"' in html
        assert saved["reasoning"].strip()[-40:] in html
    finally:
        restarted.stop()
    after = deployment.turn(turn_id)
    assert after["status"] == "interrupted" and after["reasoning"] == saved["reasoning"]
    assert "stopped" in after["error"]["message"]
