"""reasoning.testing.upstream: the fake upstream server and the wire-format builders."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest

from reasoning.events import Usage
from reasoning.testing import (
    FakeUpstream,
    RecordedRequest,
    Script,
    openai_chat_sse,
    openai_responses_sse,
    pieces,
    rechunk,
    render,
    sse,
)
from reasoning.testing.upstream import FORMATS, REASONING_FIELDS
from reasoning.wire import SSEDecoder


def events_of(chunks: list[bytes]) -> list[tuple[str | None, str]]:
    decoder = SSEDecoder()
    events = decoder.feed(b"".join(chunks).decode()) + decoder.close()
    return [(e.event, e.data) for e in events]


def test_it_serves_sync_clients_and_records_the_request() -> None:
    with FakeUpstream() as up:
        up.enqueue(Script(chunks=["hello ", "world"], headers={"content-type": "text/plain"}))
        response = httpx.post(
            up.url + "/v1/chat/completions?x=1",
            json={"model": "m", "messages": []},
            headers={"Authorization": "Bearer sk-test"},
        )
        assert response.status_code == 200
        assert response.text == "hello world"
        assert response.headers["transfer-encoding"] == "chunked"
        [request] = up.requests
        assert request.method == "POST"
        assert request.path == "/v1/chat/completions?x=1"
        assert request.headers["authorization"] == "Bearer sk-test"
        assert request.json == {"model": "m", "messages": []}
        assert request.wait_closed(2) >= request.received_at


def test_it_uses_enqueued_scripts_in_order_then_the_default() -> None:
    def echo(request: RecordedRequest) -> Script:
        return Script.json({"echo": request.json, "index": request.index})

    with FakeUpstream(default=echo) as up:
        up.enqueue(Script.error(418, "teapot"), Script(chunks=["second"]))
        with httpx.Client(base_url=up.url) as client:
            first = client.post("/a", json={"n": 1})
            second = client.post("/b", json={"n": 2})
            third = client.post("/c", json={"n": 3})
        assert (first.status_code, first.text) == (418, "teapot")
        assert second.text == "second"
        assert third.json() == {"echo": {"n": 3}, "index": 2}
        assert [r.path for r in up.wait_requests(3)] == ["/a", "/b", "/c"]


def test_without_any_script_it_answers_500() -> None:
    with FakeUpstream() as up:
        assert httpx.get(up.url).status_code == 500


def test_it_cuts_the_connection_without_ending_the_chunked_body() -> None:
    with FakeUpstream() as up:
        up.enqueue(Script(chunks=["a", "b", "c"], cut_after=2))
        received = b""
        with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", up.url) as response:
            for chunk in response.iter_bytes():
                received += chunk
        assert received == b"ab"
        assert up.requests[0].wait_closed(1)
        assert not up.requests[0].closed_by_client


def test_it_writes_real_chunked_encoding_on_the_socket() -> None:
    with FakeUpstream() as up:
        up.enqueue(Script(chunks=["abc", b"", "de"]))
        with socket.create_connection((up.host, up.port)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            raw = b""
            while not raw.endswith(b"0\r\n\r\n"):
                raw += sock.recv(4096)
        head, body = raw.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert body == b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"


def test_it_keeps_the_connection_for_the_next_request() -> None:
    with FakeUpstream() as up:
        up.enqueue(Script(chunks=["1"]), Script(chunks=["2"]))
        with httpx.Client() as client:
            assert client.get(up.url).text == "1"
            assert client.get(up.url).text == "2"
        first, second = up.requests
        assert first.wait_closed(1) == second.wait_closed(1)  # one connection carried both
        assert up.open_connections == 0


def test_it_notices_a_client_leaving_during_a_stall() -> None:
    with FakeUpstream() as up:
        up.enqueue(Script(chunks=["x"], stall_after=1))
        with httpx.stream("GET", up.url) as response:
            assert next(response.iter_bytes()) == b"x"
            left_at = time.monotonic()
        closed_at = up.requests[0].wait_closed(2)
        assert closed_at - left_at < 1
        assert up.requests[0].closed_by_client
        assert up.requests[0].finished_at is None


def test_it_delays_the_head_and_paces_chunks_by_rate() -> None:
    with FakeUpstream() as up:
        up.enqueue(Script(chunks=[str(i) for i in range(6)], ttfb=0.1, rate=50))
        started = time.monotonic()
        with httpx.stream("GET", up.url) as response:
            head_at = time.monotonic()
            body = b"".join(response.iter_bytes())
        done_at = time.monotonic()
        assert body == b"012345"
        assert head_at - started >= 0.09
        assert done_at - head_at >= 0.09  # 5 gaps of 20 ms


async def test_it_runs_on_the_current_loop_and_serves_many_concurrent_streams() -> None:
    chunks = openai_chat_sse("r" * 40, "c" * 40, chunk_chars=4)
    async with FakeUpstream(default=Script(chunks=chunks, rate=200)) as up:
        limits = httpx.Limits(max_connections=300)
        async with httpx.AsyncClient(limits=limits) as client:

            async def one() -> bytes:
                async with client.stream("POST", up.url, json={}) as response:
                    return await response.aread()

            bodies = await asyncio.gather(*(one() for _ in range(200)))
        assert all(body == b"".join(chunks) for body in bodies)
        assert len(up.requests) == 200


async def test_async_waiters_see_requests_and_closes() -> None:
    async with FakeUpstream(default=Script(chunks=["z"])) as up, httpx.AsyncClient() as client:
        await client.get(up.url)
    [request] = await up.requests_received(1)
    assert await request.closed(1) >= request.received_at


# -- builders -----------------------------------------------------------------


def test_pieces_and_rechunk_keep_every_byte() -> None:
    assert pieces("abcdefg", 3) == ["abc", "def", "g"]
    assert pieces("", 3) == []
    cut = rechunk(["é😀", b"xy"], 1)
    assert all(len(c) == 1 for c in cut)
    assert b"".join(cut) == "é😀xy".encode()


@pytest.mark.parametrize("field", [f for f in REASONING_FIELDS if f not in ("markup", "hidden")])
def test_openai_chat_sse_carries_reasoning_in_the_chosen_field(field: str) -> None:
    usage = Usage(prompt_tokens=5, completion_tokens=9, reasoning_tokens=4, cached_tokens=2)
    events = events_of(
        openai_chat_sse("think hard", "answer", chunk_chars=3, field=field, usage=usage)
    )
    assert events[-1] == (None, "[DONE]")
    payloads = [json.loads(data) for _, data in events[:-1]]
    deltas = [p["choices"][0]["delta"] for p in payloads if p["choices"]]
    reasoning = ""
    for delta in deltas:
        if field == "mistral" and isinstance(delta.get("content"), list):
            reasoning += "".join(t["text"] for c in delta["content"] for t in c["thinking"])
        elif field in ("reasoning", "openrouter"):
            reasoning += delta.get("reasoning") or ""
        elif field == "reasoning_details":
            reasoning += "".join(d["text"] for d in delta.get("reasoning_details", []))
        else:
            reasoning += delta.get(field) or ""
    content = "".join(d["content"] for d in deltas if isinstance(d.get("content"), str))
    assert (reasoning, content) == ("think hard", "answer")
    assert payloads[-2]["choices"][0]["finish_reason"] == "stop"
    assert payloads[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 4}
    assert payloads[-1]["usage"]["prompt_tokens_details"] == {"cached_tokens": 2}


def test_openai_chat_sse_markup_puts_tags_in_content() -> None:
    events = events_of(openai_chat_sse("why", "so", field="markup", chunk_chars=2, done=False))
    text = "".join(json.loads(d)["choices"][0]["delta"].get("content") or "" for _, d in events)
    assert text == "<think>why</think>so"
    assert "[DONE]" not in [d for _, d in events]


def test_openai_responses_sse_names_every_event_and_ends_with_the_status() -> None:
    usage = Usage(prompt_tokens=3, completion_tokens=20, reasoning_tokens=15)
    events = events_of(
        openai_responses_sse(["part one", "part two"], "391", chunk_chars=4, usage=usage)
    )
    assert all(name == json.loads(data)["type"] for name, data in events)
    names = [name for name, _ in events]
    assert names.count("response.reasoning_summary_text.delta") == 4
    assert names[-1] == "response.completed"
    final = json.loads(events[-1][1])["response"]
    assert final["usage"]["output_tokens_details"] == {"reasoning_tokens": 15}
    reasoning_item = final["output"][0]
    assert reasoning_item["encrypted_content"] == "enc-fake"
    assert [s["text"] for s in reasoning_item["summary"]] == ["part one", "part two"]


def test_formats_are_registered_by_name() -> None:
    assert FORMATS["openai-chat"] is openai_chat_sse
    assert render("openai-responses", "a", "b") == openai_responses_sse("a", "b")
    assert sse({"a": 1}) == b'data: {"a":1}\n\n'
