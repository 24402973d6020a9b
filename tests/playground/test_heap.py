"""Issue 23.4: the heap's free pages go back to the system once the process's last
run ends (playground.operations.heap), once per quiet spell, and now and then when
runs never stop; counted by `heap.trims`."""

from __future__ import annotations

import asyncio
import gc
import platform
import time
import weakref

import pytest

from playground.operations import heap


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setattr(heap, "QUIET_DELAY", 0.01)
    monkeypatch.setattr(heap, "MIN_INTERVAL", 0.0)
    monkeypatch.setattr(heap, "MAX_INTERVAL", 3600.0)
    monkeypatch.setattr(heap, "_last", time.monotonic())
    monkeypatch.setattr(heap, "_pending", None)
    return heap


async def settle():
    await asyncio.sleep(0.1)


async def until(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


async def test_it_trims_once_when_the_last_run_ends(quick):
    before = quick.trims
    quick.run_ended(2)
    quick.run_ended(1)
    await settle()
    assert quick.trims == before  # runs still going: their buffers are in use
    quick.run_ended(0)
    quick.run_ended(0)  # several runs ending together: one trim
    await until(lambda: quick.trims == before + 1)
    await settle()
    assert quick.trims == before + 1


async def test_quiet_spells_closer_than_the_minimum_interval_wait_for_it(quick, monkeypatch):
    monkeypatch.setattr(heap, "MIN_INTERVAL", 2.0)
    monkeypatch.setattr(heap, "_last", time.monotonic() - 10)
    before = quick.trims
    quick.run_ended(0)
    await until(lambda: quick.trims == before + 1)
    quick.run_ended(0)
    assert quick.trims == before + 1  # not now: the last trim was just now
    assert quick._pending is not None
    assert quick._pending.when() - asyncio.get_running_loop().time() > 0.5
    await until(lambda: quick.trims == before + 2)  # but not skipped


async def test_runs_that_never_stop_still_trim_every_max_interval(quick, monkeypatch):
    monkeypatch.setattr(heap, "MAX_INTERVAL", 0.0)
    before = quick.trims
    quick.run_ended(5)
    assert quick.trims == before + 1


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_it_calls_glibcs_malloc_trim():
    assert heap._trim is not None
    heap.trim_now()  # does not crash the process (argument and result types)


async def test_the_quiet_trim_frees_the_reference_cycles_left_behind(quick):
    """The server's tuned GC rarely runs a full collection: what a round's requests
    and runs left in reference cycles goes at the quiet trim."""

    class Frame:
        pass

    gc.disable()  # no collection but the trim's
    try:
        left = Frame()
        left.cycle = left  # type: ignore[attr-defined]
        alive = weakref.ref(left)
        del left
        await settle()
        assert alive() is not None
        quick.run_ended(1)
        await settle()
        assert alive() is not None  # runs still going: no full collection meanwhile
        quick.run_ended(0)
        await until(lambda: alive() is None)
    finally:
        gc.enable()


def test_a_trim_left_pending_on_a_closed_loop_does_not_stop_the_next(quick, monkeypatch):
    async def last_run_ends():
        heap.run_ended(0)

    monkeypatch.setattr(heap, "QUIET_DELAY", 3600.0)
    asyncio.run(last_run_ends())  # its loop closes with the trim still pending
    monkeypatch.setattr(heap, "QUIET_DELAY", 0.01)
    before = heap.trims

    async def next_quiet_spell():
        await last_run_ends()
        await until(lambda: heap.trims == before + 1)

    asyncio.run(next_quiet_spell())


async def test_a_run_started_before_the_quiet_trim_calls_it_off_until_the_last_run_ends(quick, monkeypatch):
    # The trim's full collection holds the GIL (350 ms with 200 sockets open): a burst
    # of turns starting in the quiet delay after the previous one waited behind it.
    monkeypatch.setattr(heap, "QUIET_DELAY", 0.2)
    collections = []
    monkeypatch.setattr(heap.gc, "collect", lambda *a: collections.append(a) or 0)
    before = quick.trims
    quick.run_ended(0)
    quick.run_started()
    await asyncio.sleep(0.4)
    assert quick.trims == before and not collections
    quick.run_ended(0)
    await until(lambda: quick.trims == before + 1)
    assert len(collections) == 1
