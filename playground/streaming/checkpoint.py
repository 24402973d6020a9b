"""A streaming turn's checkpoint UPDATE, compiled once per set of fields (issue 23.1).

Every live run writes its text about once a second (CHECKPOINT_INTERVAL). Through
`QuerySet.update` each write builds and compiles the same statement again: at 40
streams that compiling was about a tenth of the server's CPU (docs/performance.md).
Here the ORM compiles it once per database and set of field names; each checkpoint
then prepares only its values, the way the compiler does (`get_db_prep_save`), and
runs the statement. Values that are expressions (`Now()`) are part of the SQL, and
so is a None (the compiler writes NULL): which values are which is part of the key.

**One writer per process** (`save`, `next_tick`): each run's checkpoint was its own
hop to the thread that writes (asgiref's one thread-sensitive thread, db_threads):
at 200 streams, 200 hops a second, each a thread switch, a GIL hand-over and a
commit. The runs' checkpointers now wake on one grid of CHECKPOINT_INTERVAL
(`next_tick`), so they save in the same turn of the loop; `save` queues each run's
fields and one task writes every checkpoint queued in that turn in one hop and one
transaction: the same UPDATE per run as before (only a turn still streaming), and
each run's `save` returns or raises as its own write did. When the batch fails
(one run's values refused, and on PostgreSQL the transaction with it), each run's
UPDATE is written again on its own: one run's bad values lose no other run's
checkpoint.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from django.db import router, transaction
from django.db.models.functions import Now

from playground import statements
from playground.db_threads import detached_context
from playground.models import Turn
from playground.turns.liveness import WORKER_ID

# The statements, compiled once per database and set of fields (playground.statements).
_streaming_turn = statements.Update(Turn, and_where=("status", Turn.Status.STREAMING))
_any_turn = statements.Update(Turn)


def checkpoint(turn_id: int, fields: dict[str, Any]) -> int:
    """`Turn.objects.filter(pk=turn_id, status=STREAMING).update(**fields)`; the rows changed."""
    return _streaming_turn(turn_id, fields)


def final_save(turn_id: int, fields: dict[str, Any]) -> int:
    """`Turn.objects.filter(pk=turn_id).update(**fields)`, the run's last write (whatever
    the turn's status: the run did finish), by a statement compiled once the same way:
    through the ORM, building and compiling it was most of the turn's final save."""
    return _any_turn(turn_id, fields)


def _orm_update(turn_id: int, fields: dict[str, Any], *, streaming_only: bool = True) -> int:
    turns = Turn.objects.filter(pk=turn_id)
    if streaming_only:
        turns = turns.filter(status=Turn.Status.STREAMING)
    return turns.update(**fields)


async def next_tick(interval: float, *, after: float) -> None:
    """Sleep to the first multiple of `interval` on the loop's clock at least `after`
    seconds from now: every run's checkpointer wakes in the same turn of the loop, and
    their saves make one batch. (`after`: a run's first checkpoint one interval after its
    start, as before, so a short turn still writes none; later ones half an interval
    apart at least, so a timer that fires a hair early does not save twice.)"""
    at = asyncio.get_running_loop().time() + after
    await asyncio.sleep(after + (-at) % interval)


class _Queued:
    __slots__ = ("done", "fields", "turn_id")

    def __init__(self, turn_id: int, fields: dict[str, Any] | None) -> None:
        self.turn_id = turn_id
        self.fields = fields  # None: nothing new, only "this run is alive"
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class CheckpointWriter:
    """The process's checkpoints, written in batches (one per turn of the loop that has any)."""

    def __init__(self) -> None:
        self._queued: list[_Queued] = []
        self._writing: set[asyncio.Task[None]] = set()
        self.batches = 0  # how many hops to the writing thread (tests, bench)

    async def save(self, turn_id: int, fields: dict[str, Any] | None) -> None:
        """Write a run's checkpoint (`fields`), or only its heartbeat (None), with
        whatever other runs save in this turn of the loop; raises what its own write raised."""
        queued = _Queued(turn_id, fields)
        if not self._queued:
            # After every checkpointer woken in this turn of the loop has queued its own.
            asyncio.get_running_loop().call_soon(self._write_queued)
        self._queued.append(queued)
        await queued.done

    def _write_queued(self) -> None:
        # A save cancelled before its batch (a run that ended meanwhile) is dropped:
        # its final save writes everything.
        batch = [q for q in self._queued if not q.done.done()]
        self._queued = []
        if not batch:
            return
        # Not in whichever run's context queued first: the writes belong on the
        # process's one shared thread, where each run's own hop went (db_threads).
        task = asyncio.get_running_loop().create_task(self._write(batch), context=detached_context())
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _write(self, batch: list[_Queued]) -> None:
        self.batches += 1
        try:
            outcomes = await database_sync_to_async(write_batch)([(q.turn_id, q.fields) for q in batch])
        except asyncio.CancelledError:  # the loop is closing: no run is left to wait
            for queued in batch:
                queued.done.cancel()
            raise
        except Exception as e:  # the hop itself failed: every run of the batch is told
            outcomes = [e] * len(batch)
        for queued, outcome in zip(batch, outcomes, strict=True):
            if queued.done.done():
                continue
            if outcome is None:
                queued.done.set_result(None)
            else:
                queued.done.set_exception(outcome)


def write_batch(batch: list[tuple[int, dict[str, Any] | None]]) -> list[BaseException | None]:
    """Each run's checkpoint UPDATE, in one transaction; what each write raised (None: written)."""
    if len(batch) == 1:  # no transaction around one statement (autocommit, as before)
        return _each_on_its_own(batch)
    alias = router.db_for_write(Turn)
    try:
        with transaction.atomic(using=alias):
            for turn_id, fields in batch:
                _write_one(turn_id, fields)
        return [None] * len(batch)
    except Exception:
        # Each again on its own: which one failed, and the others kept.
        return _each_on_its_own(batch)


def _each_on_its_own(batch: list[tuple[int, dict[str, Any] | None]]) -> list[BaseException | None]:
    outcomes: list[BaseException | None] = []
    for turn_id, fields in batch:
        try:
            _write_one(turn_id, fields)
            outcomes.append(None)
        except Exception as e:
            outcomes.append(e)
    return outcomes


def _write_one(turn_id: int, fields: dict[str, Any] | None) -> None:
    # A heartbeat is liveness.heartbeat's UPDATE, through the statement compiled once.
    checkpoint(turn_id, fields if fields is not None else {"heartbeat_at": Now(), "worker": WORKER_ID})


writer = CheckpointWriter()
