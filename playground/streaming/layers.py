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

A group's name is checked once: Channels matches it against its regular expression
on every send, and a run sends to the same group ~25 times a second whether or not
a socket watches (2 % of the server's CPU at 100 /v1 streams, docs/performance.md).
Only names that passed are remembered, so an invalid one still fails every time.
"""

from __future__ import annotations

import asyncio
import time
from copy import deepcopy
from typing import Any

from channels.layers import InMemoryChannelLayer as _ChannelsInMemoryLayer

SWEEP_EVERY = 1.0  # seconds
VALID_GROUPS_KEPT = 10_000
_IMMUTABLE = (str, int, float, bool, type(None))


class InMemoryChannelLayer(_ChannelsInMemoryLayer):
    _swept_at = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._valid_groups: set[str] = set()

    def require_valid_group_name(self, name: object) -> bool:
        if name in self._valid_groups:
            return True
        super().require_valid_group_name(name)  # raises TypeError for an invalid name
        if len(self._valid_groups) >= VALID_GROUPS_KEPT:
            self._valid_groups.clear()  # one group per turn: forget them now and then
        self._valid_groups.add(name)  # type: ignore[arg-type]  # checked: a str
        return True

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at < SWEEP_EVERY:
            return
        self._swept_at = now
        super()._clean_expired()

    def has_members(self, group: str) -> bool:
        """Whether a send to `group` now would reach anyone (a run skips building
        frames nobody would get: playground.streaming.run)."""
        return bool(self.groups.get(group))

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
