"""Issue 23.1's last two relay parts, each measured in one process, variants
alternated in the same run (CPU time: the whole process, every thread):

* the SSE body: CPU per part through the API handler's own path
  (`playground.api.asgi.EventStream`) and through Django's `StreamingHttpResponse`
  path, with a `send` that does nothing (daphne's own work is the same in both);
* the checkpoints: CPU for RUNS runs' checkpoints written one hop per run (as
  before) and through the process's writer (one hop, one transaction), on a
  migrated SQLite database in a temp DATA_DIR.

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
    for name, values in sse.items():
        print(f"SSE body, {name}: µs of CPU per part, least {min(values):.2f} (rounds {[round(v, 2) for v in values]})")
    for name, values in checkpoints.items():
        med = sorted(values)[len(values) // 2]
        print(f"{runs} checkpoints, {name}: ms of CPU, least {min(values):.2f}, median {med:.2f}")


if __name__ == "__main__":
    main()
