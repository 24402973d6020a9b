"""The sweep's rules, on the test database (the kill -9 across processes is
tests/scaleout/test_heartbeat.py): only turns of workers silent past
WORKER_LOST_AFTER are interrupted, with their text; live workers' and this
process's turns are left alone; the loop beats."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from playground.models import Conversation, Turn, Worker
from playground.operations import heartbeat
from playground.turns.liveness import WORKER_ID

pytestmark = pytest.mark.django_db(transaction=True)


def streaming_turn(owner, worker: str) -> Turn:
    conv = Conversation.objects.create(owner=owner)
    return Turn.objects.create(
        conversation=conv, role="assistant", status="streaming", reasoning="thought so far", content="ans",
        worker=worker, heartbeat_at=timezone.now(),
    )


def test_only_turns_of_lost_workers_are_interrupted(owner, settings):
    settings.WORKER_HEARTBEAT_INTERVAL, settings.WORKER_LOST_AFTER = 1.0, 5.0
    Worker.objects.create(name="alive:1:a", beat_at=timezone.now())
    Worker.objects.create(name="silent:2:b", beat_at=timezone.now())
    Worker.objects.filter(name="silent:2:b").update(beat_at=timezone.now() - timedelta(seconds=30))
    alive = streaming_turn(owner, "alive:1:a")
    silent = streaming_turn(owner, "silent:2:b")
    gone = streaming_turn(owner, "gone:3:c")  # its row was never written or was deleted
    mine = streaming_turn(owner, WORKER_ID)
    unknown = streaming_turn(owner, "")  # before workers were recorded: the per-turn rule's business

    assert heartbeat.tick() == 2
    status = dict(Turn.objects.values_list("pk", "status"))
    assert status[silent.pk] == status[gone.pk] == "interrupted"
    assert status[alive.pk] == status[mine.pk] == status[unknown.pk] == "streaming"
    kept = Turn.objects.get(pk=silent.pk)
    assert (kept.reasoning, kept.content) == ("thought so far", "ans")
    assert "stopped" in kept.error["message"]
    assert Worker.objects.filter(name=WORKER_ID).exists()  # it beat


async def test_the_loop_beats_every_interval(owner, settings):
    settings.WORKER_HEARTBEAT_INTERVAL = 0.1
    heartbeat._task = None
    heartbeat.ensure_started()
    try:
        await asyncio.sleep(0.35)
        first = await database_sync_to_async(lambda: Worker.objects.get(name=WORKER_ID).beat_at)()
        await asyncio.sleep(0.3)
        second = await database_sync_to_async(lambda: Worker.objects.get(name=WORKER_ID).beat_at)()
        assert second > first
    finally:
        assert heartbeat._task is not None
        heartbeat._task.cancel()
        heartbeat._task = None


def test_silent_workers_are_forgotten_on_the_first_tick_and_then_only_every_few_minutes(owner, settings, monkeypatch):
    """A DELETE takes the database's write lock even when it matches nothing (on SQLite,
    the whole file's): the rows of workers silent for an hour are not looked for
    on every 5-second beat, but when the process starts and every FORGET_EVERY."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    clock = [1000.0]
    monkeypatch.setattr(heartbeat, "_forgot_at", None)
    monkeypatch.setattr(heartbeat.time, "monotonic", lambda: clock[0])

    def silent_for_two_hours(name: str) -> None:
        Worker.objects.create(name=name, beat_at=timezone.now())
        Worker.objects.filter(name=name).update(beat_at=timezone.now() - timedelta(hours=2))

    def deletes_of_a_tick() -> int:
        with CaptureQueriesContext(connection) as seen:
            heartbeat.tick()
        return sum(1 for q in seen.captured_queries if q["sql"].lstrip().upper().startswith("DELETE"))

    silent_for_two_hours("old:1:a")
    assert deletes_of_a_tick() == 1
    assert not Worker.objects.filter(name="old:1:a").exists()

    silent_for_two_hours("old:2:b")
    clock[0] += heartbeat.FORGET_EVERY.total_seconds() - 1
    assert deletes_of_a_tick() == 0
    assert Worker.objects.filter(name="old:2:b").exists()

    clock[0] += 1
    assert deletes_of_a_tick() == 1
    assert not Worker.objects.filter(name="old:2:b").exists()
    assert Worker.objects.filter(name=WORKER_ID).exists()
