"""The real ASGI application with the bench's meters around it (bench runs only).

    daphne -b 127.0.0.1 -p PORT bench.serve:application

The product code is untouched: this module wraps `playground.asgi.application`
and adds, for the benchmark's server process only,

* a count of database statements by kind (select / insert / update / delete /
  other), taken at the cursor, so "queries per turn" is a difference of two
  readings around one turn;
* an event-loop lag meter: a task that asks to wake every 10 ms and records how
  late it woke (the delay every other callback on the loop also suffers);
* `GET /__bench__/stats` (JSON) and `POST /__bench__/reset` on loopback.

Nothing here is imported by `playground`; `make run` serves the bare application.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")

from django.db.backends import utils as db_utils

from playground.asgi import application as _app

LAG_INTERVAL = 0.010

_queries: dict[str, int] = {}
_lags: list[float] = []
_lag_task: asyncio.Task[None] | None = None


_writes_by_what: dict[str, int] = {}


def _count(sql: Any) -> None:
    text = str(sql).lstrip() if sql else ""
    verb = text.split(None, 1)[0].lower() if text else "other"
    kind = verb if verb in {"select", "insert", "update", "delete"} else "other"
    _queries[kind] = _queries.get(kind, 0) + 1
    if kind in {"insert", "update", "delete"}:
        # "UPDATE "playground_turn" SET "status" = ..." -> 'update playground_turn status':
        # enough to tell checkpoints from sweeps and session saves.
        words = text.replace('"', "").replace("`", "").split()
        at = {"insert": 2, "update": 1, "delete": 2}[kind]
        table = words[at] if len(words) > at else "?"
        column = words[at + 2] if kind == "update" and len(words) > at + 2 else ""
        what = f"{kind} {table} {column}".strip()
        _writes_by_what[what] = _writes_by_what.get(what, 0) + 1


def _install_query_counter() -> None:
    execute, executemany = db_utils.CursorWrapper.execute, db_utils.CursorWrapper.executemany

    def counted_execute(self: Any, sql: Any, params: Any = None) -> Any:
        _count(sql)
        return execute(self, sql, params)

    def counted_executemany(self: Any, sql: Any, param_list: Any) -> Any:
        _count(sql)
        return executemany(self, sql, param_list)

    db_utils.CursorWrapper.execute = counted_execute  # type: ignore[method-assign]
    db_utils.CursorWrapper.executemany = counted_executemany  # type: ignore[method-assign]


async def _lag_meter() -> None:
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(LAG_INTERVAL)
        _lags.append(loop.time() - asked - LAG_INTERVAL)
        if len(_lags) > 200_000:  # a long run: keep the recent half
            del _lags[:100_000]


def _stats() -> dict[str, Any]:
    lags = sorted(_lags)

    def q(p: float) -> float | None:
        return round(lags[min(len(lags) - 1, int(p * len(lags)))] * 1000, 3) if lags else None

    return {
        "queries": dict(_queries),
        "writes": sum(_queries.get(k, 0) for k in ("insert", "update", "delete")),
        "writes_by_what": dict(sorted(_writes_by_what.items())),
        "loop_lag_ms": {"samples": len(lags), "p50": q(0.5), "p99": q(0.99), "max": q(1.0)},
        "pid": os.getpid(),
        "time": time.monotonic(),
    }


async def _respond(send: Any, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})


_snapshot: Any = None
if os.environ.get("BENCH_TRACEMALLOC") == "1":
    import tracemalloc

    tracemalloc.start(12)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _lag_task
    if _lag_task is None:
        _lag_task = asyncio.get_running_loop().create_task(_lag_meter(), name="bench-lag-meter")
    if scope["type"] == "http" and scope["path"].startswith("/__bench__/"):
        if scope["path"] == "/__bench__/tracemalloc":
            # With BENCH_TRACEMALLOC=1: where memory was allocated since the last call.
            import tracemalloc

            global _snapshot
            snapshot = tracemalloc.take_snapshot()
            top = [] if _snapshot is None else snapshot.compare_to(_snapshot, "traceback")[:15]
            _snapshot = snapshot
            await _respond(send, {"top": ["\n".join([str(stat), *stat.traceback.format()[-8:]]) for stat in top]})
            return
        if scope["path"] == "/__bench__/objects":
            # What is alive, by type, after a full collection: diff two of these to
            # find what grows across runs (issue 23.4).
            import collections
            import gc

            gc.collect()
            counts = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
            tasks = collections.Counter(
                "task " + getattr(t.get_coro(), "__qualname__", "?") for t in asyncio.all_tasks()
            )
            await _respond(send, dict(counts.most_common(400)) | dict(tasks))
            return
        if scope["path"] == "/__bench__/reset":
            _queries.clear()
            _writes_by_what.clear()
            _lags.clear()
        await _respond(send, _stats())
        return
    await _app(scope, receive, send)


def _bench_toggles() -> None:
    """Undo one of issue 11's speed changes, to measure it against the rest
    (bench/__main__.py, section "candidates"); the product has no such switch."""
    if os.environ.get("BENCH_CHANNELS_GROUP_SEND") == "1":
        from channels.layers import InMemoryChannelLayer

        from playground.streaming.layers import InMemoryChannelLayer as Lean

        Lean.group_send = InMemoryChannelLayer.group_send  # type: ignore[method-assign]
    if os.environ.get("BENCH_STDLIB_JSON") == "1":
        import types

        from reasoning import wire

        wire.orjson = types.SimpleNamespace(loads=json.loads, JSONDecodeError=ValueError)  # type: ignore[assignment]
    if os.environ.get("BENCH_ORM_CHECKPOINT") == "1":
        # Checkpoints through QuerySet.update, compiled each time (before issue 23.1).
        from playground.streaming import checkpoint

        checkpoint.checkpoint = checkpoint._orm_update  # type: ignore[assignment]
    if os.environ.get("BENCH_SSE_STDLIB_JSON") == "1":
        # The API's SSE chunks as before issue 23.1: each chunk's dict through json.dumps.
        from playground.api import shapes

        def stdlib_sse(payload: Any) -> bytes:
            return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"

        shapes.sse = stdlib_sse  # type: ignore[assignment]
        shapes.ChunkWriter._text = lambda self, field, text: self._chunk({field: text})  # type: ignore[method-assign]


_install_query_counter()
_bench_toggles()
