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
    monkeypatch.setattr(heap, "_live", int)
    monkeypatch.setattr(heap, "_ended_at", 0.0)
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


async def test_a_trim_due_while_the_next_run_streams_waits_for_its_end(quick):
    going = [0]
    before = quick.trims
    quick.run_ended(0, live=lambda: going[0])
    going[0] = 1  # the next turn started before the trim came due
    await settle()
    assert quick.trims == before  # no full collection while it streams
    going[0] = 0
    quick.run_ended(0)
    await until(lambda: quick.trims == before + 1)


async def test_a_run_that_ended_meanwhile_puts_the_trim_off_by_the_quiet_delay(quick, monkeypatch):
    monkeypatch.setattr(heap, "QUIET_DELAY", 0.3)
    before = quick.trims
    quick.run_ended(0)
    await asyncio.sleep(0.15)
    quick.run_ended(0)  # another run ended: quiet for 0.3 s from now, not from the first
    await asyncio.sleep(0.25)
    assert quick.trims == before
    await until(lambda: quick.trims == before + 1)


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
