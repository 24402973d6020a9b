"""A real HTTP/1.1 fake upstream on 127.0.0.1, scripted per request.

    with FakeUpstream() as up:                  # sync tests: own loop in a thread
        up.enqueue(Script(chunks=openai_chat_sse("thinking", "answer")))
        ... client talks to up.url ...
        req = up.requests[0]                    # method, path, headers, body, json
        req.wait_closed(1.0)                    # when its connection closed

    async with FakeUpstream() as up: ...        # async tests: runs on the current loop

Each request takes the next enqueued `Script` (or a callable that returns one,
given the `RecordedRequest`), else `default`. A script sets the status, headers,
body chunks (sent with chunked transfer encoding, one HTTP chunk each), delays
(before the head, before each chunk, or a rate in chunks per second) and faults:
stall after chunk k (for N seconds or until the client goes away) and cut the
connection after chunk k without finishing the chunked body.

One asyncio server, no thread per connection: hundreds of concurrent streams are
fine. While a response is being sent the server watches the socket, so a client
that goes away is noticed at once and its request's `closed_at` is set.

The wire-format builders (`openai_chat_sse`, `openai_responses_sse`, …) turn a
neutral description (reasoning text, content text, chunk size, usage) into body
chunks; each also writes tool calls in its format (`tool_calls=[FakeToolCall(name,
arguments, reasoning_before=…)]`: several calls, argument fragments, thinking between
calls), so a test can script a multi-step loop one response per step. They register by
name in `FORMATS` (`@wire_format("name")`, `render(name, …)`);
other modules add theirs the same way (`reasoning.testing.formats_native`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from reasoning.events import Usage

# ---------------------------------------------------------------------------
# Scripts and records


@dataclass
class Script:
    """How to answer one request.

    Delays: `ttfb` before the status line; `first_chunk_delay` between the head and
    the first chunk (a model thinking silently); then `delays[i]` before chunk i if
    given, else one chunk every `1/rate` seconds if `rate` is set, else `interval`.
    Faults: after `stall_after` chunks were sent, wait `stall_for` seconds (None:
    until the client goes away), or less if `stall_until` is set meanwhile (a test
    that stalls a stream to act during it releases it when done); after `cut_after` chunks, close the socket without
    the final zero-length chunk. `chunked=False` sends a Content-Length body.
    """

    status: int = 200
    chunks: Sequence[bytes | str] = ()
    headers: Mapping[str, str] = field(
        default_factory=lambda: {"content-type": "text/event-stream"}
    )
    ttfb: float = 0.0
    first_chunk_delay: float = 0.0
    interval: float = 0.0
    delays: Sequence[float] | None = None
    rate: float | None = None
    stall_after: int | None = None
    stall_for: float | None = None
    stall_until: threading.Event | None = None
    cut_after: int | None = None
    chunked: bool = True

    @classmethod
    def error(cls, status: int, body: Any = "", headers: Mapping[str, str] | None = None) -> Script:
        """An error response with a JSON (dict/list) or text body."""
        if isinstance(body, (dict, list)):
            data = json.dumps(body)
            content_type = "application/json"
        else:
            data = str(body)
            content_type = "text/plain; charset=utf-8"
        return cls(
            status=status,
            chunks=[data] if data else [],
            headers={"content-type": content_type, **(headers or {})},
            chunked=False,
        )

    @classmethod
    def json(cls, body: Any, status: int = 200) -> Script:
        return cls(
            status=status,
            chunks=[json.dumps(body)],
            headers={"content-type": "application/json"},
            chunked=False,
        )


Responder = Script | Callable[["RecordedRequest"], Script]


@dataclass
class RecordedRequest:
    """One request as the server received it. Times are `time.monotonic()`."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    received_at: float
    index: int
    first_byte_at: float | None = None  # the status line went out
    finished_at: float | None = None  # the whole body went out
    closed_at: float | None = None  # the connection carrying it closed (either side)
    closed_by_client: bool = False
    _closed: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def wait_closed(self, timeout: float = 5.0) -> float:
        """Block until the connection closed; returns `closed_at`."""
        if not self._closed.wait(timeout):
            raise TimeoutError(f"request {self.index} still open after {timeout} s")
        assert self.closed_at is not None
        return self.closed_at

    async def closed(self, timeout: float = 5.0) -> float:  # noqa: ASYNC109
        """`wait_closed` for async code, whichever loop or thread runs the server."""
        deadline = time.monotonic() + timeout
        while not self._closed.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError(f"request {self.index} still open after {timeout} s")
            await asyncio.sleep(0.002)
        assert self.closed_at is not None
        return self.closed_at

    def _mark_closed(self, by_client: bool, now: float) -> None:
        if self.closed_at is None:
            self.closed_at = now
            self.closed_by_client = by_client
            self._closed.set()


class _ClientGone(Exception):
    pass


class _Connection:
    __slots__ = ("buffer", "reader", "requests", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buffer = bytearray()
        self.requests: list[RecordedRequest] = []

    async def fill(self) -> None:
        data = await self.reader.read(65536)
        if not data:
            raise _ClientGone
        self.buffer += data

    async def read_until(self, marker: bytes) -> bytes:
        while (at := self.buffer.find(marker)) < 0:
            await self.fill()
        data = bytes(self.buffer[:at])
        del self.buffer[: at + len(marker)]
        return data

    async def read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            await self.fill()
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data


# ---------------------------------------------------------------------------
# The server


class FakeUpstream:
    def __init__(self, default: Responder | None = None, *, host: str = "127.0.0.1") -> None:
        self.default = default
        self.host = host
        self.port = 0
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Responder] = deque()
        self._lock = threading.Lock()
        self._received = threading.Condition(self._lock)
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[_Connection] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    def enqueue(self, *responders: Responder) -> None:
        with self._lock:
            self._queue.extend(responders)

    def wait_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `n` requests arrived (sync tests only)."""
        with self._received:
            if not self._received.wait_for(lambda: len(self.requests) >= n, timeout):
                raise TimeoutError(f"{len(self.requests)} of {n} requests after {timeout} s")
            return list(self.requests)

    async def requests_received(
        self,
        n: int,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[RecordedRequest]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.requests)} of {n} requests after {timeout} s")
            await asyncio.sleep(0.002)
        return list(self.requests)

    # -- lifecycle --------------------------------------------------------

    def __enter__(self) -> FakeUpstream:
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._loop is not None and self._thread is not None
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def __aenter__(self) -> FakeUpstream:
        await self._start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stop()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._on_connection, self.host, 0, backlog=2048)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    # -- one connection ---------------------------------------------------

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = _Connection(reader, writer)
        self._connections.add(conn)
        by_client = True
        try:
            while True:
                request = await self._read_request(conn)
                conn.requests.append(request)
                if not await self._respond(conn, request, self._script_for(request)):
                    by_client = False
                    break
        except (_ClientGone, ConnectionError, asyncio.IncompleteReadError):
            by_client = True
        except asyncio.CancelledError:
            by_client = False
        finally:
            self._connections.discard(conn)
            self._tasks.discard(task)
            now = time.monotonic()
            for request in conn.requests:
                request._mark_closed(by_client, now)
            if by_client:
                writer.transport.abort()
            else:
                writer.close()

    async def _read_request(self, conn: _Connection) -> RecordedRequest:
        head = (await conn.read_until(b"\r\n\r\n")).decode("latin-1")
        request_line, *header_lines = head.split("\r\n")
        method, path, _version = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            while size := int((await conn.read_until(b"\r\n")).split(b";")[0], 16):
                body += await conn.read_exactly(size)
                await conn.read_exactly(2)
            await conn.read_until(b"\r\n")  # no trailers expected
            data = bytes(body)
        else:
            data = await conn.read_exactly(int(headers.get("content-length", "0")))
        with self._received:
            request = RecordedRequest(
                method, path, headers, data, time.monotonic(), index=len(self.requests)
            )
            self.requests.append(request)
            self._received.notify_all()
        return request

    def _script_for(self, request: RecordedRequest) -> Script:
        with self._lock:
            responder = self._queue.popleft() if self._queue else self.default
        if responder is None:
            return Script.error(500, {"error": {"message": "fake upstream: no script queued"}})
        return responder if isinstance(responder, Script) else responder(request)

    async def _respond(self, conn: _Connection, request: RecordedRequest, script: Script) -> bool:
        """Send one response while watching for the client to go away.
        Returns whether the connection may carry another request."""
        watcher = asyncio.ensure_future(self._watch(conn))
        sender = asyncio.ensure_future(self._send(conn, request, script))
        try:
            done, _ = await asyncio.wait({watcher, sender}, return_when=asyncio.FIRST_COMPLETED)
            if sender not in done and watcher.result():
                sender.cancel()
                raise _ClientGone
            return await sender
        finally:
            for task in (watcher, sender):
                if not task.done():
                    task.cancel()
            await asyncio.gather(watcher, sender, return_exceptions=True)

    @staticmethod
    async def _watch(conn: _Connection) -> bool:
        """True when the client closed; False if it sent more (pipelining), kept for later."""
        data = await conn.reader.read(65536)
        if not data:
            return True
        conn.buffer += data
        return False

    async def _send(self, conn: _Connection, request: RecordedRequest, script: Script) -> bool:
        writer = conn.writer
        loop = asyncio.get_running_loop()
        chunks = [c.encode() if isinstance(c, str) else c for c in script.chunks]
        if script.ttfb:
            await asyncio.sleep(script.ttfb)
        try:
            reason = HTTPStatus(script.status).phrase
        except ValueError:
            reason = ""
        lines = [f"HTTP/1.1 {script.status} {reason}"]
        lines += [f"{name}: {value}" for name, value in script.headers.items()]
        if script.chunked:
            lines.append("transfer-encoding: chunked")
        else:
            lines.append(f"content-length: {sum(map(len, chunks))}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        request.first_byte_at = time.monotonic()
        if script.first_chunk_delay:
            await asyncio.sleep(script.first_chunk_delay)
        started = loop.time()
        for i, chunk in enumerate(chunks):
            if script.delays is not None:
                if i < len(script.delays) and script.delays[i]:
                    await asyncio.sleep(script.delays[i])
            elif script.rate:
                # Paced from the first chunk so the rate does not drift with load.
                wait = started + i / script.rate - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            elif script.interval and i:
                await asyncio.sleep(script.interval)
            if script.stall_after == i:
                await self._stall(script.stall_for, script.stall_until)
            if script.cut_after == i:
                return self._cut(conn)
            if chunk:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if script.chunked else chunk)
                await writer.drain()
        if script.stall_after is not None and script.stall_after >= len(chunks):
            await self._stall(script.stall_for, script.stall_until)
        if script.cut_after is not None and script.cut_after >= len(chunks):
            return self._cut(conn)
        if script.chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        request.finished_at = time.monotonic()
        return True

    @staticmethod
    async def _stall(seconds: float | None, until: threading.Event | None = None) -> None:
        if until is not None:
            # Polled, not waited for in a thread: a handler cancelled when the client
            # leaves must not leave a thread blocked behind it.
            loop = asyncio.get_running_loop()
            deadline = None if seconds is None else loop.time() + seconds
            while True:
                if until.is_set() or (deadline is not None and loop.time() >= deadline):
                    return
                await asyncio.sleep(0.02)
        elif seconds is None:
            await asyncio.Event().wait()  # until the watcher sees the client leave
        else:
            await asyncio.sleep(seconds)

    @staticmethod
    def _cut(conn: _Connection) -> bool:
        conn.writer.close()
        return False


# ---------------------------------------------------------------------------
# Wire-format builders

WireFormat = Callable[..., list[bytes]]
FORMATS: dict[str, WireFormat] = {}
_FORMAT_MODULES = ("reasoning.testing.formats_native",)


def wire_format(name: str) -> Callable[[WireFormat], WireFormat]:
    """Register a builder: `(reasoning, content, *, chunk_chars, usage, …) -> chunks`."""

    def deco(fn: WireFormat) -> WireFormat:
        FORMATS[name] = fn
        return fn

    return deco


def render(name: str, *args: Any, **kwargs: Any) -> list[bytes]:
    if name not in FORMATS:
        for module in _FORMAT_MODULES:
            with contextlib.suppress(ImportError):
                importlib.import_module(module)
    return FORMATS[name](*args, **kwargs)


def sse(data: Any, event: str | None = None) -> bytes:
    """One SSE event; `data` is dumped as JSON unless it is already a string."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return (head + "".join(f"data: {line}\n" for line in text.split("\n")) + "\n").encode()


def pieces(text: str, size: int) -> list[str]:
    """`text` cut every `size` characters (at least one piece for non-empty text)."""
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


def rechunk(chunks: Iterable[bytes | str], size: int) -> list[bytes]:
    """The same bytes, cut every `size` bytes regardless of events or UTF-8
    characters, as a slow or fragmenting network would deliver them."""
    data = b"".join(c.encode() if isinstance(c, str) else c for c in chunks)
    return [data[i : i + size] for i in range(0, len(data), max(1, size))]


def _openai_usage(usage: Usage, style: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if usage.prompt_tokens is not None:
        body["prompt_tokens"] = usage.prompt_tokens
    if usage.completion_tokens is not None:
        body["completion_tokens"] = usage.completion_tokens
    body["total_tokens"] = (usage.prompt_tokens or 0) + (usage.completion_tokens or 0)
    if usage.reasoning_tokens is not None:
        body["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    if usage.cached_tokens is not None:
        if style == "deepseek":
            body["prompt_cache_hit_tokens"] = usage.cached_tokens
            body["prompt_cache_miss_tokens"] = (usage.prompt_tokens or 0) - usage.cached_tokens
        else:
            body["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    return body


@dataclass(frozen=True)
class FakeToolCall:
    """A tool call for the stream builders to write in their provider's format.

    `arguments` is the JSON text the model writes (cut into `chunk_chars` fragments
    where the format streams them); `id` None lets the builder name it the provider's
    way (`call_…`, `toolu_…`, `fc_…`; Gemini and Ollama send none unless given);
    `reasoning_before` is thinking written just before this call, after the earlier
    calls (interleaved thinking: think, call, think, call); `signature` signs that
    thinking (Anthropic) or the call's part (Gemini `thoughtSignature`)."""

    name: str
    arguments: str = "{}"
    id: str | None = None
    reasoning_before: str = ""
    signature: str | None = None


def call_id(call: FakeToolCall, i: int, prefix: str) -> str:
    return call.id if call.id is not None else f"{prefix}{i}"


REASONING_FIELDS = (
    "reasoning_content",  # DeepSeek, SGLang, xAI, Kimi, GLM …
    "reasoning",  # vLLM, Groq, Ollama /v1, Together
    "reasoning_details",  # OpenRouter's structured details alone
    "openrouter",  # OpenRouter: `reasoning` and `reasoning_details` in the same chunk
    "mistral",  # `content` as an array of {type: "thinking"} chunks
    "markup",  # `<think>…</think>` inside `content`
    "hidden",  # reasoning not sent at all (OpenAI o-series); only usage counts it
)


@wire_format("openai-chat")
def openai_chat_sse(
    reasoning: str = "",
    content: str = "",
    *,
    chunk_chars: int = 8,
    field: str = "reasoning_content",
    usage: Usage | None = None,
    usage_style: str = "openai",
    finish_reason: str | None = "stop",
    done: bool = True,
    model: str = "fake-model",
    think_tags: tuple[str, str] = ("<think>", "</think>"),
    open_tag: bool = True,
    signature: str | None = "sig-fake",
    tool_calls: Sequence[FakeToolCall] = (),
    interleave_calls: bool = False,
    call_index: bool = True,
) -> list[bytes]:
    """A Chat Completions stream: role chunk, reasoning chunks in the chosen
    `field` style, content chunks, then `tool_calls` deltas (the first fragment of a
    call has its `index`, `id`, `type` and `function.name`, the rest `index` and
    `function.arguments` pieces; `interleave_calls` opens every call first, then sends
    their argument fragments round-robin, several calls at once; a call's `reasoning_before` comes as reasoning
    just before it; `call_index=False` writes Gemini's OpenAI endpoint: no `index`,
    one whole call per chunk), a finish chunk ("tool_calls" when there are calls and
    `finish_reason` is "stop"), a usage chunk, `[DONE]`."""
    if field not in REASONING_FIELDS:
        raise ValueError(f"field must be one of {REASONING_FIELDS}")
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return sse({**base, "choices": [choice]})

    out = [chunk({"role": "assistant", "content": ""})]
    if field == "markup":
        text = (think_tags[0] if open_tag else "") + reasoning + think_tags[1] if reasoning else ""
        out += [chunk({"content": piece}) for piece in pieces(text + content, chunk_chars)]
    else:
        if field != "hidden":
            reasoning_pieces = pieces(reasoning, chunk_chars)
            for i, piece in enumerate(reasoning_pieces):
                detail: dict[str, Any] = {
                    "type": "reasoning.text",
                    "text": piece,
                    "format": "anthropic-claude-v1",
                    "index": 0,
                }
                if signature and i == len(reasoning_pieces) - 1:
                    detail["signature"] = signature
                if field == "reasoning_content":
                    delta: dict[str, Any] = {"content": None, "reasoning_content": piece}
                elif field == "reasoning":
                    delta = {"content": None, "reasoning": piece}
                elif field == "reasoning_details":
                    delta = {"content": None, "reasoning_details": [detail]}
                elif field == "openrouter":
                    delta = {"content": "", "reasoning": piece, "reasoning_details": [detail]}
                else:  # mistral
                    thinking = [{"type": "text", "text": piece}]
                    delta = {"content": [{"type": "thinking", "thinking": thinking}]}
                out.append(chunk(delta))
        out += [chunk({"content": piece}) for piece in pieces(content, chunk_chars)]
    reasoning_key = field if field in ("reasoning_content", "reasoning") else "reasoning_content"
    heads: list[dict[str, Any]] = []  # reasoning before each call, and its first fragment
    tails: list[list[dict[str, Any]]] = []  # each call's argument fragments
    for i, call in enumerate(tool_calls):
        head: list[dict[str, Any]] = [{reasoning_key: piece} for piece in pieces(call.reasoning_before, chunk_chars)]
        first: dict[str, Any] = {
            "id": call_id(call, i, "call_"),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        if not call_index:
            first["function"]["arguments"] = call.arguments
            head.append({"tool_calls": [first]})
            tail: list[dict[str, Any]] = []
        else:
            head.append({"tool_calls": [{"index": i, **first}]})
            tail = [
                {"tool_calls": [{"index": i, "function": {"arguments": piece}}]}
                for piece in pieces(call.arguments, chunk_chars)
            ]
        if interleave_calls:
            heads += head
            tails.append(tail)
        else:
            out += [chunk(delta) for delta in head + tail]
    # Several calls at once: every call opens in index order (as OpenAI streams them),
    # then their argument fragments come round-robin.
    out += [chunk(delta) for delta in heads]
    while any(tails):
        for tail in tails:
            if tail:
                out.append(chunk(tail.pop(0)))
    if finish_reason is not None:
        out.append(chunk({}, "tool_calls" if tool_calls and finish_reason == "stop" else finish_reason))
    if usage is not None:
        out.append(sse({**base, "choices": [], "usage": _openai_usage(usage, usage_style)}))
    if done:
        out.append(sse("[DONE]"))
    return out


@wire_format("openai-responses")
def openai_responses_sse(
    reasoning: str | Sequence[str] = "",
    content: str = "",
    *,
    chunk_chars: int = 8,
    raw_reasoning: bool = False,
    encrypted_content: str | None = "enc-fake",
    usage: Usage | None = None,
    status: str = "completed",
    incomplete_reason: str = "max_output_tokens",
    error_message: str = "The model failed",
    model: str = "fake-model",
    tool_calls: Sequence[FakeToolCall] = (),
) -> list[bytes]:
    """A Responses API stream. `reasoning` as a list gives several summary parts;
    `raw_reasoning` sends `response.reasoning_text.delta` (gpt-oss servers) instead
    of summaries. `status` picks the terminal event: completed, incomplete, failed.
    After the message, each of `tool_calls` is a `function_call` item (`id` fc_…,
    `call_id` call_…) whose arguments stream as `response.function_call_arguments.delta`,
    preceded by a reasoning item of its own when it has `reasoning_before`."""
    parts = [reasoning] if isinstance(reasoning, str) else list(reasoning)
    parts = [p for p in parts if p]
    seq = 0
    out: list[bytes] = []

    def emit(kind: str, **body: Any) -> None:
        nonlocal seq
        out.append(sse({"type": kind, "sequence_number": seq, **body}, event=kind))
        seq += 1

    def reasoning_item(item_id: str, parts: list[str], index: int) -> dict[str, Any]:
        emit("response.output_item.added", output_index=index, item={"id": item_id, "type": "reasoning", "summary": []})
        for s, part in enumerate(parts):
            if raw_reasoning:
                for piece in pieces(part, chunk_chars):
                    emit(
                        "response.reasoning_text.delta",
                        item_id=item_id,
                        output_index=index,
                        content_index=s,
                        delta=piece,
                    )
                emit(
                    "response.reasoning_text.done",
                    item_id=item_id,
                    output_index=index,
                    content_index=s,
                    text=part,
                )
                continue
            emit(
                "response.reasoning_summary_part.added",
                item_id=item_id,
                output_index=index,
                summary_index=s,
                part={"type": "summary_text", "text": ""},
            )
            for piece in pieces(part, chunk_chars):
                emit(
                    "response.reasoning_summary_text.delta",
                    item_id=item_id,
                    output_index=index,
                    summary_index=s,
                    delta=piece,
                )
            emit(
                "response.reasoning_summary_text.done",
                item_id=item_id,
                output_index=index,
                summary_index=s,
                text=part,
            )
            emit(
                "response.reasoning_summary_part.done",
                item_id=item_id,
                output_index=index,
                summary_index=s,
                part={"type": "summary_text", "text": part},
            )
        done_item: dict[str, Any] = {"id": item_id, "type": "reasoning"}
        if raw_reasoning:
            done_item["summary"] = []
            done_item["content"] = [{"type": "reasoning_text", "text": p} for p in parts]
        else:
            done_item["summary"] = [{"type": "summary_text", "text": p} for p in parts]
        if encrypted_content is not None:
            done_item["encrypted_content"] = encrypted_content
        emit("response.output_item.done", output_index=index, item=done_item)
        return done_item

    # Every field the SDK's `Response` type requires, as the API sends them.
    response: dict[str, Any] = {
        "id": "resp_fake",
        "object": "response",
        "created_at": 0,
        "model": model,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }
    emit("response.created", response={**response, "status": "in_progress", "output": []})
    emit("response.in_progress", response={**response, "status": "in_progress", "output": []})
    output: list[dict[str, Any]] = []
    index = 0
    if parts:
        output.append(reasoning_item("rs_fake", parts, index))
        index += 1
    if content:
        message: dict[str, Any] = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        emit("response.output_item.added", output_index=index, item=message)
        emit(
            "response.content_part.added",
            item_id="msg_fake",
            output_index=index,
            content_index=0,
            part={"type": "output_text", "text": "", "annotations": []},
        )
        for piece in pieces(content, chunk_chars):
            emit(
                "response.output_text.delta",
                item_id="msg_fake",
                output_index=index,
                content_index=0,
                delta=piece,
                logprobs=[],
            )
        text_part: dict[str, Any] = {"type": "output_text", "text": content, "annotations": []}
        emit(
            "response.output_text.done",
            item_id="msg_fake",
            output_index=index,
            content_index=0,
            text=content,
            logprobs=[],
        )
        emit(
            "response.content_part.done",
            item_id="msg_fake",
            output_index=index,
            content_index=0,
            part=text_part,
        )
        message = {**message, "status": "completed", "content": [text_part]}
        emit("response.output_item.done", output_index=index, item=message)
        output.append(message)
        index += 1
    for i, call in enumerate(tool_calls):
        if call.reasoning_before:
            output.append(reasoning_item(f"rs_fake_{i}", [call.reasoning_before], index))
            index += 1
        item_id = f"fc_fake_{i}"
        item = {
            "id": item_id,
            "type": "function_call",
            "call_id": call_id(call, i, "call_"),
            "name": call.name,
            "arguments": "",
            "status": "in_progress",
        }
        emit("response.output_item.added", output_index=index, item=item)
        for piece in pieces(call.arguments, chunk_chars):
            emit("response.function_call_arguments.delta", item_id=item_id, output_index=index, delta=piece)
        emit(
            "response.function_call_arguments.done",
            item_id=item_id,
            output_index=index,
            name=call.name,
            arguments=call.arguments,
        )
        item = {**item, "arguments": call.arguments, "status": "completed"}
        emit("response.output_item.done", output_index=index, item=item)
        output.append(item)
        index += 1
    final: dict[str, Any] = {**response, "status": status, "output": output}
    if usage is not None:
        final["usage"] = {
            "input_tokens": usage.prompt_tokens,
            "input_tokens_details": {"cached_tokens": usage.cached_tokens or 0, "cache_write_tokens": 0},
            "output_tokens": usage.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
            "total_tokens": (usage.prompt_tokens or 0) + (usage.completion_tokens or 0),
        }
    if status == "incomplete":
        final["incomplete_details"] = {"reason": incomplete_reason}
    if status == "failed":
        final["error"] = {"code": "server_error", "message": error_message}
    emit(f"response.{status}", response=final)
    return out
