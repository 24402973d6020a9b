"""Backpressure: a browser that stops reading must not grow the server's memory.

Twisted buffers every write. The socket registers a streaming producer on
daphne's transport; while Twisted says the buffer is full, the consumer drops
frames (their text is not counted as delivered, so it is fetched again once the
browser reads: follower.TurnFollower.on_dropped), and a socket that stays full
for WS_SLOW_CLIENT_TIMEOUT seconds is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

# What the mechanism controls, for this process (the scale-out tests read it):
# frames not sent to a browser that was not reading, the most bytes Twisted held
# for one socket after streamed text was written (a turn's final render is once
# per turn, not part of it), and sockets closed for not reading.
STATS = {"frames_dropped": 0, "peak_buffered_bytes": 0, "slow_sockets_closed": 0}


class SlowReader:
    """A Twisted streaming producer on the socket's transport.

    Twisted calls pauseProducing when its write buffer for the socket passes its
    bufferSize (64 KiB) and resumeProducing once the buffer has drained: exactly
    "the browser is not reading". Under a server other than daphne (or in tests
    with WebsocketCommunicator) there is no transport and frames always go out.
    With WS_BACKPRESSURE off it only measures (`enforce` False): nothing is
    dropped and no socket closed, to show what Twisted would otherwise buffer.
    """

    def __init__(self, consumer: Any, protocol: Any, *, enforce: bool = True) -> None:
        self.consumer = consumer
        self.protocol = protocol
        self.enforce = enforce
        self.paused = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._catching_up: asyncio.Future[None] | None = None
        self.previous: Any = None  # the producer registered before us, if any

    @classmethod
    def attach(cls, consumer: Any) -> SlowReader | None:
        protocol = _daphne_protocol(consumer.base_send)
        if protocol is None:
            return None
        reader = cls(consumer, protocol, enforce=bool(settings.WS_BACKPRESSURE))
        transport = protocol.transport
        try:
            # The HTTP channel that carried the upgrade is still registered as the
            # transport's producer (it has no more work of its own); we take its
            # place and pass on stopProducing so its clean-up still runs.
            reader.previous = getattr(transport, "producer", None)
            if reader.previous is not None:
                transport.unregisterProducer()
            transport.registerProducer(reader, True)
        except Exception:
            log.warning("no backpressure for %s", consumer.channel_name, exc_info=True)
            return None
        return reader

    def detach(self) -> None:
        self._cancel_timer()
        with contextlib.suppress(Exception):
            if getattr(self.protocol.transport, "producer", None) is self:
                self.protocol.transport.unregisterProducer()

    def dropped(self) -> None:
        """A frame was not sent: the browser is not reading."""
        STATS["frames_dropped"] += 1

    def sent(self) -> None:
        """After streamed text was written: how much Twisted now holds for this socket."""
        transport = self.protocol.transport
        try:
            held = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        except (AttributeError, TypeError):
            return
        if held > STATS["peak_buffered_bytes"]:
            STATS["peak_buffered_bytes"] = held

    def pauseProducing(self) -> None:  # Twisted's IPushProducer
        if not self.enforce:
            return
        self.paused = True
        if self._close_timer is None:
            loop = asyncio.get_event_loop()
            self._close_timer = loop.call_later(float(settings.WS_SLOW_CLIENT_TIMEOUT), self._give_up)

    def resumeProducing(self) -> None:
        self.paused = False
        self._cancel_timer()
        self._catching_up = asyncio.ensure_future(self.consumer.catch_up())

    def stopProducing(self) -> None:
        self._cancel_timer()
        if self.previous is not None:
            with contextlib.suppress(Exception):
                self.previous.stopProducing()

    def _cancel_timer(self) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None

    def _give_up(self) -> None:
        # A close frame would queue behind the unread data, so the TCP connection is
        # dropped; the page's socket reconnects and resyncs from the run.
        log.info("closing a socket whose browser stopped reading (%s)", self.consumer.channel_name)
        STATS["slow_sockets_closed"] += 1
        self._close_timer = None
        with contextlib.suppress(Exception):
            self.protocol.transport.unregisterProducer()
        with contextlib.suppress(Exception):
            self.protocol.transport.abortConnection()


def _daphne_protocol(send: Any) -> Any:
    """Daphne's WebSocketProtocol behind an ASGI `send`: daphne passes
    `partial(server.handle_reply, protocol)`, which channels' session middleware wraps."""
    obj = send
    for _ in range(8):
        if isinstance(obj, functools.partial):
            for arg in obj.args:
                if hasattr(arg, "registerProducer") and hasattr(arg, "transport"):
                    return arg
            obj = obj.func
        else:
            owner = getattr(obj, "__self__", None)
            obj = getattr(owner, "real_send", None) or getattr(owner, "send", None)
            if obj is None or obj is send:
                return None
    return None
