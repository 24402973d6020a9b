"""Issue 23.2: the API stream is not framed for the browser. `/v1` relays each
upstream chunk as the run parses it; the chat page's frames (FRAME_INTERVAL) are
for sockets only. The server here coalesces frames over a whole second, so a
relay that went through the frames would send two or three text chunks where
the provider sent twenty; read with the official `openai` client."""

from __future__ import annotations

import os
import threading
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


def server_threads(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_concurrent_requests_share_a_few_kept_threads_and_their_connections(slow_frames):
    """Issue 23.4: Django's ASGI handler made a thread (and a SQLite connection) for
    every request, and the process's heap grew with that churn round after round
    (bench `memory`). Requests now run on REQUEST_THREADS kept threads: ten streams
    open at once add no thread and leave no connection behind, however many rounds."""
    pid = slow_frames.server.process.pid
    client = slow_frames.client()
    streams = 10

    def round_of_streams() -> int:
        """`streams` streams open at once; the server's threads while all of them are open."""
        for _ in range(streams):
            slow_frames.upstream.enqueue(
                Script(chunks=render("openai-chat", "think " * 20, "answer " * 5), rate=20)
            )
        all_open = threading.Barrier(streams + 1)
        counted = threading.Barrier(streams + 1)
        answers: list[str] = []

        def read() -> None:
            stream = client.chat.completions.create(
                model="Native", messages=[{"role": "user", "content": "Together."}], stream=True
            )
            chunks = iter(stream)
            first = next(chunks)
            all_open.wait(30)
            counted.wait(30)
            answers.append("".join(c.choices[0].delta.content or "" for c in [first, *chunks] if c.choices))

        readers = [threading.Thread(target=read) for _ in range(streams)]
        for reader in readers:
            reader.start()
        all_open.wait(30)
        during = server_threads(pid)
        counted.wait(30)
        for reader in readers:
            reader.join(30)
        assert answers == ["answer " * 5] * streams
        return during

    round_of_streams()  # starts what the process keeps: the request threads, the loop's resolver threads
    kept = server_threads(pid)
    for _ in range(2):
        assert round_of_streams() <= kept + 1  # not one thread per open request
        assert server_threads(pid) <= kept
    # The request threads' connections (REQUEST_THREADS, 4 by default) and the shared thread's.
    assert sqlite_connections(pid) <= 4 + 1
