"""Worker heartbeats: a turn whose worker died is interrupted without anyone
opening a page.

Each server process (a "worker") keeps a row in playground_worker and bumps its
`beat_at` every WORKER_HEARTBEAT_INTERVAL seconds (the database's clock, shared
by all workers). A turn records its worker when it is created and at every
checkpoint (liveness.WORKER_ID). On the same tick each
worker sweeps: a streaming turn whose worker has not beaten for WORKER_LOST_AFTER
seconds (or has no row any more) is marked interrupted, keeping the text of its
last checkpoint. So a turn of a worker killed with SIGKILL is interrupted within
WORKER_LOST_AFTER + WORKER_HEARTBEAT_INTERVAL by any surviving worker, watched or
not; with a single worker, its restart does it (liveness.sweep_once).

The same tick also applies liveness's per-turn rule (no checkpoint for
STREAM_STALE_AFTER), which covers turns started before workers recorded themselves.

The loop starts with the first request or socket a process serves (daphne has no
ASGI lifespan events); load balancers' probes of /health or /ready start it on an
idle worker. WORKER_HEARTBEAT_INTERVAL=0 turns it off (the in-process tests do).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models.functions import Now

from playground.models import Turn, Worker
from playground.turns.liveness import INTERRUPTED, LIVE_RUNS, WORKER_ID, mark_interrupted

log = logging.getLogger(__name__)

# Rows of workers silent this long are deleted (their turns were swept long before).
FORGET_AFTER = timedelta(hours=1)
# ... looked for this often, not on every beat: a DELETE takes the write lock even
# when it matches nothing (on SQLite, the whole file's, which checkpoints wait on).
FORGET_EVERY = timedelta(minutes=10)

_forgot_at: float | None = None  # time.monotonic() of this process's last forgetting

_task: asyncio.Task[None] | None = None


def interval() -> float:
    return float(settings.WORKER_HEARTBEAT_INTERVAL)


def lost_after() -> float:
    return float(settings.WORKER_LOST_AFTER) or 6 * interval()


def beat() -> None:
    if not Worker.objects.filter(name=WORKER_ID).update(beat_at=Now()):
        Worker.objects.create(name=WORKER_ID, beat_at=Now())


def sweep() -> int:
    """Mark the streaming turns of lost workers (and the per-turn stale ones)
    interrupted; returns how many."""
    alive = Worker.objects.filter(beat_at__gte=Now() - timedelta(seconds=lost_after())).values("name")
    orphans = (
        Turn.objects.filter(status=Turn.Status.STREAMING)
        .exclude(worker="")
        .exclude(worker=WORKER_ID)
        .exclude(worker__in=alive)
        .exclude(pk__in=list(LIVE_RUNS))
    )
    # Look before writing, as liveness does: nearly always there is nothing.
    found = list(orphans.values_list("pk", flat=True))
    n = orphans.filter(pk__in=found).update(status=Turn.Status.INTERRUPTED, error=INTERRUPTED) if found else 0
    n += mark_interrupted()
    forget_silent_workers()
    return n


def forget_silent_workers() -> None:
    """Delete the rows of workers silent past FORGET_AFTER: on the first tick of the
    process, then every FORGET_EVERY."""
    global _forgot_at
    now = time.monotonic()
    if _forgot_at is not None and now - _forgot_at < FORGET_EVERY.total_seconds():
        return
    Worker.objects.filter(beat_at__lt=Now() - FORGET_AFTER).delete()
    _forgot_at = now


def tick() -> int:
    beat()
    return sweep()


async def _loop() -> None:
    from playground.operations import metrics

    while True:
        try:
            if n := await database_sync_to_async(tick)():
                metrics.TURNS_INTERRUPTED.inc(n)
                log.warning("marked %s turn(s) of stopped workers as interrupted", n)
        except Exception:  # a database hiccup must not end the heartbeat
            log.warning("worker heartbeat failed", exc_info=True)
        await asyncio.sleep(interval())


def ensure_started() -> None:
    """Start this process's heartbeat on the running loop, once."""
    global _task
    if (_task is not None and not _task.done()) or interval() <= 0:
        return
    _task = asyncio.get_running_loop().create_task(_loop(), name="worker-heartbeat")
