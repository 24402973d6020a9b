"""A direct reader's wait (playground.streaming.tap.DirectTap.wait): one timer for
many waits, and still every wait ends at its own deadline when nothing comes."""

from __future__ import annotations

import asyncio
import time

from playground.streaming.tap import DirectTap


async def test_waits_that_end_with_a_piece_share_one_timer():
    tap = DirectTap()
    loop = asyncio.get_running_loop()
    timers = set()
    for i in range(50):
        waiting = asyncio.create_task(tap.wait(10.0))
        await asyncio.sleep(0)
        timers.add(id(tap._timer))
        loop.call_soon(tap.delta, "r", f"t{i}")
        assert await waiting is True
        assert tap.take().text == f"t{i}"
    assert len(timers) == 1  # made once, not made and cancelled fifty times


async def test_a_wait_still_ends_at_its_deadline_after_earlier_waits_moved_it():
    tap = DirectTap()
    loop = asyncio.get_running_loop()
    # The timer is set for the first wait's deadline; later waits push the deadline on.
    for i in range(5):
        waiting = asyncio.create_task(tap.wait(0.2))
        await asyncio.sleep(0.05)
        tap.delta("r", str(i))
        assert await waiting is True
        tap.take()
    started = loop.time()
    assert await tap.wait(0.2) is False
    waited = loop.time() - started
    assert 0.2 - 0.002 <= waited < 2.0  # not when the first timer was due (well before)


async def test_a_shorter_wait_than_the_pending_timer_is_not_held_to_it():
    tap = DirectTap()
    waiting = asyncio.create_task(tap.wait(3600.0))
    await asyncio.sleep(0)
    tap.delta("r", "x")
    assert await waiting is True
    tap.take()
    started = time.monotonic()
    assert await tap.wait(0.05) is False
    assert time.monotonic() - started < 5.0


async def test_a_reader_that_leaves_leaves_no_timer():
    tap = DirectTap()
    waiting = asyncio.create_task(tap.wait(3600.0))
    await asyncio.sleep(0)
    assert tap._timer is not None
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert tap._timer is None
    # And after a reader's loop over the pieces ends with the run.
    tap.delta("r", "a")
    reading = tap.pieces()
    assert (await anext(reading)).text == "a"
    waiting_more = asyncio.ensure_future(anext(reading))
    await asyncio.sleep(0)
    assert tap._timer is not None  # waiting for the next piece, up to an hour
    tap.end()
    assert [p async for p in _rest(waiting_more)] == []
    assert tap._timer is None


async def _rest(step):
    try:
        yield await step
    except StopAsyncIteration:
        return
