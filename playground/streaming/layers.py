"""The in-memory channel layer, without its per-message full sweep and with a lean
`group_send`.

Channels' `InMemoryChannelLayer` calls `_clean_expired()` on every send, group
send and receive, and that walks every channel queue and every group member:
O(sockets + runs) per frame, so the relay's cost grows with the square of the
number of streams (bench/README.md: ~10% of the CPU at 50 streams, most of it at
500). Messages expire after `expiry` (60 s) and group memberships after a day,
so sweeping at most once a second changes nothing a client can see.

Its `group_send` makes a task per member, waits on them with
`asyncio.as_completed` and deep-copies the message once per member: 15 % of the
relay's CPU at 50 streams (issue 11). Each of those sends is a `put_nowait` on
a queue of this process, so here they are done in a loop. A frame is a flat dict
of strings and numbers, for which a shallow copy per member is what a deep copy
gives (no member can change what another receives); any other message is still
deep-copied. A full member queue drops the message for that member only, as
before (`ChannelFull` swallowed).
"""

from __future__ import annotations

import asyncio
import time
from copy import deepcopy
from typing import Any

from channels.layers import InMemoryChannelLayer as _ChannelsInMemoryLayer

SWEEP_EVERY = 1.0  # seconds
_IMMUTABLE = (str, int, float, bool, type(None))


class InMemoryChannelLayer(_ChannelsInMemoryLayer):
    _swept_at = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at < SWEEP_EVERY:
            return
        self._swept_at = now
        super()._clean_expired()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        assert "__asgi_channel__" not in message
        self.require_valid_group_name(group)
        self._clean_expired()
        members = self.groups.get(group)
        if not members:
            return
        expires = time.time() + self.expiry
        flat = all(isinstance(v, _IMMUTABLE) for v in message.values())
        for channel in list(members):  # names were checked by group_add
            queue = self.channels.get(channel)
            if queue is None:
                queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
            try:  # noqa: SIM105 (once per member per frame: no context manager)
                queue.put_nowait((expires, dict(message) if flat else deepcopy(message)))
            except asyncio.QueueFull:
                pass  # that member is not reading: it misses this message (resume covers frames)
