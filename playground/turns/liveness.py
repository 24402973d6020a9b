"""Is this turn alive? The one place that answers it.

A turn in state "streaming" is alive while its run checkpoints it: a live run, in
any worker, bumps `heartbeat_at` every CHECKPOINT_INTERVAL (on the database's
clock, which every worker shares). A streaming turn whose heartbeat is older
than `stale_after()` belongs to a dead process and is marked interrupted, text
kept, by a sweep: on a page load, a socket's watchdog, a process's first run or
socket, and `bootstrap`. Runs alive in this process (`LIVE_RUNS`) are never
touched, whatever their heartbeat says.

The run registers itself in `LIVE_RUNS`; this module imports nothing of the
run, so the synchronous domain code can ask without reaching into the async
runtime.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models.functions import Now

from playground.models import Conversation, Turn
from playground.turns.errors import TurnError

log = logging.getLogger(__name__)

LIVE_RUNS: dict[int, Any] = {}  # turn id -> the TurnRun generating it in this process
# This process, as its turns (Turn.worker) and its heartbeat row name it (operations.heartbeat).
WORKER_ID = f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"

INTERRUPTED = TurnError("interrupted", "The server stopped while this turn was streaming.").as_dict()


def stale_after() -> float:
    """Seconds without a checkpoint after which a "streaming" turn is taken for dead.

    The margin covers a busy database or a paused process. Too small a value would
    mark live turns of other workers (their final save still wins, but watchers
    would have seen "interrupted" for a while).
    """
    configured = float(getattr(settings, "STREAM_STALE_AFTER", 0) or 0)
    return configured or max(10.0, 5 * float(settings.CHECKPOINT_INTERVAL))


def mark_interrupted(conversation: Conversation | None = None, turn_ids: list[int] | None = None) -> int:
    """Mark the dead among the streaming turns (of `conversation`, or among
    `turn_ids`, or everywhere) as interrupted; returns how many."""
    turns = Turn.objects.filter(
        status=Turn.Status.STREAMING, heartbeat_at__lt=Now() - timedelta(seconds=stale_after())
    ).exclude(pk__in=list(LIVE_RUNS))
    if conversation is not None:
        turns = turns.filter(conversation=conversation)
    if turn_ids is not None:
        turns = turns.filter(pk__in=turn_ids)
    # Look before writing: this runs on every page load and every few seconds per
    # watching socket, and nearly always finds nothing. A read takes no write lock
    # (SQLite has one for the whole database, which the checkpoints need).
    stale = list(turns.values_list("pk", flat=True))
    if not stale:
        return 0
    # The update repeats the conditions: a run may have checkpointed meanwhile.
    return turns.filter(pk__in=stale).update(status=Turn.Status.INTERRUPTED, error=INTERRUPTED)


def finished_or_dead(turn_ids: list[int]) -> list[int]:
    """Of `turn_ids`, those no longer streaming (or deleted), after a sweep of the dead."""
    mark_interrupted(turn_ids=turn_ids)
    streaming = set(Turn.objects.filter(pk__in=turn_ids, status=Turn.Status.STREAMING).values_list("pk", flat=True))
    return [pk for pk in turn_ids if pk not in streaming]


def heartbeat(turn_id: int) -> None:
    """A checkpoint with nothing new to save still says the run is alive."""
    Turn.objects.filter(pk=turn_id, status=Turn.Status.STREAMING).update(heartbeat_at=Now(), worker=WORKER_ID)


_swept = False


async def sweep_once() -> None:
    """On a process's first run or socket, mark turns left streaming by dead
    processes, so a restarted worker does not wait for someone to open each
    conversation."""
    global _swept
    if _swept:
        return
    _swept = True
    try:
        if n := await database_sync_to_async(mark_interrupted)():
            log.warning("marked %s turn(s) left streaming by a stopped process as interrupted", n)
    except Exception:
        log.warning("sweep of dead turns failed", exc_info=True)
