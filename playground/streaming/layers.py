"""The in-memory channel layer, without its per-message full sweep.

Channels' `InMemoryChannelLayer` calls `_clean_expired()` on every send, group
send and receive, and that walks every channel queue and every group member:
O(sockets + runs) per frame, so the relay's cost grows with the square of the
number of streams (bench/README.md: ~10% of the CPU at 50 streams, most of it at
500). Messages expire after `expiry` (60 s) and group memberships after a day,
so sweeping at most once a second changes nothing a client can see.
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer as _ChannelsInMemoryLayer

SWEEP_EVERY = 1.0  # seconds


class InMemoryChannelLayer(_ChannelsInMemoryLayer):
    _swept_at = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at < SWEEP_EVERY:
            return
        self._swept_at = now
        super()._clean_expired()
