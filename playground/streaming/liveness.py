"""Moved to `playground.turns.liveness` (issue 19.8: the turn's domain in one room).

Kept only so code written against the old place keeps importing while the
branches that still use it are merged; nothing in the tree imports it. Delete it
once `grep -r "playground.streaming.liveness"` finds nothing.
"""

from playground.turns.liveness import (
    INTERRUPTED,
    LIVE_RUNS,
    finished_or_dead,
    heartbeat,
    mark_interrupted,
    stale_after,
    sweep_once,
)

__all__ = [
    "INTERRUPTED",
    "LIVE_RUNS",
    "finished_or_dead",
    "heartbeat",
    "mark_interrupted",
    "stale_after",
    "sweep_once",
]
