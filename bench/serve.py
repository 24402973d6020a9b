"""The real ASGI application with the bench's meters around it (bench runs only).

    daphne -b 127.0.0.1 -p PORT bench.serve:application

The product code is untouched: this module wraps `playground.asgi.application`
and adds, for the benchmark's server process only,

* a count of database statements by kind (select / insert / update / delete /
  other), taken at the cursor, so "queries per turn" is a difference of two
  readings around one turn;
* an event-loop lag meter: a task that asks to wake every 10 ms and records how
  late it woke (the delay every other callback on the loop also suffers);
* `GET /__bench__/stats` (JSON) and `POST /__bench__/reset` on loopback;
* with `BENCH_PARTS=1`, the fixed cost of a turn by part (issue 23.3): the
  product's synchronous steps of a turn's start and end are wrapped here (never in
  the product) with a meter of the thread's own CPU (`time.thread_time`, so time
  spent waiting for the GIL or the database lock is not counted) and of the
  statements sent meanwhile; nested parts count only their own share.

Nothing here is imported by `playground`; `make run` serves the bare application.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import itertools
import json
import os
import threading
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

# part -> [thread CPU seconds, statements, calls]; `_part_stack.names`: the parts
# open on this thread, innermost last.
_parts: dict[str, list[Any]] = {}
_part_stack = threading.local()


_DATA = ("select", "insert", "update", "delete")
_TRANSACTION = {"begin", "commit", "rollback", "savepoint", "release"}


def _kind(text: str) -> str:
    """select / insert / update / delete (a `WITH ...` statement by the verb after its
    CTEs: the exchange's INSERT takes its ids in one), "transaction" (BEGIN, COMMIT,
    savepoints), or "other" (PRAGMA, SET...)."""
    verb = text.split(None, 1)[0].lower() if text else "other"
    if verb == "with":
        verb = _verb_after_ctes(text)
    if verb in _DATA:
        return verb
    return "transaction" if verb in _TRANSACTION else "other"


def _verb_after_ctes(text: str) -> str:
    """The first data verb outside every parenthesis of a `WITH` statement."""
    depth, word = 0, []
    for ch in text[4:] + " ":
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if depth == 0 and (ch.isalpha() or ch == "_"):
            word.append(ch)
            continue
        if word and "".join(word).lower() in _DATA:
            return "".join(word).lower()
        word = []
    return "select"


def _count(sql: Any) -> None:
    text = str(sql).lstrip() if sql else ""
    kind = _kind(text)
    _queries[kind] = _queries.get(kind, 0) + 1
    if kind in _DATA:
        stack = getattr(_part_stack, "names", None)
        part = _parts.setdefault(stack[-1] if stack else "outside the metered parts", [0.0, 0, 0])
        part[1] += 1
    if kind in {"insert", "update", "delete"}:
        # "UPDATE "playground_turn" SET "status" = ..." -> 'update playground_turn status':
        # enough to tell checkpoints from sweeps and session saves.
        words = text.replace('"', "").replace("`", "").split()
        upper = [w.upper() for w in words]
        verb_at = upper.index(kind.upper()) if kind.upper() in upper else 0  # after a WITH's CTEs
        at = verb_at + {"insert": 2, "update": 1, "delete": 2}[kind]
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


# (monotonic time at the end, seconds, the process's CPU seconds meanwhile) of each
# loop stall over LAG_NOTED, and each garbage collection (by generation):
# `/__bench__/timeline`, to set the lateness tail of a load beside what the process
# was doing then. A stall with the process's CPU near its length was work; one
# without was the core taken by something else (a shared machine).
LAG_NOTED = 0.005
_stalls: list[tuple[float, float, float]] = []
# (end, generation, seconds, the thread's CPU seconds, objects collected)
_collections: list[tuple[float, int, float, float, int]] = []
_gc_started = [0.0, 0.0]


def _gc_meter(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_started[:] = time.perf_counter(), time.thread_time()
    elif len(_collections) < 200_000:
        _collections.append((time.monotonic(), info["generation"], time.perf_counter() - _gc_started[0],
                             time.thread_time() - _gc_started[1], info["collected"]))


async def _lag_meter() -> None:
    loop = asyncio.get_running_loop()
    while True:
        asked, cpu = loop.time(), time.process_time()
        await asyncio.sleep(LAG_INTERVAL)
        lag = loop.time() - asked - LAG_INTERVAL
        _lags.append(lag)
        if lag > LAG_NOTED and len(_stalls) < 200_000:
            _stalls.append((time.monotonic(), lag, time.process_time() - cpu))
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
        "parts": {name: {"cpu_s": round(v[0], 6), "queries": v[1], "calls": v[2]} for name, v in _parts.items()},
        "gc": {f"gen{g}": {"collections": sum(1 for x, _ in _gc_log if x == g),
                           "ms": round(sum(ms for x, ms in _gc_log if x == g), 1),
                           "longest_ms": max((ms for x, ms in _gc_log if x == g), default=0)} for g in (0, 1, 2)},
        "pid": os.getpid(),
        "time": time.monotonic(),
    }


def _memory(trim: bool, full_gc: bool) -> dict[str, Any]:
    import contextlib
    import ctypes
    import gc
    import threading

    def rss_kb() -> dict[str, int]:
        out: dict[str, int] = {}
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in {"Rss", "Anonymous"}:
                    out[key] = int(rest.split()[0])
        return out

    libc = ctypes.CDLL("libc.so.6")

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")]

    libc.mallinfo2.restype = Mallinfo2
    before = rss_kb()
    trim_started = time.thread_time()
    if trim:
        libc.malloc_trim(0)
    trim_cpu_ms = round((time.thread_time() - trim_started) * 1000, 2)
    info = libc.mallinfo2()
    fds = os.listdir("/proc/self/fd")
    links = []
    for fd in fds:
        with contextlib.suppress(OSError):  # closed since it was listed
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
    from channels.layers import get_channel_layer

    from playground.streaming.run import RUNS

    layer = get_channel_layer()
    # No collection unless asked (`?gc=1`): the server's own GC schedule is part of what is measured.
    gc_started = time.thread_time()
    collected = gc.collect() if full_gc else None
    gc_cpu_ms = round((time.thread_time() - gc_started) * 1000, 2)
    tracked = gc.get_objects()
    wrappers = sum(1 for o in tracked if type(o).__name__ == "DatabaseWrapper")
    return {
        "rss_kb": before, "rss_after_trim_kb": rss_kb() if trim else None,
        "trim_cpu_ms": trim_cpu_ms,
        "mallinfo2_kb": {f: getattr(info, f) // 1024 for f, _ in Mallinfo2._fields_},
        "threads": sorted(t.name for t in threading.enumerate()),
        "sqlite_files": sum(1 for x in links if x.endswith(".sqlite3")),
        "sockets": sum(1 for x in links if x.startswith("socket:")),
        "database_wrappers": wrappers,
        "layer_groups": len(getattr(layer, "groups", {}) or {}),
        "layer_channels": len(getattr(layer, "channels", {}) or {}),
        "runs": len(RUNS),
        "gc_counts": gc.get_count(), "gc_frozen": gc.get_freeze_count(), "gc_tracked": len(tracked),
        "gc_collected": collected, "gc_cpu_ms": gc_cpu_ms, "gc_full_collections": gc.get_stats()[2]["collections"],
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
        if slow := os.environ.get("BENCH_SLOW_CALLBACK"):
            # asyncio's debug mode names each callback that held the loop longer than
            # this (seconds) in the server's log: what an event-loop stall was.
            loop = asyncio.get_running_loop()
            loop.set_debug(True)
            loop.slow_callback_duration = float(slow)
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
        if scope["path"] == "/__bench__/garbage":
            # What the next full collection would free, by type: the reference cycles
            # a round leaves for the (rarely run) oldest generation.
            import collections
            import gc

            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            garbage = collections.Counter(type(o).__qualname__ for o in gc.garbage)
            gc.garbage.clear()
            gc.set_debug(0)
            await _respond(send, dict(garbage.most_common(60)))
            return
        if scope["path"] == "/__bench__/memory":
            # Native memory and the counts that could grow across runs (issue 23.4):
            # threads, open SQLite files, the channel layer's maps, the run registry,
            # glibc's heap (mallinfo2). `?trim=1` also returns freed heap to the system
            # first, to tell fragmentation (trimmable) from live memory; `?gc=1` runs a
            # full collection first.
            query = scope.get("query_string", b"")
            await _respond(send, _memory(b"trim=1" in query, b"gc=1" in query))
            return
        if scope["path"] == "/__bench__/turns":
            # With BENCH_TURN_TRACE=1: when each turn of a burst reached each step of its start.
            await _respond(send, _turn_trace_summary())
            return
        if scope["path"] == "/__bench__/timeline":
            # Loop stalls over LAG_NOTED and garbage collections, with when they ended.
            await _respond(send, {"stalls": _stalls, "collections": _collections})
            _stalls.clear()
            _collections.clear()
            return
        if scope["path"] == "/__bench__/reset":
            _queries.clear()
            _writes_by_what.clear()
            _parts.clear()
            _lags.clear()
            _gc_log.clear()
        await _respond(send, _stats())
        return
    if _NO_REQUEST_THREADS:
        from asgiref.sync import SyncToAsync

        SyncToAsync.thread_sensitive_context.set(None)  # type: ignore[arg-type]
    await _app(scope, receive, send)


_NO_REQUEST_THREADS = os.environ.get("BENCH_NO_REQUEST_THREADS") == "1"


def _bench_toggles() -> None:
    """Undo one of issue 11's speed changes, to measure it against the rest
    (bench/__main__.py, section "candidates"); the product has no such switch."""
    if os.environ.get("BENCH_CHANNELS_GROUP_SEND") == "1":
        from channels.layers import InMemoryChannelLayer

        from playground.streaming.layers import InMemoryChannelLayer as Lean

        Lean.group_send = InMemoryChannelLayer.group_send  # type: ignore[method-assign]
    if os.environ.get("BENCH_NO_HEAP_TRIM") == "1":
        from playground.operations import heap

        heap.run_ended = lambda runs_left: None
    if os.environ.get("BENCH_NO_UNWATCHED_FLUSHER") == "1":
        # What a flusher that waits for a socket to join would save, at most (a proposal,
        # docs/performance.md fifth round): the flusher of a run nobody watches when it
        # starts ends at once. Wrong for a socket that joins later: a measurement only.
        from playground.streaming import run as unwatched_run

        flusher = unwatched_run.TurnRun._flusher

        async def only_when_watched(self: Any) -> None:
            if self.held is not None:
                await self.held.wait()
            if not unwatched_run._may_have_members(self.layer, self.group):
                return
            await flusher(self)

        unwatched_run.TurnRun._flusher = only_when_watched  # type: ignore[method-assign]
    if os.environ.get("BENCH_TRIM_MID_BURST") == "1":
        # The quiet trim's full collection comes even when runs started meanwhile (before the fifth round).
        from playground.operations import heap as quiet_heap

        quiet_heap.run_started = lambda: None
    if os.environ.get("BENCH_RENDER_BEFORE") == "1":
        # A turn's end as before 23.3's fifth round: every turn by the template, the finished
        # turn's statement built by the ORM each time, the final save through QuerySet.update.
        from django.template.loader import render_to_string

        from playground.conversations import fragments
        from playground.streaming import checkpoint

        fragments.turn_html = lambda *args: None  # type: ignore[assignment]
        fragments.totals_html = lambda sums: render_to_string(  # type: ignore[assignment]
            "chat/_totals.html", {"totals": sums, "oob": True})
        fragments.announce_html = lambda turn: render_to_string(  # type: ignore[assignment]
            "chat/_announce.html", {"turn": turn})
        fragments.finished_rows = lambda pk: list(fragments.finished_query(pk))  # type: ignore[assignment]
        checkpoint.final_save = lambda turn_id, fields: checkpoint._orm_update(  # type: ignore[assignment]
            turn_id, fields, streaming_only=False)
    if os.environ.get("BENCH_STDLIB_JSON") == "1":
        import types

        from reasoning import wire

        wire.orjson = types.SimpleNamespace(loads=json.loads, JSONDecodeError=ValueError)  # type: ignore[assignment]
    if os.environ.get("BENCH_ORM_CHECKPOINT") == "1":
        # Checkpoints through QuerySet.update, compiled each time (before issue 23.1).
        from playground.streaming import checkpoint

        checkpoint.checkpoint = checkpoint._orm_update  # type: ignore[assignment]
    if os.environ.get("BENCH_CHECKPOINT_PER_RUN") == "1":
        # Each run's checkpoint its own hop, each run on its own timer (before issue 23.1's writer).
        from channels.db import database_sync_to_async

        from playground.streaming import checkpoint

        async def per_run(self: Any, turn_id: int, fields: dict[str, Any] | None) -> None:
            await database_sync_to_async(checkpoint._write_one)(turn_id, fields)

        async def own_timer(interval: float, *, after: float) -> None:
            await asyncio.sleep(interval)

        checkpoint.CheckpointWriter.save = per_run  # type: ignore[method-assign]
        checkpoint.next_tick = own_timer
    if os.environ.get("BENCH_DJANGO_SSE") == "1":
        # The API's streamed answer through Django's StreamingHttpResponse path (before issue 23.1).
        from django.core.handlers.asgi import ASGIHandler

        from playground.api.asgi import ApiHandler

        ApiHandler.send_response = ASGIHandler.send_response  # type: ignore[method-assign]
    if os.environ.get("BENCH_GROUP_NAME_REGEX") == "1":
        # Every group_send matches the group's name against Channels' expression (before issue 23.1's fourth round).
        from channels.layers import BaseChannelLayer

        from playground.streaming.layers import InMemoryChannelLayer as Lean

        Lean.require_valid_group_name = BaseChannelLayer.require_valid_group_name  # type: ignore[method-assign]
    if os.environ.get("BENCH_FRAMES_UNWATCHED") == "1":
        # A run builds and sends its frames though no socket is in the group (before the fourth round).
        from playground.streaming import run

        run._may_have_members = lambda layer, group: True
    if os.environ.get("BENCH_TAP_TIMER_PER_WAIT") == "1":
        # The API's wait on the tap makes and cancels a timer each time (before the fourth round).
        from playground.streaming.run import _wake_up
        from playground.streaming.tap import DirectTap

        async def wait_with_its_own_timer(self: Any, timeout: float) -> bool:  # noqa: ASYNC109
            if self._pieces:
                return True
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(timeout, _wake_up, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
            return bool(self._pieces)

        DirectTap.wait = wait_with_its_own_timer  # type: ignore[method-assign]
    if os.environ.get("BENCH_SSE_STDLIB_JSON") == "1":
        # The API's SSE chunks as before issue 23.1: each chunk's dict through json.dumps.
        from playground.api import shapes

        def stdlib_sse(payload: Any) -> bytes:
            return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"

        shapes.sse = stdlib_sse  # type: ignore[assignment]
        shapes.ChunkWriter._text = lambda self, field, text: self._chunk({field: text})  # type: ignore[method-assign]


# (part, module, attribute): where the product looks each step up when it runs it.
PARTS = (
    ("auth: session check (socket message)", "playground.streaming.consumer", "session_is_current"),
    ("auth: token (/v1)", "playground.api.views", "token_for"),
    ("lookup: model", "playground.streaming.launch", "model_by_id"),
    ("lookup: model", "playground.api.views", "_model"),
    ("lookup: preferences (/v1)", "playground.api.services", "Preferences.of"),
    ("rows at start: /v1 history and conversation", "playground.api.services", "store"),
    ("rows at start: prompt, answer, leaf", "playground.streaming.launch", "store"),
    ("rows at start: prompt, answer, leaf", "playground.api.services", "store_start"),
    ("lookup: run limits", "playground.turns.services", "check_run_limits"),
    ("lookup: user key", "playground.turns.services", "keys.key_for"),
    ("context build (+ key decryption)", "playground.turns.services", "request_for"),
    ("context build: the request as sent", "playground.turns.services", "request_record"),
    ("first frame: the exchange rendered", "playground.conversations.fragments", "render_new_exchange"),
    ("rows during/at end: checkpoints and the final save", "playground.streaming.run", "_update_turn"),
    ("rows during: heartbeats", "playground.streaming.run", "heartbeat"),
    ("rows during: checkpoints and heartbeats, batched", "playground.streaming.checkpoint", "write_batch"),
    ("end: the finished turn rendered (per socket)", "playground.conversations.fragments", "render_turn_oob"),
    ("end: the finished turn rendered (once, by its run)", "playground.conversations.fragments",
     "render_finished_once"),
    ("end: replay kept (/v1)", "playground.api.views", "remember"),
)


def _metered(name: str, fn: Any) -> Any:
    @functools.wraps(fn)
    def metered(*args: Any, **kwargs: Any) -> Any:
        stack = getattr(_part_stack, "names", None)
        if stack is None:
            stack = _part_stack.names = []
        stack.append(name)
        inner = _part_stack.inner = getattr(_part_stack, "inner", 0.0)
        _part_stack.inner = 0.0
        t0 = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent = time.thread_time() - t0
            part = _parts.setdefault(name, [0.0, 0, 0])
            part[0] += spent - _part_stack.inner  # its own share; nested parts count theirs
            part[2] += 1
            stack.pop()
            _part_stack.inner = inner + spent

    return metered


def _install_part_meters() -> None:
    for name, module_name, attribute in PARTS:
        owner: Any = importlib.import_module(module_name)
        *path, last = attribute.split(".")
        for step in path:
            owner = getattr(owner, step)
        original = getattr(owner, last, None)
        if original is None:  # not in this version of the code: its part is not metered
            print(f"bench: no {module_name}.{attribute} to meter", flush=True)
            continue
        if isinstance(owner, type):  # a classmethod: wrap its function, bound again
            setattr(owner, last, classmethod(_metered(name, original.__func__)))
        else:
            setattr(owner, last, _metered(name, original))


# conversation id -> {step: monotonic time}: with BENCH_TURN_TRACE=1, the steps of a
# turn's start on the server (bench/burst_probe.py: where a turn of the burst waits).
_turn_trace: dict[int, dict[str, float]] = {}
_turn_of: dict[int, int] = {}  # turn id -> conversation id


def _mark(conversation: int | None, step: str) -> None:
    if conversation is not None:
        _turn_trace.setdefault(conversation, {}).setdefault(step, time.monotonic())


def _install_turn_trace() -> None:
    from playground.streaming import consumer, launch, run

    receive = consumer.StreamingConsumer.receive

    async def traced_receive(self: Any, text_data: Any = None, bytes_data: Any = None) -> None:
        _mark(getattr(getattr(self, "conversation", None), "pk", None), "received")
        await receive(self, text_data, bytes_data)

    consumer.StreamingConsumer.receive = traced_receive  # type: ignore[method-assign]

    allowed_store = launch.store

    def traced_store(start: Any, allowed: Any) -> Any:
        conversation = getattr(getattr(start, "conversation", None), "pk", None)
        _mark(conversation, "store begins (db thread)")
        try:
            return allowed_store(start, allowed)
        finally:
            _mark(conversation, "stored")

    launch.store = traced_store

    announce = launch._announce

    async def traced_announce(one: Any, exchange: Any, *, render: Any) -> None:
        _turn_of[one.turn_id] = one.conversation_id
        _mark(one.conversation_id, "run begun")
        await announce(one, exchange, render=render)
        _mark(one.conversation_id, "announced")

    launch._announce = traced_announce

    stream_step = run.TurnRun._stream_step

    async def traced_step(self: Any, *args: Any) -> None:
        _mark(_turn_of.get(self.turn_id), "run's task runs")
        await stream_step(self, *args)

    run.TurnRun._stream_step = traced_step  # type: ignore[method-assign,assignment]

    on_reasoning = run.TurnRun._on_reasoning

    def traced_reasoning(self: Any, text: str) -> None:
        _mark(_turn_of.get(self.turn_id), "first chunk parsed")
        on_reasoning(self, text)

    run.TurnRun._on_reasoning = traced_reasoning  # type: ignore[method-assign]

    send_text_frame = run.TurnRun._send_text_frame

    async def traced_frame(self: Any) -> None:
        _mark(_turn_of.get(self.turn_id), "frame to the layer")
        await send_text_frame(self)

    run.TurnRun._send_text_frame = traced_frame  # type: ignore[method-assign]

    turn_frame = consumer.StreamingConsumer.turn_frame

    async def traced_turn_frame(self: Any, event: dict[str, Any]) -> None:
        _mark(_turn_of.get(event["turn"]), "frame at the socket")
        await turn_frame(self, event)

    consumer.StreamingConsumer.turn_frame = traced_turn_frame  # type: ignore[method-assign]


def _turn_trace_summary() -> dict[str, Any]:
    """Each step's time after the turn's "received", p50 / p90 / max in ms over the turns."""
    steps: dict[str, list[float]] = {}
    for marks in _turn_trace.values():
        t0 = marks.get("received")
        if t0 is None:
            continue
        for step, t in marks.items():
            steps.setdefault(step, []).append(t - t0)
    firsts = [m["received"] for m in _turn_trace.values() if "received" in m]
    out: dict[str, Any] = {"turns": len(firsts), "received spread ms": round((max(firsts) - min(firsts)) * 1000, 1)
                           if firsts else None}
    for step, values in sorted(steps.items(), key=lambda kv: sorted(kv[1])[len(kv[1]) // 2]):
        values.sort()
        out[step] = [round(values[int(p * (len(values) - 1))] * 1000, 1) for p in (0.5, 0.9, 1.0)]
    # Each step's own wait: from the step before it, turn by turn (p50 / p90 / max).
    order = ["received", "store begins (db thread)", "stored", "run begun", "run's task runs", "announced",
             "first chunk parsed", "frame to the layer", "frame at the socket"]
    waits: dict[str, list[float]] = {}
    for marks in _turn_trace.values():
        for before, step in itertools.pairwise(order):
            if before in marks and step in marks:
                waits.setdefault(f"{before} → {step}", []).append(marks[step] - marks[before])
    out["each step after the one before"] = {
        name: [round(sorted(v)[int(p * (len(v) - 1))] * 1000, 1) for p in (0.5, 0.9, 1.0)] for name, v in waits.items()
    }
    _turn_trace.clear()
    _turn_of.clear()
    return out


# With BENCH_GC_LOG=1: each garbage collection's generation and wall time (ms), for
# `/__bench__/stats` ("gc"): a full collection holds the GIL, so every turn waits.
_gc_log: list[tuple[int, float]] = []


def _install_gc_log() -> None:
    import gc

    started: list[float] = []

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
            if info["generation"] == 2 and os.environ.get("BENCH_GC_WHERE"):
                import traceback

                print("bench: full collection from", threading.current_thread().name,
                      "".join(traceback.format_stack(limit=6)), flush=True)
        elif started:
            _gc_log.append((info["generation"], round((time.perf_counter() - started[0]) * 1000, 2)))

    gc.callbacks.append(callback)


_install_query_counter()
_bench_toggles()
if os.environ.get("BENCH_GC_METER") == "1":
    import gc

    gc.callbacks.append(_gc_meter)
if os.environ.get("BENCH_GC_LOG") == "1":
    _install_gc_log()
if os.environ.get("BENCH_TURN_TRACE") == "1":
    _install_turn_trace()
if os.environ.get("BENCH_PARTS") == "1":
    _install_part_meters()
if interval := os.environ.get("BENCH_SWITCH_INTERVAL"):
    # How long a thread holding the GIL keeps it from the others (default 5 ms): the
    # event loop waits up to that after each of its system calls while a database
    # thread computes (the burst's stores). An experiment (bench/burst_probe.py).
    import sys

    sys.setswitchinterval(float(interval))
