"""One checkpoint writer per process (playground.streaming.checkpoint.writer, issue
23.1): the runs' checkpoints of one turn of the loop go to the database in one hop
and write what each run's own UPDATE wrote, only to turns still streaming; one run's
refused values lose no other run's checkpoint. On the test database: SQLite, or
PostgreSQL with DATABASE_URL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from django.db.models.functions import Now
from django.utils import timezone

from playground.models import Conversation, Turn
from playground.streaming import checkpoint
from playground.turns.liveness import WORKER_ID

pytestmark = pytest.mark.django_db(transaction=True)

COLUMNS = ("reasoning", "content", "first_reasoning_ms", "first_content_ms", "worker", "steps", "status")
AN_HOUR_AGO = timedelta(hours=1)


def streaming_turns(owner, n: int) -> list[Turn]:
    conv = Conversation.objects.create(owner=owner)
    return [
        Turn.objects.create(conversation=conv, role="assistant", status="streaming",
                            heartbeat_at=timezone.now() - AN_HOUR_AGO, reasoning="before")
        for _ in range(n)
    ]


def fields(text: str, **more) -> dict:
    return {"reasoning": "r: " + text, "content": "c: " + text, "first_reasoning_ms": 12, "first_content_ms": None,
            "heartbeat_at": Now(), "worker": "host:1:abc", **more}


def fresh(turn: Turn) -> Turn:
    turn.refresh_from_db()
    return turn


@pytest.fixture
def writer() -> checkpoint.CheckpointWriter:
    return checkpoint.CheckpointWriter()


async def test_checkpoints_of_one_turn_of_the_loop_are_one_hop_writing_what_each_run_wrote(owner, writer):
    ours = await asyncio.to_thread(streaming_turns, owner, 3)
    orms = await asyncio.to_thread(streaming_turns, owner, 3)
    steps = [{"calls": [{"id": "c1", "args": {"q": "ü \"x\""}}], "text": "t"}]
    texts = ["one", 'quotes " and \' and é 中 \n and %s %(x)s', "three"]
    saved = [fields(texts[0]), fields(texts[1], steps=steps), fields(texts[2], first_content_ms=40)]
    await asyncio.gather(*(writer.save(turn.pk, f) for turn, f in zip(ours, saved, strict=True)))
    assert writer.batches == 1
    # What each run's own checkpoint wrote before: QuerySet.update on a streaming turn.
    for turn, f in zip(orms, saved, strict=True):
        await asyncio.to_thread(checkpoint._orm_update, turn.pk, f)
    for mine, orm in zip(ours, orms, strict=True):
        mine, orm = await asyncio.to_thread(fresh, mine), await asyncio.to_thread(fresh, orm)
        assert [getattr(mine, c) for c in COLUMNS] == [getattr(orm, c) for c in COLUMNS]
        assert mine.heartbeat_at > timezone.now() - timedelta(minutes=5)  # the database's clock, just now
    assert [t.reasoning for t in ours] == ["r: " + t for t in texts]


async def test_a_heartbeat_in_the_batch_says_alive_and_leaves_the_text(owner, writer):
    alive, written = await asyncio.to_thread(streaming_turns, owner, 2)
    await asyncio.gather(writer.save(alive.pk, None), writer.save(written.pk, fields("new")))
    assert writer.batches == 1
    alive = await asyncio.to_thread(fresh, alive)
    assert (alive.reasoning, alive.worker, alive.status) == ("before", WORKER_ID, "streaming")
    assert alive.heartbeat_at > timezone.now() - timedelta(minutes=5)
    assert (await asyncio.to_thread(fresh, written)).reasoning == "r: new"


async def test_a_turn_no_longer_streaming_is_left_alone(owner, writer):
    swept, live = await asyncio.to_thread(streaming_turns, owner, 2)
    await asyncio.to_thread(
        lambda: Turn.objects.filter(pk=swept.pk).update(status="interrupted", reasoning="kept by the sweep")
    )
    await asyncio.gather(writer.save(swept.pk, fields("late")), writer.save(live.pk, fields("on time")),
                         writer.save(swept.pk, None))
    swept, live = await asyncio.to_thread(fresh, swept), await asyncio.to_thread(fresh, live)
    assert (swept.status, swept.reasoning) == ("interrupted", "kept by the sweep")
    assert swept.heartbeat_at < timezone.now() - timedelta(minutes=30)
    assert (live.status, live.reasoning) == ("streaming", "r: on time")


async def test_one_runs_refused_values_lose_no_other_runs_checkpoint(owner, writer):
    first, bad, last = await asyncio.to_thread(streaming_turns, owner, 3)
    saves = [writer.save(first.pk, fields("first")),
             writer.save(bad.pk, fields("bad", first_reasoning_ms=2**70)),  # no integer column holds it
             writer.save(last.pk, fields("last"))]
    outcomes = await asyncio.gather(*saves, return_exceptions=True)
    assert writer.batches == 1
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], Exception)  # the run whose write failed is told (it logs, and saves again)
    first, bad, last = [await asyncio.to_thread(fresh, t) for t in (first, bad, last)]
    assert (first.reasoning, bad.reasoning, last.reasoning) == ("r: first", "before", "r: last")


async def test_checkpointers_started_at_different_times_wake_on_one_grid_and_make_one_batch(owner, writer):
    turns = await asyncio.to_thread(streaming_turns, owner, 5)
    interval = 0.2

    async def checkpointer(turn: Turn, started_after: float) -> None:
        await asyncio.sleep(started_after)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await checkpoint.next_tick(interval, after=interval)
        assert loop.time() - start >= interval  # never sooner than one interval after the run's start
        await writer.save(turn.pk, fields(f"turn {turn.pk}"))

    await checkpoint.next_tick(interval, after=0)  # just past a tick: the five start within the same interval
    await asyncio.gather(*(checkpointer(t, 0.005 + n * 0.01) for n, t in enumerate(turns)))
    assert writer.batches == 1
    for turn in turns:
        assert (await asyncio.to_thread(fresh, turn)).reasoning == f"r: turn {turn.pk}"


async def test_a_save_cancelled_before_its_batch_is_not_written(owner, writer):
    ended, live = await asyncio.to_thread(streaming_turns, owner, 2)
    cancelled = asyncio.ensure_future(writer.save(ended.pk, fields("late")))
    await asyncio.sleep(0)  # queued, its batch not yet started
    cancelled.cancel()
    await writer.save(live.pk, fields("live"))
    ended, live = await asyncio.to_thread(fresh, ended), await asyncio.to_thread(fresh, live)
    assert (ended.reasoning, live.reasoning) == ("before", "r: live")
