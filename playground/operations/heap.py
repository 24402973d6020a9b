"""Free what the runs left and give the heap's free pages back to the system when the
process goes quiet (issue 23.4).

Two things kept memory after each busy spell while the live memory stayed flat
(bench `memory`, rounds of 40 API streams): reference cycles left by requests
and runs, which the server's tuned GC frees only at its rare full collections
(~1.8 MB a round, 4–6 thousand objects); and the holes many streams' short-lived
buffers leave all over glibc's heap, which returns memory to the system only
from the heap's top (~0.7 MB a round). So once the last run of the process has
ended (at most every MIN_INTERVAL seconds) and none has started since, a full
collection runs, then `malloc_trim(0)` hands every free page back (~0.5–1 ms of
CPU on this server's heap). When runs never stop, a run's end trims (without the collection) once
MAX_INTERVAL has passed. Elsewhere than glibc the trim does nothing.

A run that starts before the quiet trim came puts it off (`run_started`): the full
collection walks every live object, and in the middle of the next burst of runs it
stalled the event loop of all of them (60-90 ms of CPU with 200 API streams
starting, docs/performance.md, fifth round); it comes when that burst's last run ends.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import time
from collections.abc import Callable

QUIET_DELAY = 0.5  # seconds after the last run ends: its request has finished writing by then
MIN_INTERVAL = 5.0
MAX_INTERVAL = 60.0


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_trim = _malloc_trim()
_last = time.monotonic()  # the process starts with a fresh heap
_pending: asyncio.TimerHandle | None = None
_pending_on: asyncio.AbstractEventLoop | None = None
trims = 0  # how many times the heap was trimmed (the tests read it)


def trim_now(collect: bool = True) -> None:
    global _last, _pending, trims
    _pending = None
    if collect:
        # The reference cycles the runs and requests left, first: the server's tuned
        # GC (playground.server) collects the oldest generation only after many young
        # collections, so they would pile up over many busy spells before being freed.
        gc.collect()
    if _trim is not None:
        _trim(0)
    _last = time.monotonic()  # the interval counts from the end of the work
    trims += 1


def _schedule(loop: asyncio.AbstractEventLoop, delay: float) -> asyncio.TimerHandle:
    global _pending_on
    _pending_on = loop
    return loop.call_later(delay, trim_now)


def run_started() -> None:
    """A run of this process starts: it is not quiet. A trim still waiting for the
    quiet spell is called off (its full collection holds the GIL: 350 ms at a burst
    of 200 chat turns, every turn's start waiting behind it); the last run's end
    schedules it again."""
    global _pending
    if _pending is not None:
        _pending.cancel()
        _pending = None


def run_ended(runs_left: int) -> None:
    """A run of this process ended, `runs_left` still going: trim soon if that was the last."""
    global _pending
    loop = asyncio.get_running_loop()
    if _pending is not None and not _pending.cancelled() and _pending_on is loop:
        return  # already coming (a pending trim of a loop since closed, as in tests, does not count)
    since = time.monotonic() - _last
    if runs_left == 0:
        _pending = _schedule(loop, max(QUIET_DELAY, MIN_INTERVAL - since))
    elif since >= MAX_INTERVAL:
        trim_now(collect=False)  # not a full collection while streams are running
