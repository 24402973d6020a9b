"""Framing and error translation: the one place httpx and provider error bodies
are turned into `reasoning` terms.

    make_client(...)            one pooled `httpx.AsyncClient` per process
    open_stream(client, req)    async context manager: sends a `PreparedRequest`,
                                raises the right `ProviderError` for an error status,
                                yields the streaming response, translates httpx
                                errors raised while it is read, closes it on exit
                                (also on cancellation)
    iter_sse(response)          Server-Sent Events  -> SSEEvent(event, data)
    iter_ndjson(response)       newline-delimited JSON (Ollama) -> dict
    parse_json_data(text)       json.loads raising BrokenStream
    drain(events)               read what follows an end marker, briefly, so the
                                connection goes back to the pool
    raise_for_status(response)  status + provider error body -> ProviderError
    error_from_payload(obj)     an error object found *inside* a 200 stream -> ProviderError

httpx exceptions map as follows (see `translate_httpx_error`):

    ConnectError                            Unavailable   ("connection refused …")
    ConnectTimeout, ReadTimeout,
    WriteTimeout                            ProviderTimeout
    PoolTimeout                             PoolExhausted (a ProviderTimeout: our pool, not theirs)
    RemoteProtocolError, ReadError          BrokenStream once the response head arrived,
                                            Unavailable before it
    other TransportError                    Unavailable
    UnsupportedProtocol, InvalidURL         BadRequest    (the configured URL is wrong)
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import email.utils
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from reasoning.errors import (
    AuthError,
    BadRequest,
    BrokenStream,
    NotFound,
    PoolExhausted,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    Unavailable,
)
from reasoning.request import PreparedRequest

# Reasoning models can think for minutes before the first byte; a shorter read
# timeout would kill healthy requests. Connect failures, by contrast, should be quick.
DEFAULT_READ_TIMEOUT = 600.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 1000

# Error bodies are read only this far: enough for any provider's message.
_ERROR_BODY_LIMIT = 64 * 1024
_SHOWN_CHARS = 200


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing a response sets."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _Client(httpx.AsyncClient):
    """httpx's client without its cookie jar: one client carries every user's requests
    (to every provider), so a cookie one response set must not ride along on the next
    request, whoever makes it; and reading each response's cookies (urllib's parsing,
    even with none set) was ~0.1 ms a turn."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise AttributeError("this client keeps no cookies")


def make_client(
    *,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    write_timeout: float = 30.0,
    pool_timeout: float = 30.0,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    max_keepalive_connections: int = 100,
    transport: httpx.AsyncBaseTransport | None = None,
    backend: str = "httpx",
) -> httpx.AsyncClient:
    """The pooled client adapters are given. Create one per process (per event loop)
    and share it: connections are reused across turns and many streams run at once.

    `backend="aiohttp"` keeps this client's API, timeouts, pool size and TLS but
    moves the bytes with `reasoning.transport.AiohttpTransport` (aiohttp's C
    parser: a fraction of httpx's CPU per streamed read, `python -m bench.readers`);
    "httpx" is httpx's own transport. An explicit `transport` wins over both.
    """
    if transport is None and backend == "aiohttp":
        from reasoning.transport import AiohttpTransport

        transport = AiohttpTransport(max_connections=max_connections)
    elif transport is None and backend != "httpx":
        raise ValueError(f"unknown HTTP backend {backend!r} (httpx or aiohttp)")
    return _Client(
        timeout=httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=write_timeout, pool=pool_timeout
        ),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
        ),
        follow_redirects=False,
        transport=transport,
    )


# ---------------------------------------------------------------------------
# Server-Sent Events


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str | None
    data: str


class SSEDecoder:
    """Incremental SSE decoder (WHATWG framing) that accepts text cut anywhere.

    Lines end with `\\n`, `\\r\\n` or `\\r`; `:` comment lines (OpenRouter keep-alives),
    `id:` and `retry:` are ignored; several `data:` lines join with `\\n`. An event
    with no data line is not dispatched. `close()` dispatches a last event that lacks
    its blank line, since some servers end the stream right after `data: …`.
    """

    __slots__ = ("_buffer", "_data", "_event", "_has_data", "_pending_cr")

    def __init__(self) -> None:
        self._buffer = ""
        self._pending_cr = False
        self._event: str | None = None
        self._data: list[str] = []
        self._has_data = False

    def feed(self, text: str) -> list[SSEEvent]:
        if not text:
            return []
        if self._pending_cr and text[0] == "\n":
            text = text[1:]  # the second half of a "\r\n" cut between two feeds
        self._pending_cr = text.endswith("\r")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            self._buffer += text
            return []
        lines = (self._buffer + text).split("\n")
        self._buffer = lines.pop()
        events: list[SSEEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        if self._buffer:
            line, self._buffer = self._buffer, ""
            event = self._line(line)
            if event is not None:
                events.append(event)
        event = self._line("")
        if event is not None:
            events.append(event)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._has_data:
                self._event = None
                return None
            event = SSEEvent(self._event, "\n".join(self._data))
            self._event, self._data, self._has_data = None, [], False
            return event
        if line[0] == ":":
            return None
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value or None
        # "id", "retry" and unknown fields are ignored
        return None


async def _iter_text(response: httpx.Response) -> AsyncIterator[str]:
    # Decode UTF-8 ourselves: a multi-byte character may be cut between two reads.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    async for chunk in response.aiter_bytes():
        text = decoder.decode(chunk)
        if text:
            yield text
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


async def iter_sse(response: httpx.Response) -> AsyncGenerator[SSEEvent, None]:
    decoder = SSEDecoder()
    async for text in _iter_text(response):
        for event in decoder.feed(text):
            yield event
    for event in decoder.close():
        yield event


async def iter_ndjson(response: httpx.Response) -> AsyncGenerator[dict[str, Any], None]:
    """One JSON object per line (Ollama). Blank lines are skipped; a last line
    without a newline is still read."""
    buffer = ""
    async for text in _iter_text(response):
        buffer += text
        if "\n" not in text:
            continue
        *lines, buffer = buffer.split("\n")
        for line in lines:
            if line.strip():
                yield _json_object(line)
    if buffer.strip():
        yield _json_object(buffer)


async def drain(events: AsyncIterator[Any], seconds: float = 0.5) -> None:
    """Read what is left of a body after its end marker (`[DONE]`, a terminal event).

    A response closed before its last byte costs its connection (and the next
    request a new TCP/TLS handshake), so the tail is read, but only briefly:
    a server that keeps the body open after the marker is simply cut, and
    anything that goes wrong here is ignored since the answer is complete.
    """
    with contextlib.suppress(TimeoutError, httpx.HTTPError, ProviderError):
        async with asyncio.timeout(seconds):
            async for _ in events:
                pass


def _json_object(line: str) -> dict[str, Any]:
    value = parse_json_data(line)
    if not isinstance(value, dict):
        raise BrokenStream(f"expected a JSON object per line, got: {_shown(line)}")
    return value


def parse_json_data(data: str) -> Any:
    """`json.loads` for stream payloads: bad JSON is a broken stream, not a crash.

    orjson first: it runs once per streamed chunk and parses about 3× faster.
    What it refuses and `json` accepts (NaN, Infinity, lone surrogate escapes)
    goes to `json`, so the result is `json.loads`'s, with one difference: an
    integer literal past 64 bits comes back as the nearest float (no field an
    adapter reads holds one; token counts and indexes are far below)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(data)
    except ValueError:
        raise BrokenStream(f"malformed JSON in the stream: {_shown(data)}") from None


def _shown(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…")


# ---------------------------------------------------------------------------
# HTTP errors


async def raise_for_status(response: httpx.Response) -> None:
    """Raise the `ProviderError` for a non-2xx response, with the provider's own
    message taken from its error body. Reads (at most 64 KiB of) the body."""
    status = response.status_code
    if 200 <= status < 300:
        return
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= _ERROR_BODY_LIMIT:
            break
    text = body.decode("utf-8", errors="replace")
    message = _message_from_body(text) or f"HTTP {status} {response.reason_phrase}".strip()
    if status in (401, 403):
        raise AuthError(message, status_code=status)
    if status == 404:
        raise NotFound(message, status_code=status)
    if status == 429:
        raise RateLimited(message, status_code=status, retry_after=retry_after(response.headers))
    if status >= 500:
        raise Unavailable(message, status_code=status)
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        raise BadRequest(f"unexpected redirect to {location!r}: {message}", status_code=status)
    raise BadRequest(message, status_code=status)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from `retry-after-ms` (OpenAI) or `retry-after`
    (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _message_from_body(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    try:
        body = json.loads(text)
    except ValueError:
        return text if len(text) <= 500 else text[:500] + "…"
    message = _message_from_json(body)
    return message if message else text[:500]


def _message_from_json(body: Any) -> str:
    # Gemini's streaming endpoint may wrap its error in a one-element list.
    if isinstance(body, list) and body:
        body = body[0]
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, str):  # Ollama: {"error": "..."}
        return error
    if isinstance(error, dict):  # OpenAI, Anthropic, Gemini, OpenRouter
        message = error.get("message")
        if isinstance(message, str) and message:
            return message
        for key in ("status", "type", "code"):
            if error.get(key):
                return str(error[key])
    message = body.get("message")  # vLLM / SGLang: {"object":"error","message":...}
    if isinstance(message, str) and message:
        return message
    detail = body.get("detail")  # FastAPI-style servers
    if isinstance(detail, str):
        return detail
    if detail is not None:
        return json.dumps(detail)[:500]
    return ""


# Error *types* some providers put in stream error objects, by the class they mean.
_ERROR_TYPES: dict[str, type[ProviderError]] = {
    # Anthropic
    "authentication_error": AuthError,
    "permission_error": AuthError,
    "not_found_error": NotFound,
    "invalid_request_error": BadRequest,
    "request_too_large": BadRequest,
    "rate_limit_error": RateLimited,
    "overloaded_error": Unavailable,
    "api_error": Unavailable,
    # Gemini (google.rpc.Code names)
    "UNAUTHENTICATED": AuthError,
    "PERMISSION_DENIED": AuthError,
    "NOT_FOUND": NotFound,
    "INVALID_ARGUMENT": BadRequest,
    "FAILED_PRECONDITION": BadRequest,
    "RESOURCE_EXHAUSTED": RateLimited,
    "UNAVAILABLE": Unavailable,
    "INTERNAL": Unavailable,
    "DEADLINE_EXCEEDED": ProviderTimeout,
    # OpenAI
    "insufficient_quota": RateLimited,
    "rate_limit_exceeded": RateLimited,
    "server_error": Unavailable,
    "invalid_api_key": AuthError,
    "model_not_found": NotFound,
    "invalid_prompt": BadRequest,
    "context_length_exceeded": BadRequest,
}


def error_from_payload(payload: Any) -> ProviderError:
    """The error for an error object met inside a stream that began with HTTP 200.

    It maps to a specific class when the object says what went wrong (a numeric
    `code` as OpenRouter sends, or a known `type`/`status`/`code` name), and to
    `BrokenStream` otherwise. The message is the provider's own.
    """
    message = _message_from_json(payload if isinstance(payload, (dict, list)) else {}) or (
        f"error in the stream: {_shown(json.dumps(payload))}"
    )
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        error = payload if isinstance(payload, dict) else {}
    code = error.get("code")
    if isinstance(code, int) or (isinstance(code, str) and code.isdigit()):
        status = int(code)
        if status in (401, 403):
            return AuthError(message, status_code=status)
        if status == 404:
            return NotFound(message, status_code=status)
        if status == 429:
            return RateLimited(message, status_code=status)
        if status >= 500:
            return Unavailable(message, status_code=status)
        if 400 <= status < 500:
            return BadRequest(message, status_code=status)
    for key in ("type", "status", "code"):
        name = error.get(key)
        if isinstance(name, str) and name in _ERROR_TYPES:
            cls = _ERROR_TYPES[name]
            if cls is RateLimited:
                return RateLimited(message, status_code=None)
            return cls(message)
    return BrokenStream(message)


# ---------------------------------------------------------------------------
# httpx errors


def translate_httpx_error(exc: httpx.HTTPError, *, mid_stream: bool) -> ProviderError:
    """The `ProviderError` for an httpx exception; `mid_stream` says whether the
    response head had already arrived (a cut after that is a broken stream)."""
    where = _where(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return ProviderTimeout(f"timed out connecting to {where}")
    if isinstance(exc, httpx.PoolTimeout):
        return PoolExhausted("timed out waiting for a free connection (pool exhausted)")
    if isinstance(exc, httpx.ReadTimeout):
        return ProviderTimeout(
            f"no data from {where} within the read timeout"
            + (" (stalled mid-stream)" if mid_stream else " (no response yet)")
        )
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"timed out talking to {where}: {exc}")
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return BadRequest(f"invalid provider URL: {exc}")
    if isinstance(exc, httpx.ConnectError):
        return Unavailable(f"connection refused or failed to {where}: {exc}")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        if mid_stream:
            return BrokenStream(f"connection to {where} cut mid-stream: {exc}")
        return Unavailable(f"{where} closed the connection without a response: {exc}")
    if isinstance(exc, httpx.DecodingError):
        return BrokenStream(f"undecodable response from {where}: {exc}")
    return Unavailable(f"transport error talking to {where}: {type(exc).__name__}: {exc}")


def _where(exc: httpx.HTTPError) -> str:
    try:
        url = exc.request.url
    except RuntimeError:  # exception raised without a request attached
        return "the provider"
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"


@contextmanager
def translate_errors(*, mid_stream: bool = True) -> Iterator[None]:
    """Translate httpx exceptions raised inside the block; for adapters that drive
    `client.stream` themselves rather than through `open_stream`."""
    try:
        yield
    except httpx.HTTPError as exc:
        raise translate_httpx_error(exc, mid_stream=mid_stream) from exc


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, prepared: PreparedRequest
) -> AsyncIterator[httpx.Response]:
    """Send `prepared` and yield the streaming response once its status is known good.

    Closing (leaving the block, an exception, `aclose()` of the adapter's generator,
    or task cancellation) closes the upstream response, and with it the connection
    if the body was not finished, so the provider stops generating.
    """
    mid_stream = False
    try:
        async with client.stream(
            prepared.method, prepared.url, headers=dict(prepared.headers), json=prepared.json
        ) as response:
            mid_stream = True
            await raise_for_status(response)
            yield response
    except httpx.HTTPError as exc:
        raise translate_httpx_error(exc, mid_stream=mid_stream) from exc
