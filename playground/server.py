"""`python -m playground.server`: daphne, with the process tuned for streaming.

    python -m playground.server -b 127.0.0.1 -p 8000 playground.asgi:application

Takes daphne's own arguments (`daphne --help`) and adds, before daphne starts:

* **uvloop** as the event loop under Twisted's asyncio reactor (`SERVER_UVLOOP`,
  on by default when uvloop is installed): the loop's own share of the relay's
  CPU, and the aiohttp reads' (bench/README.md).
* **permessage-deflate** on the websockets (`SERVER_WS_DEFLATE`, on by default),
  which daphne does not negotiate by itself: every frame repeats the same OOB
  wrapper and the partials repeat the same markup, so with the compressor's
  context kept across messages a short turn costs a fraction of its bytes
  (bench/README.md, "bytes to the browser": 17× the text → 4.9× for a 100-token
  turn). An 8 KiB window (2^13: the turn's partials fit in it, so the final
  render refers back to them) and memory level 4 keep the compressor at ~40 KiB
  per socket instead of zlib's default ~256 KiB.
* **the garbage collector tuned for a long-lived server** (`SERVER_GC_TUNED`, on
  by default): the application is imported first, then everything alive is
  moved to the permanent generation (`gc.freeze()`), so full collections no longer
  walk Django's and the app's import-time objects (they took 50–100 ms every
  10–20 s at 50 streams and made the latency tails, issue 11); and the young
  generation is collected every `GC_GEN0` allocations instead of every 700.

* **TCP_NODELAY** on every connection (`SERVER_TCP_NODELAY`, on by default): the
  API writes each chunk as it comes; Nagle's algorithm would hold a small write
  until the client acknowledged the last one (up to its 40 ms delayed ACK).
* **eager writes** (`SERVER_EAGER_WRITES`, on by default): a write on a connection
  with nothing buffered goes to the socket at once, as asyncio's own transports
  do; Twisted buffers every write, registers the socket with the loop, writes on
  the loop's next turn and unregisters it again: two `epoll_ctl` calls and a loop
  turn per SSE chunk (docs/performance.md).

Plain `daphne playground.asgi:application` still works; it just runs without these.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from typing import Any

GC_GEN0 = 20_000
GC_GEN1 = 20
GC_GEN2 = 20


def _on(name: str, default: bool = True) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return default if not value else value in {"1", "true", "yes", "on"}


def use_uvloop() -> bool:
    """Make new event loops uvloop's; must run before daphne.server is imported
    (it creates Twisted's loop at import)."""
    if not _on("SERVER_UVLOOP"):
        return False
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


WS_DEFLATE_WINDOW_BITS = 13
WS_DEFLATE_MEM_LEVEL = 4


def _accept_deflate(offers: list[Any]) -> Any:
    from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept

    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            bits = WS_DEFLATE_WINDOW_BITS
            if offer.request_max_window_bits:  # the client asked for a window at most this big
                bits = min(bits, max(9, offer.request_max_window_bits))
            return PerMessageDeflateOfferAccept(  # type: ignore[no-untyped-call]
                offer,
                # Its messages to us are small: ask it to keep a small window too, when it can.
                request_max_window_bits=WS_DEFLATE_WINDOW_BITS if offer.accept_max_window_bits else 0,
                window_bits=bits,
                mem_level=WS_DEFLATE_MEM_LEVEL,
            )
    return None


def use_ws_deflate() -> None:
    """Make daphne's websocket factory accept permessage-deflate; after
    daphne.server is imported, before its server starts."""
    import daphne.server
    from daphne.ws_protocol import WebSocketFactory

    class DeflatingWebSocketFactory(WebSocketFactory):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.setProtocolOptions(perMessageCompressionAccept=_accept_deflate)

    daphne.server.WebSocketFactory = DeflatingWebSocketFactory


def use_tcp_nodelay() -> None:
    """Turn Nagle's algorithm off on every connection daphne serves (issue 23.2).

    The API relays each upstream chunk in a write of its own; with Nagle on, a
    small write waits until the client has acknowledged the previous one, and a
    client's delayed ACK holds it up to 40 ms: the frame interval back again."""
    import contextlib

    from daphne import http_protocol

    process = http_protocol.WebRequest.process

    def process_without_nagle(self: Any) -> Any:
        with contextlib.suppress(Exception):  # not a TCP transport (a test's fake one)
            self.channel.transport.setTcpNoDelay(True)
        return process(self)

    http_protocol.WebRequest.process = process_without_nagle


def use_eager_writes() -> None:
    """Send a plain TCP connection's write at once when nothing is queued before it.

    What the socket does not take (a slow reader, a full send buffer) is queued
    the usual Twisted way, behind which every later write waits, so the order of
    the bytes is kept; TLS connections and closing ones keep Twisted's path."""
    from twisted.internet import tcp

    write: Any = tcp.Connection.write
    write_sequence: Any = tcp.Connection.writeSequence

    def unsent(self: Any, data: bytes) -> bytes:
        """What of `data` the socket did not take now (all of it if that cannot be tried)."""
        if (
            self.TLS or not self.connected or self.disconnecting or self._writeDisconnected
            or self._tempDataLen or self.offset != len(self.dataBuffer)
        ):
            return data
        try:
            sent = self.socket.send(data)
        except OSError:
            # Would block, or the peer is gone: Twisted's own write, on the loop's
            # next turn, tries again and loses the connection its way if need be.
            return data
        return data[sent:]

    def eager_write(self: Any, data: bytes) -> None:
        if data and type(data) is bytes:
            data = unsent(self, data)
            if not data:
                return
        write(self, data)

    def eager_write_sequence(self: Any, iovec: Any) -> None:
        data = b"".join(iovec)  # chunked encoding's size line, the data, CRLF: one send
        if not data:
            return
        data = unsent(self, data)
        if data:
            write_sequence(self, [data])

    tcp.Connection.write = eager_write  # type: ignore[method-assign]
    tcp.Connection.writeSequence = eager_write_sequence  # type: ignore[method-assign]


def use_logging_for_access_log() -> None:
    """With LOG_FORMAT=json every line must be a JSON object: daphne's access log
    (NCSA lines written straight to stdout) goes through the `daphne.access`
    logger instead, so the settings' handler formats it. After daphne.cli's import."""
    import logging

    import daphne.cli
    from daphne.access import AccessLogGenerator

    access = logging.getLogger("daphne.access")

    class LoggedAccess(AccessLogGenerator):  # type: ignore[misc]
        def write_entry(self, host: str, date: Any, request: str, status: Any = None, length: Any = None,
                        ident: Any = None, user: Any = None) -> None:
            shown = ["-" if v is None else v for v in (status, length)]
            access.info("%s %s %s %s", host, request, *shown)

    daphne.cli.AccessLogGenerator = LoggedAccess


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0, GC_GEN1, GC_GEN2)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    from playground import envfile

    envfile.load()  # SERVER_* may be in .env; settings would read it only later
    use_uvloop()
    import daphne.server  # noqa: F401 (installs the asyncio reactor on the loop chosen above)
    from daphne.cli import CommandLineInterface
    from daphne.utils import import_by_path

    if _on("SERVER_WS_DEFLATE"):
        use_ws_deflate()
    if _on("SERVER_TCP_NODELAY"):
        use_tcp_nodelay()
    if _on("SERVER_EAGER_WRITES"):
        use_eager_writes()

    if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
        use_logging_for_access_log()
    if _on("SERVER_GC_TUNED"):
        app_paths = [a for a in argv if ":" in a and not a.startswith("-")]
        if app_paths:
            # Imported here so its modules are frozen with the rest; daphne's own
            # import then finds them in sys.modules.
            sys.path.insert(0, ".")
            import_by_path(app_paths[-1])
        tune_gc()
    CommandLineInterface().run(argv)


if __name__ == "__main__":
    main()
