"""reasoning.wire: SSE/NDJSON framing, error bodies, httpx error translation,
against real loopback servers (reasoning.testing.FakeUpstream).

Every test through a socket runs on both HTTP backends `make_client` offers —
httpx's own transport and `reasoning.transport.AiohttpTransport` — so the
error mapping, the per-read timeouts and closing on cancel are proved the same
for both."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from reasoning.errors import (
    AuthError,
    BadRequest,
    BrokenStream,
    NotFound,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    Unavailable,
)
from reasoning.request import PreparedRequest
from reasoning.testing import FakeUpstream, Script, openai_responses_sse, rechunk, sse
from reasoning.wire import (
    SSEDecoder,
    SSEEvent,
    error_from_payload,
    iter_ndjson,
    iter_sse,
    make_client,
    open_stream,
    parse_json_data,
    raise_for_status,
    retry_after,
)


def decode_all(parts: list[str]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for part in parts:
        events += decoder.feed(part)
    return events + decoder.close()


STREAM = (
    ": OPENROUTER PROCESSING\r\n\r\n"
    "event: response.created\r\n"
    'data: {"a": 1}\r\n'
    "\r\n"
    "id: 7\n"
    "retry: 1000\n"
    "data: first line\n"
    "data:second line\n"
    "data:  two spaces\n"
    "\n"
    ": keep-alive\r"
    "data: cr only\r"
    "\r"
    "event: lonely\n"
    "\n"
    "data: é ü 😀 done\n"
    "\n"
    "data: [DONE]"
)
EXPECTED = [
    SSEEvent("response.created", '{"a": 1}'),
    SSEEvent(None, "first line\nsecond line\n two spaces"),
    SSEEvent(None, "cr only"),
    SSEEvent(None, "é ü 😀 done"),
    SSEEvent(None, "[DONE]"),
]


def test_it_decodes_a_whole_stream() -> None:
    assert decode_all([STREAM]) == EXPECTED


def test_it_decodes_the_same_however_the_text_is_split_in_two() -> None:
    for at in range(len(STREAM) + 1):
        assert decode_all([STREAM[:at], STREAM[at:]]) == EXPECTED, at


def test_it_decodes_the_same_fed_one_character_at_a_time() -> None:
    assert decode_all(list(STREAM)) == EXPECTED


def test_it_splits_a_crlf_between_feeds_without_making_an_empty_line() -> None:
    # "\r" | "\n" must be one line end; read as two it would dispatch "a" early and lose "b".
    assert decode_all(["data: a\r", "\ndata: b\r", "\n\r", "\n"]) == [SSEEvent(None, "a\nb")]


def test_it_ignores_an_event_without_data_and_resets_its_name() -> None:
    assert decode_all(["event: ping\n\ndata: x\n\n"]) == [SSEEvent(None, "x")]


def test_it_reads_a_data_field_without_colon_as_empty() -> None:
    assert decode_all(["data\n\n"]) == [SSEEvent(None, "")]


def test_it_dispatches_a_final_event_without_blank_line_on_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed('data: {"x": 1}') == []
    assert decoder.close() == [SSEEvent(None, '{"x": 1}')]


def test_sse_helper_round_trips_multiline_data() -> None:
    assert decode_all([sse("a\nb", event="e").decode()]) == [SSEEvent("e", "a\nb")]


@pytest.mark.parametrize(
    "text",
    [
        '{"choices": [{"delta": {"reasoning_content": "é 😀 <b>"}}], "usage": null}',
        '{"a": NaN, "b": Infinity}',  # json reads them; orjson does not
        '{"s": "\\ud800 lone surrogate"}',
        '{"n": 18446744073709551615, "m": -9223372036854775808}',  # 64 bits, the most orjson keeps exact
        '{"x": 1e400, "y": -0.0, "z": 1.5}',
        '{"dup": 1, "dup": 2}',
        "  [1, 2, 3]  ",
    ],
)
def test_parse_json_data_reads_what_json_reads(text: str) -> None:
    import json

    got, want = parse_json_data(text), json.loads(text)
    assert json.dumps(got) == json.dumps(want)  # NaN != NaN, but they dump alike
    assert [type(v) for v in (got.values() if isinstance(got, dict) else got)] == [
        type(v) for v in (want.values() if isinstance(want, dict) else want)
    ]


def test_parse_json_data_raises_broken_stream_with_the_line_truncated() -> None:
    assert parse_json_data('{"a": [1]}') == {"a": [1]}
    with pytest.raises(BrokenStream) as info:
        parse_json_data("{not json" + "x" * 1000)
    assert "malformed JSON" in info.value.message
    assert len(info.value.message) < 300


# -- through a real socket ----------------------------------------------------


def prepared(up: FakeUpstream, path: str = "/v1/chat/completions") -> PreparedRequest:
    return PreparedRequest("POST", up.url + path, {"content-type": "application/json"}, {"q": 1})


async def collect_sse(up: FakeUpstream, client: httpx.AsyncClient) -> list[SSEEvent]:
    async with open_stream(client, prepared(up)) as response:
        return [event async for event in iter_sse(response)]


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream() as up:
        yield up


BACKENDS = ["httpx", "aiohttp"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def client(backend: str) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(read_timeout=5, backend=backend) as c:
        yield c


async def test_it_reads_sse_cut_into_tiny_network_chunks_even_inside_utf8(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    chunks = openai_responses_sse(["Ünïcødé 😀 reasoning"], "answer ✓", chunk_chars=3)
    expected = decode_all([b"".join(chunks).decode()])
    for size in (1, 2, 3, 5, 7, 64):
        upstream.enqueue(Script(chunks=rechunk(chunks, size)))
        assert await collect_sse(upstream, client) == expected, size


async def test_it_reads_ndjson_lines_split_anywhere_and_a_last_line_without_newline(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    body = '{"a": 1}\n\n{"b": "ü"}\r\n{"done": true}'
    upstream.enqueue(
        Script(chunks=rechunk([body], 3), headers={"content-type": "application/x-ndjson"})
    )
    async with open_stream(client, prepared(upstream, "/api/chat")) as response:
        lines = [line async for line in iter_ndjson(response)]
    assert lines == [{"a": 1}, {"b": "ü"}, {"done": True}]


async def test_it_raises_broken_stream_on_a_malformed_ndjson_line(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    upstream.enqueue(Script(chunks=['{"a": 1}\n', '{"b": tru\n', '{"c": 3}\n']))
    seen = []
    with pytest.raises(BrokenStream, match="malformed JSON") as info:
        async with open_stream(client, prepared(upstream, "/api/chat")) as response:
            async for line in iter_ndjson(response):
                seen.append(line)
    assert seen == [{"a": 1}]
    assert '{"b": tru' in info.value.message


async def test_it_raises_broken_stream_on_an_ndjson_line_that_is_not_an_object(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    upstream.enqueue(Script(chunks=["[1, 2]\n"]))
    with pytest.raises(BrokenStream, match="JSON object"):
        async with open_stream(client, prepared(upstream, "/api/chat")) as response:
            async for _ in iter_ndjson(response):
                pass


# -- status codes ------------------------------------------------------------

ERROR_BODIES = {
    "openai": {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}},
    "anthropic": {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    },
    "gemini": {
        "error": {"code": 400, "message": "API key not valid", "status": "INVALID_ARGUMENT"}
    },
    "gemini-list": [
        {"error": {"code": 400, "message": "API key not valid", "status": "INVALID_ARGUMENT"}}
    ],
    "ollama": {"error": "model 'qwen9' not found"},
    "vllm": {"object": "error", "message": "max_tokens is too large", "type": "BadRequestError"},
}
EXPECTED_MESSAGES = {
    "openai": "Incorrect API key provided",
    "anthropic": "invalid x-api-key",
    "gemini": "API key not valid",
    "gemini-list": "API key not valid",
    "ollama": "model 'qwen9' not found",
    "vllm": "max_tokens is too large",
}


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequest),
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (409, BadRequest),
        (422, BadRequest),
        (429, RateLimited),
        (500, Unavailable),
        (502, Unavailable),
        (503, Unavailable),
    ],
)
@pytest.mark.parametrize("flavour", sorted(ERROR_BODIES))
async def test_it_maps_each_status_and_keeps_the_providers_message(
    upstream: FakeUpstream,
    client: httpx.AsyncClient,
    status: int,
    error_class: type[ProviderError],
    flavour: str,
) -> None:
    upstream.enqueue(Script.error(status, ERROR_BODIES[flavour]))
    with pytest.raises(ProviderError) as info:
        await collect_sse(upstream, client)
    assert type(info.value) is error_class
    assert info.value.message == EXPECTED_MESSAGES[flavour]
    assert info.value.status_code == status
    assert info.value.permanent is (status < 500 and status != 429)


async def test_it_uses_a_plain_text_error_body_or_the_reason_phrase(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    upstream.enqueue(Script.error(502, "Bad gateway from nginx"), Script.error(503, ""))
    with pytest.raises(Unavailable, match="Bad gateway from nginx"):
        await collect_sse(upstream, client)
    with pytest.raises(Unavailable, match="HTTP 503 Service Unavailable"):
        await collect_sse(upstream, client)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({}, None),
    ],
)
async def test_it_reads_retry_after_on_429(
    upstream: FakeUpstream,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    seconds: float | None,
) -> None:
    upstream.enqueue(Script.error(429, {"error": {"message": "Rate limit reached"}}, headers))
    with pytest.raises(RateLimited) as info:
        await collect_sse(upstream, client)
    assert info.value.retry_after == seconds
    assert info.value.as_dict()["retry_after"] == seconds


def test_retry_after_accepts_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after(httpx.Headers({"retry-after": when}))
    assert seconds is not None and 28 <= seconds <= 31
    assert retry_after(httpx.Headers({"retry-after": "soon"})) is None


async def test_raise_for_status_lets_2xx_through() -> None:
    await raise_for_status(httpx.Response(200, text="ok"))
    with pytest.raises(BadRequest, match="redirect"):
        await raise_for_status(httpx.Response(302, headers={"location": "/elsewhere"}))


@pytest.mark.parametrize(
    ("payload", "error_class", "message"),
    [
        (
            {"error": {"message": "Overloaded", "type": "overloaded_error"}, "type": "error"},
            Unavailable,
            "Overloaded",
        ),
        (
            {"error": {"code": 502, "message": "Provider returned error"}},
            Unavailable,
            "Provider returned error",
        ),
        ({"error": {"code": 429, "message": "slow down"}}, RateLimited, "slow down"),
        ({"error": {"message": "quota", "status": "RESOURCE_EXHAUSTED"}}, RateLimited, "quota"),
        ({"error": {"message": "bad", "type": "invalid_request_error"}}, BadRequest, "bad"),
        ({"error": {"message": "something odd"}}, BrokenStream, "something odd"),
        ({"error": "plain"}, BrokenStream, "plain"),
    ],
)
def test_error_from_payload_maps_errors_sent_inside_a_200_stream(
    payload: object, error_class: type[ProviderError], message: str
) -> None:
    error = error_from_payload(payload)
    assert type(error) is error_class
    assert error.message == message


# -- transport failures -------------------------------------------------------


async def test_it_reports_connection_refused_as_unavailable(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    request = PreparedRequest("POST", f"http://127.0.0.1:{port}/v1/chat/completions", {}, {})
    with pytest.raises(Unavailable, match="connection refused") as info:
        async with open_stream(client, request):
            pass
    assert not info.value.permanent


async def test_it_times_out_when_no_first_byte_arrives_within_the_read_timeout(
    upstream: FakeUpstream, backend: str
) -> None:
    upstream.enqueue(Script(ttfb=5, chunks=[sse("late")]))
    async with make_client(read_timeout=0.2, backend=backend) as client:
        started = time.monotonic()
        with pytest.raises(ProviderTimeout, match="no response yet"):
            await collect_sse(upstream, client)
    assert time.monotonic() - started < 2
    await upstream.requests[0].closed(2)


async def test_it_times_out_when_the_stream_stalls_mid_way(upstream: FakeUpstream, backend: str) -> None:
    upstream.enqueue(Script(chunks=[sse("one"), sse("two")], stall_after=1))
    seen: list[str] = []
    async with make_client(read_timeout=0.2, backend=backend) as client:
        with pytest.raises(ProviderTimeout, match="stalled mid-stream"):
            async with open_stream(client, prepared(upstream)) as response:
                async for event in iter_sse(response):
                    seen.append(event.data)
    assert seen == ["one"]


async def test_it_reports_a_connection_cut_mid_stream_as_broken_stream(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    upstream.enqueue(Script(chunks=[sse("one"), sse("two"), sse("three")], cut_after=2))
    seen: list[str] = []
    with pytest.raises(BrokenStream, match="cut mid-stream"):
        async with open_stream(client, prepared(upstream)) as response:
            async for event in iter_sse(response):
                seen.append(event.data)
    assert seen == ["one", "two"]


async def test_it_resumes_after_a_stall_shorter_than_the_read_timeout(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    upstream.enqueue(Script(chunks=[sse("one"), sse("two")], stall_after=1, stall_for=0.1))
    assert [e.data for e in await collect_sse(upstream, client)] == ["one", "two"]


async def test_cancelling_the_reader_closes_the_upstream_connection_within_a_second(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    upstream.enqueue(Script(chunks=[sse("one")], stall_after=1))
    got_first = asyncio.Event()

    async def read() -> None:
        async with open_stream(client, prepared(upstream)) as response:
            async for _ in iter_sse(response):
                got_first.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(got_first.wait(), 2)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    closed_at = await upstream.requests[0].closed(2)
    assert closed_at - cancelled_at < 1.0
    assert upstream.requests[0].closed_by_client


async def test_leaving_the_block_early_closes_an_unfinished_stream(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    upstream.enqueue(Script(chunks=[sse(str(i)) for i in range(100)], interval=0.05))
    async with open_stream(client, prepared(upstream)) as response:
        async for _ in iter_sse(response):
            break
    await upstream.requests[0].closed(1)
    assert upstream.requests[0].finished_at is None


def test_make_client_is_sized_for_many_long_silent_streams() -> None:
    client = make_client()
    assert client.timeout.read == 600
    assert client.timeout.connect == 10
    pool = client._transport._pool  # type: ignore[attr-defined]
    assert pool._max_connections == 1000
    custom = make_client(read_timeout=3, max_connections=7)
    assert custom.timeout.read == 3
    assert custom._transport._pool._max_connections == 7  # type: ignore[attr-defined]


def test_the_aiohttp_backend_has_the_same_sizes_and_tls() -> None:
    import ssl

    from reasoning.transport import AiohttpTransport

    client = make_client(backend="aiohttp")
    assert (client.timeout.read, client.timeout.connect, client.timeout.pool) == (600, 10, 30)
    transport = client._transport  # type: ignore[attr-defined]
    assert isinstance(transport, AiohttpTransport)
    assert transport.max_connections == 1000
    assert make_client(max_connections=7, backend="aiohttp")._transport.max_connections == 7  # type: ignore[attr-defined]
    # httpx's own TLS: certificates and host names checked, the same minimum version.
    reference = httpx.create_ssl_context()
    assert transport._ssl.verify_mode is ssl.CERT_REQUIRED and transport._ssl.check_hostname
    assert transport._ssl.minimum_version == reference.minimum_version
    with pytest.raises(ValueError, match="unknown HTTP backend"):
        make_client(backend="curl")


async def test_both_backends_send_the_same_request(upstream: FakeUpstream) -> None:
    seen = []
    for backend in BACKENDS:
        upstream.enqueue(Script(chunks=[sse("ok")]))
        async with make_client(backend=backend) as client, open_stream(client, prepared(upstream)) as response:
            assert [e.data async for e in iter_sse(response)] == ["ok"]
        seen.append(upstream.requests[-1])
    by_httpx, by_aiohttp = seen
    assert by_aiohttp.method == by_httpx.method and by_aiohttp.path == by_httpx.path
    assert by_aiohttp.body == by_httpx.body
    assert by_aiohttp.headers == by_httpx.headers


async def test_a_finished_stream_gives_its_connection_back_to_the_pool(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        upstream.enqueue(Script(chunks=[sse("one"), sse("[DONE]")]))
        assert [e.data for e in await collect_sse(upstream, client)] == ["one", "[DONE]"]
    assert upstream.open_connections == 1


async def test_waiting_for_a_free_connection_longer_than_the_pool_timeout_is_a_timeout(
    upstream: FakeUpstream, backend: str
) -> None:
    upstream.enqueue(Script(chunks=[sse("one")], stall_after=1), Script(chunks=[sse("two")]))
    async with make_client(max_connections=1, pool_timeout=0.2, backend=backend) as client:
        async with open_stream(client, prepared(upstream)) as held:
            events = iter_sse(held)  # kept: a generator let go closes its response
            assert (await anext(events)).data == "one"
            with pytest.raises(ProviderTimeout, match="pool exhausted"):
                await collect_sse(upstream, client)
        # The slot is free again once the first stream is closed.
        assert [e.data for e in await collect_sse(upstream, client)] == ["two"]


def test_the_aiohttp_transport_raises_what_httpx_raises_for_each_failure() -> None:
    import aiohttp
    from aiohttp.client_reqrep import ConnectionKey

    from reasoning.transport import _httpx_errors
    from reasoning.wire import translate_httpx_error

    request = httpx.Request("POST", "https://api.example.test/v1/chat/completions")
    key = ConnectionKey("api.example.test", 443, True, True, None, None, None)
    cases: list[tuple[BaseException, type[httpx.HTTPError], type[ProviderError]]] = [
        (aiohttp.ConnectionTimeoutError("connect"), httpx.ConnectTimeout, ProviderTimeout),
        (aiohttp.SocketTimeoutError("read"), httpx.ReadTimeout, ProviderTimeout),
        (aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused")), httpx.ConnectError, Unavailable),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError, BrokenStream),
        (aiohttp.ClientPayloadError("Response payload is not completed"), httpx.RemoteProtocolError, BrokenStream),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), httpx.ReadError, BrokenStream),
        (aiohttp.InvalidURL("ftp://x"), httpx.UnsupportedProtocol, BadRequest),
    ]
    for raised, httpx_class, provider_class in cases:
        with pytest.raises(httpx_class) as info, _httpx_errors(request):
            raise raised
        assert type(info.value) is httpx_class, raised
        assert info.value.request is request
        assert type(translate_httpx_error(info.value, mid_stream=True)) is provider_class, raised


async def test_a_connection_not_accepted_within_the_connect_timeout_is_a_timeout(backend: str) -> None:
    # A listening socket that never accepts, its backlog already full: the kernel
    # drops the next SYN, so connecting hangs until the connect timeout.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        await asyncio.sleep(0.1)
        request = PreparedRequest("POST", f"http://127.0.0.1:{port}/v1/chat/completions", {}, {})
        try:
            async with make_client(connect_timeout=0.3, backend=backend) as client:
                started = time.monotonic()
                with pytest.raises(ProviderTimeout, match="timed out connecting"):
                    async with open_stream(client, request):
                        pass
                assert time.monotonic() - started < 3
        finally:
            for filler in fillers:
                filler.close()


async def test_the_pooled_client_keeps_no_cookie_a_response_set():
    # One client carries every user's requests: a provider's Set-Cookie (a gateway's
    # session, a CDN's bot cookie) must not go out with the next request, whoever's.
    from reasoning.wire import make_client

    seen: list[str | None] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "session=user-a; Path=/"}, text="ok")

    async with make_client(transport=httpx.MockTransport(provider)) as client:
        for _ in range(3):
            await client.get("https://provider.example/v1/models")
        assert seen == [None, None, None]
        assert len(client.cookies) == 0
