"""Issue 23.1's last two relay parts, each measured in one process, variants
alternated in the same run (CPU time: the whole process, every thread):

* the SSE body: CPU per part through the API handler's own path
  (`playground.api.asgi.EventStream`) and through Django's `StreamingHttpResponse`
  path, with a `send` that does nothing (daphne's own work is the same in both);
* the checkpoints: CPU for RUNS runs' checkpoints written one hop per run (as
  before) and through the process's writer (one hop, one transaction), on a
  migrated SQLite database in a temp DATA_DIR;
* the fourth round's per-chunk parts (`_per_chunk_rounds`), on uvloop.

    python -m bench.relay_parts            # RUNS=40 by default; RUNS=200 for 200 streams
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Mapping
from typing import Any

N_PARTS = 200_000
PART = (b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,'
        b'"delta":{"reasoning_content":"tok "}}]}\n\n')


async def _sse_rounds(rounds: int = 5) -> dict[str, list[float]]:
    from django.core.handlers.asgi import ASGIHandler

    from playground.api.asgi import ApiHandler, EventStream

    async def parts() -> Any:
        for _ in range(N_PARTS):
            yield PART

    async def send(message: Mapping[str, Any]) -> None:
        pass

    out: dict[str, list[float]] = {"API handler (EventStream)": [], "Django's streaming path": []}
    for _ in range(rounds):
        for name, handler in zip(out, (ApiHandler(), ASGIHandler()), strict=True):
            response = EventStream(parts(), content_type="text/event-stream")
            t = time.process_time()
            await handler.send_response(response, send)
            out[name].append((time.process_time() - t) / N_PARTS * 1e6)
    return out


async def _per_chunk_rounds(rounds: int = 5, n: int = 100_000) -> dict[str, list[float]]:
    """The fourth round's per-chunk parts (issue 23.1), each before and now, µs of CPU per chunk:

    * a run's frame to its conversation's group when no socket is in it: the frame
      built and sent (the group's name matched each time, and once) vs not built;
    * the API writer's wait on the tap, ended by a piece: a timer made and
      cancelled per wait vs one timer for many waits;
    * the request-id wrapper of `send`: a coroutine of its own vs `send`'s awaitable.
    """
    from channels.layers import BaseChannelLayer

    from playground.operations.http import observe_http
    from playground.streaming import run as run_module
    from playground.streaming.layers import InMemoryChannelLayer
    from playground.streaming.run import _wake_up
    from playground.streaming.tap import DirectTap

    loop = asyncio.get_running_loop()
    out: dict[str, list[float]] = {}

    def timed(name: str, total: float) -> None:
        out.setdefault(name, []).append(total / n * 1e6)

    # -- the frame nobody receives
    layer = InMemoryChannelLayer()
    checked_once = InMemoryChannelLayer.__dict__["require_valid_group_name"]
    parts = ["tok " for _ in range(400)]

    async def frames(skip: bool) -> None:
        for i in range(n):
            if skip and not run_module._may_have_members(layer, "conversation-12345"):
                continue
            frame = {"type": "turn.frame", "turn": 1, "r_off": i * 4, "r": run_module._tail(parts, 4),
                     "c_off": 0, "c": run_module._tail(parts, 0), "think_ms": i}
            await layer.group_send("conversation-12345", frame)

    # -- the tap's wait, each ended by a piece already on its way
    async def old_wait(tap: DirectTap, timeout: float) -> bool:  # noqa: ASYNC109 (the timer it measures)
        if tap._pieces:
            return True
        waiter = tap._waiter = loop.create_future()
        timer = loop.call_later(timeout, _wake_up, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            tap._waiter = None
        return bool(tap._pieces)

    async def waits(per_wait_timer: bool) -> None:
        tap = DirectTap()
        for _ in range(n):
            loop.call_soon(tap.delta, "r", "tok ")
            if per_wait_timer:
                await old_wait(tap, 10.0)
            else:
                await tap.wait(10.0)
            tap.take()
        tap.stop_timer()

    # -- the send wrapper
    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = {"type": "http.response.body", "body": PART, "more_body": True}
        for _ in range(n):
            await send(message)

    async def server_send(message: Mapping[str, Any]) -> None:
        pass

    async def coroutine_wrapper(scope: Any, receive: Any, send: Any) -> None:
        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message}
            await send(message)

        await app(scope, receive, send_with_id)

    scope = {"type": "http", "path": "/v1/chat/completions", "headers": []}
    for _ in range(rounds):
        InMemoryChannelLayer.require_valid_group_name = BaseChannelLayer.require_valid_group_name  # type: ignore[method-assign]
        t = time.process_time()
        await frames(skip=False)
        timed("frame, unwatched: built and sent, name matched each send", time.process_time() - t)
        InMemoryChannelLayer.require_valid_group_name = checked_once  # type: ignore[method-assign]
        t = time.process_time()
        await frames(skip=False)
        timed("frame, unwatched: built and sent, name checked once", time.process_time() - t)
        t = time.process_time()
        await frames(skip=True)
        timed("frame, unwatched: not built", time.process_time() - t)
        t = time.process_time()
        await waits(per_wait_timer=True)
        timed("tap wait: a timer per wait", time.process_time() - t)
        t = time.process_time()
        await waits(per_wait_timer=False)
        timed("tap wait: one timer", time.process_time() - t)
        t = time.process_time()
        await coroutine_wrapper(scope, None, server_send)
        timed("send wrapper: a coroutine", time.process_time() - t)
        t = time.process_time()
        await observe_http(app)(scope, None, server_send)
        timed("send wrapper: send's awaitable", time.process_time() - t)
    return out


async def _checkpoint_rounds(runs: int, rounds: int = 12) -> dict[str, list[float]]:
    from channels.db import database_sync_to_async
    from django.contrib.auth import get_user_model
    from django.db.models.functions import Now

    from playground.models import Conversation, Turn
    from playground.streaming import checkpoint

    def make_turns() -> list[int]:
        owner = get_user_model().objects.create_user(f"bench-checkpoints-{runs}")
        conv = Conversation.objects.create(owner=owner)
        return [Turn.objects.create(conversation=conv, role="assistant", status="streaming").pk for _ in range(runs)]

    turns = await database_sync_to_async(make_turns)()
    text = "word " * 400

    def fields(n: int) -> dict[str, Any]:
        return {"reasoning": text + str(n), "content": "", "first_reasoning_ms": 12, "first_content_ms": None,
                "heartbeat_at": Now(), "worker": "bench"}

    async def per_run(n: int) -> None:
        await asyncio.gather(*(database_sync_to_async(checkpoint._write_one)(t, fields(n)) for t in turns))

    async def batched(n: int) -> None:
        await asyncio.gather(*(checkpoint.writer.save(t, fields(n)) for t in turns))

    out: dict[str, list[float]] = {"a hop per run": [], "the writer (one hop)": []}
    for n in range(rounds):
        for name, write in zip(out, (per_run, batched), strict=True):
            t = time.process_time()
            await write(n)
            out[name].append((time.process_time() - t) * 1e3)
    return {k: v[2:] for k, v in out.items()}  # the first two rounds warm up


def main() -> None:
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="bench-relay-parts-")
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from playground.db_threads import detached_context

    call_command("migrate", verbosity=0)
    runs = int(os.environ.get("RUNS", "40"))
    loop = asyncio.new_event_loop()
    # Outside any request's context: the writes go to the shared thread, as a run's do.
    sse = loop.run_until_complete(loop.create_task(_sse_rounds(), context=detached_context()))
    checkpoints = loop.run_until_complete(loop.create_task(_checkpoint_rounds(runs), context=detached_context()))
    import uvloop

    per_chunk = uvloop.new_event_loop().run_until_complete(_per_chunk_rounds())  # the server's loop
    for name, values in per_chunk.items():
        print(f"per chunk, {name}: µs of CPU, least {min(values):.2f} (rounds {[round(v, 2) for v in values]})")
    for name, values in sse.items():
        print(f"SSE body, {name}: µs of CPU per part, least {min(values):.2f} (rounds {[round(v, 2) for v in values]})")
    for name, values in checkpoints.items():
        med = sorted(values)[len(values) // 2]
        print(f"{runs} checkpoints, {name}: ms of CPU, least {min(values):.2f}, median {med:.2f}")


if __name__ == "__main__":
    main()
