"""The API handler writes a streamed answer (`EventStream`) itself, one ASGI body
message per part (playground.api.asgi, issue 23.1): the same head and bytes as
Django's streaming path, every part once and in order, without that path's
per-part wrappers; a client that goes away closes the view's generator (whose
`finally` stops the run: tests/api/test_streaming.py shows the upstream closed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler

from playground.api.asgi import ApiHandler, EventStream

PARTS = [b"data: {\"a\":1}\n\n", b": keep-alive\n\n", b"data: \xc3\xa9 \\u00e9\n\n", b"x" * 70_000, b"data: [DONE]\n\n"]


async def parts_of(items: list[bytes], closed: list[str] | None = None, gate: asyncio.Event | None = None
                   ) -> AsyncIterator[bytes]:
    try:
        for item in items:
            if gate is not None and item is items[-1]:
                await gate.wait()  # a stream that waits on its model
            yield item
    finally:
        if closed is not None:
            closed.append("closed")


def event_stream(parts: AsyncIterator[bytes]) -> EventStream:
    response = EventStream(parts, content_type="text/event-stream")
    response["cache-control"] = "no-cache"
    response["x-playground-conversation"] = "12"
    return response


async def written(handler: ASGIHandler, response: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await handler.send_response(response, send)
    return messages


def test_every_part_is_one_body_message_in_order_then_the_end():
    messages = asyncio.run(written(ApiHandler(), event_stream(parts_of(PARTS))))
    start, *bodies, end = messages
    assert start["type"] == "http.response.start" and start["status"] == 200
    assert [m["body"] for m in bodies] == PARTS  # each once, whole (70 kB not sliced), in order
    assert all(m == {"type": "http.response.body", "body": m["body"], "more_body": True} for m in bodies)
    assert end == {"type": "http.response.body"}


def test_the_head_and_bytes_are_what_djangos_streaming_path_sends():
    ours = asyncio.run(written(ApiHandler(), event_stream(parts_of(PARTS))))
    djangos = asyncio.run(written(ASGIHandler(), event_stream(parts_of(PARTS))))
    assert ours[0] == djangos[0]
    assert (b"Content-Type", b"text/event-stream") in ours[0]["headers"]
    assert b"".join(m.get("body", b"") for m in ours) == b"".join(m.get("body", b"") for m in djangos)


def test_it_does_not_go_through_djangos_per_part_machinery(monkeypatch):
    def refused(self: Any) -> Any:
        raise AssertionError("went through StreamingHttpResponse.__aiter__")

    monkeypatch.setattr(EventStream, "__aiter__", refused)
    messages = asyncio.run(written(ApiHandler(), event_stream(parts_of(PARTS))))
    assert [m.get("body") for m in messages[1:-1]] == PARTS


def test_other_responses_go_through_djangos_own_path():
    from django.http import HttpResponse, StreamingHttpResponse

    plain = asyncio.run(written(ApiHandler(), HttpResponse(b"whole")))
    assert [m.get("body") for m in plain[1:]] == [b"whole"]
    streamed = asyncio.run(written(ApiHandler(), StreamingHttpResponse(parts_of([b"a", "b"]))))  # type: ignore[list-item]
    assert [m.get("body") for m in streamed[1:]] == [b"a", b"b", None]  # Django's make_bytes still applies


def test_a_client_that_goes_away_closes_the_generator():
    async def scenario() -> tuple[list[str], list[dict[str, Any]]]:
        closed: list[str] = []
        gate = asyncio.Event()  # never set: the last part never comes
        messages: list[dict[str, Any]] = []
        all_but_the_last = asyncio.Event()

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)
            if len(messages) == len(PARTS):  # the head and every part but the last
                all_but_the_last.set()

        writing = asyncio.create_task(ApiHandler().send_response(event_stream(parts_of(PARTS, closed, gate)), send))
        await all_but_the_last.wait()
        await asyncio.sleep(0.01)  # it waits on the stream, not on a write
        # What Django's handler does when the client disconnects: cancel the task that writes.
        writing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writing
        return closed, messages

    closed, messages = asyncio.run(scenario())
    assert closed == ["closed"]
    assert [m.get("body") for m in messages[1:]] == PARTS[:-1]  # no closing message after a disconnect
