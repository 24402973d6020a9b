"""Issue 23.2: the API stream is not framed for the browser. `/v1` relays each
upstream chunk as the run parses it; the chat page's frames (FRAME_INTERVAL) are
for sockets only. The server here coalesces frames over a whole second, so a
relay that went through the frames would send two or three text chunks where
the provider sent twenty; read with the official `openai` client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reasoning.testing.upstream import Script, render
from tests.api.conftest import Gateway, running_gateway

REASONING = "".join(f"step{i:02d} " for i in range(12))  # 12 chunks of 7 characters
CONTENT = "".join(f"word{i:02d} " for i in range(8))  # 8 chunks


@pytest.fixture(scope="module")
def slow_frames(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(Path(tmp_path_factory.mktemp("relay")), FRAME_INTERVAL="1.0") as gateway:
        yield gateway


def test_every_upstream_chunk_is_relayed_once_in_order_in_its_field_without_waiting_for_a_frame(slow_frames):
    chunks = render("openai-chat", REASONING, CONTENT, chunk_chars=7)
    slow_frames.upstream.enqueue(Script(chunks=chunks, rate=20))  # ~1 s: one frame interval
    client = slow_frames.client()
    pieces: list[tuple[str, str]] = []
    conversation = None
    with client.chat.completions.with_streaming_response.create(
        model="Native", messages=[{"role": "user", "content": "Count."}], stream=True
    ) as response:
        conversation = response.headers["x-playground-conversation"]
        for chunk in response.parse():
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            reasoning = (delta.model_extra or {}).get("reasoning_content")
            if reasoning:
                pieces.append(("r", reasoning))
            if delta.content:
                pieces.append(("c", delta.content))
    # Every character once, in order, in its own field: reasoning first, then the answer.
    assert "".join(t for f, t in pieces if f == "r") == REASONING
    assert "".join(t for f, t in pieces if f == "c") == CONTENT
    fields = [f for f, _ in pieces]
    assert fields == sorted(fields, key=lambda f: f == "c")
    # Relayed chunk by chunk (a busy machine may join a few that queued up), never
    # in 1 s frames: those would give at most three or four text chunks.
    assert len(pieces) >= 10, pieces
    # What the client read is what was stored.
    stored = slow_frames.answer(conversation)
    assert (stored["status"], stored["reasoning"], stored["content"]) == ("complete", REASONING, CONTENT)


def sqlite_connections(pid: int) -> int:
    """Open handles of the server process on its database file (one per connection)."""
    fd_dir = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        count += target.endswith("playground.sqlite3")
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts file handles in /proc")
def test_requests_and_their_runs_leave_no_database_connections_behind(slow_frames):
    """Issue 23.4: each ASGI request runs its database work on a thread of its own;
    its connection must close with the request, and its run must write through the
    process's one shared thread, or connections (and memory) pile up per request."""
    client = slow_frames.client()
    for _ in range(10):
        slow_frames.upstream.enqueue(Script(chunks=render("openai-chat", "think " * 5, "answer " * 5)))
        stream = client.chat.completions.create(
            model="Native", messages=[{"role": "user", "content": "Again."}], stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices).startswith("answer")
    # The shared thread's connection, and at most one of a request still closing.
    assert sqlite_connections(slow_frames.server.process.pid) <= 3
