"""httpx's API over aiohttp's connection pool and C HTTP parser.

    client = make_client(backend="aiohttp")     # reasoning.wire
    async with client.stream("POST", url, json=body) as response: ...

Why: a streaming read through httpx's own transport passes an anyio cancel
scope, an h11 event and half a dozen async-generator layers per socket read;
at 50 streams × 50 tokens/s that was 42 % of the relay's CPU (issue 11). The
same reads on aiohttp's parser cost a fraction of it (`python -m bench.readers`
measures both). Adapters keep the `httpx.AsyncClient` API — requests, headers,
`raise_for_status`, content decoding, `aiter_bytes` — and `reasoning.wire`
keeps mapping *httpx* exceptions, so this transport's one job besides moving
bytes is to raise the httpx exception httpx's own transport raises for the
same failure:

    aiohttp                                   httpx (→ reasoning.wire's mapping)
    ConnectionTimeoutError (connect)          ConnectTimeout
    SocketTimeoutError (a read)               ReadTimeout        (per read, like httpx)
    ClientConnectorError (refused, DNS, TLS)  ConnectError
    ServerDisconnectedError, ClientPayloadError,
    ClientResponseError (unparsable head)     RemoteProtocolError
    ClientOSError (reset …)                   ReadError
    InvalidURL, NonHttpUrlClientError         UnsupportedProtocol
    any other ClientError                     TransportError
    no free connection within `pool`          PoolTimeout

Kept as httpx has them: TLS (the `ssl.SSLContext` of `httpx.create_ssl_context()`,
certifi roots, `SSL_CERT_FILE`), at most `max_connections` requests in flight
(waiting at most the pool timeout for a slot), idle connections kept
`keepalive_expiry` seconds (httpx's 5 s), redirects not followed, the body's
content-encoding left to httpx to decode. Closing a response before its end
closes its connection (the provider stops generating); a response read to its
end hands the connection back to the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import httpx

DEFAULT_KEEPALIVE_EXPIRY = 5.0  # httpx.Limits' default


@contextlib.contextmanager
def _httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
    except aiohttp.SocketTimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
    except aiohttp.ServerTimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
        raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
    except aiohttp.ClientOSError as exc:
        raise httpx.ReadError(str(exc), request=request) from exc
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
        raise httpx.UnsupportedProtocol(str(exc), request=request) from exc
    except aiohttp.ClientError as exc:
        raise httpx.TransportError(f"{type(exc).__name__}: {exc}", request=request) from exc


class _Body(httpx.AsyncByteStream):
    """The response body: aiohttp's reads, as httpx's byte stream."""

    __slots__ = ("_closed", "_release", "_request", "_response")

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request, release: Any) -> None:
        self._response = response
        self._request = request
        self._release = release
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        with _httpx_errors(self._request):
            # `iter_any`: whatever one socket read brought, as httpx's own transport yields.
            async for chunk in content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._response.content.at_eof():
                self._response.release()  # read to its end: the connection is reused
            else:
                self._response.close()  # cut short: close it so the provider stops
        finally:
            self._release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An `httpx.AsyncBaseTransport` on one `aiohttp.ClientSession`, made on first use
    on the running loop (a session, like httpx's pool, belongs to one loop)."""

    def __init__(
        self,
        *,
        max_connections: int | None = 100,
        keepalive_expiry: float | None = DEFAULT_KEEPALIVE_EXPIRY,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._ssl = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        self.max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._slots = asyncio.Semaphore(max_connections) if max_connections else None
        self._session: aiohttp.ClientSession | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=0,  # the slots above bound requests in flight, with httpx's pool timeout
                limit_per_host=0,
                ssl=self._ssl,
                keepalive_timeout=self._keepalive_expiry if self._keepalive_expiry is not None else 3600.0,
                enable_cleanup_closed=False,
            )
            # No cookie jar, no env proxies here (httpx mounts its own proxy transports
            # from the environment), no automatic headers: httpx's request has them all.
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            )
        return self._session

    async def _acquire(self, pool_timeout: float | None) -> None:
        if self._slots is None:
            return
        try:
            async with asyncio.timeout(pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection within the pool timeout") from None

    def _release_slot(self) -> None:
        if self._slots is not None:
            self._slots.release()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        await self._acquire(timeout.get("pool"))
        try:
            body = await request.aread()
            with _httpx_errors(request):
                response = await self._session_now().request(
                    request.method,
                    str(request.url),
                    headers=request.headers.multi_items(),
                    data=body or None,
                    allow_redirects=False,
                    compress=None,
                    timeout=aiohttp.ClientTimeout(
                        total=None,
                        # `connect`: DNS, TCP and TLS together, as httpx's connect timeout
                        # (aiohttp's own pool never waits here: `limit=0`, the slots above).
                        connect=timeout.get("connect"),
                        sock_connect=timeout.get("connect"),
                        sock_read=timeout.get("read"),
                    ),
                    server_hostname=request.extensions.get("sni_hostname"),
                )
        except BaseException:
            self._release_slot()
            raise
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("ascii", "replace")
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request, self._release_slot),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def __del__(self) -> None:
        # A client let go without `aclose()` (its loop ended: a test, `ask`):
        # close the sockets now rather than have aiohttp warn about them at exit.
        session = self._session
        if session is not None and not session.closed:
            connector = session.connector
            session.detach()
            if connector is not None:
                with contextlib.suppress(Exception):
                    connector._close()
