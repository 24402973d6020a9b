"""The benchmark harness works end to end (it asserts what was measured, never how fast)."""

from __future__ import annotations

import pytest

from bench import harness, parsers, relay
from bench.upstream_proc import TOKEN_CHARS, chunks_for, text

pytestmark = pytest.mark.slow


def test_it_measures_the_parser_section() -> None:
    result = parsers.bench_stream(4, repeats=1)

    assert result["deltas"] == 30_005
    assert result["deltas_per_s"] > 0 and result["baseline_deltas_per_s"] > 0
    assert result["last_over_first"] > 0


def test_it_builds_the_stream_the_client_counts_on() -> None:
    # One chunk per token, the role chunk riding with the first reasoning chunk:
    # the client maps characters back to chunk indices with this layout.
    chunks = chunks_for(5, 3)
    reasoning = [c for c in chunks if b'"reasoning_content"' in c]
    answer = [c for c in chunks if b'"content":"' in c and b"reasoning_content" not in c]

    assert len(reasoning) == 5 and len(answer) == 3
    assert chunks[0] == reasoning[0] and b'"role":"assistant"' in chunks[0]
    assert len(text(7, 1)) == 7 * TOKEN_CHARS


async def test_it_relays_one_small_stream_through_the_real_server() -> None:
    upstream = harness.Upstream()
    try:
        server = harness.Server(upstream, conversations=2)
        try:
            result = await relay.concurrency(server, upstream, streams=1, rate=200, seconds=0.2)
            stats = await server.stats()
        finally:
            server.close()
    finally:
        upstream.close()

    assert result["complete"] == 1
    assert result["tokens_per_stream"] == 40
    assert result["token_latency_ms"]["p50"] is not None  # every token was matched to its chunk
    assert result["db_writes"] >= 2  # the prompt and its answer (one INSERT), the final save at least
    assert stats["queries"]["select"] > 0


async def test_the_served_socket_negotiates_deflate_and_the_turn_arrives_whole() -> None:
    # harness.Server runs `python -m playground.server` (uvloop, permessage-deflate,
    # the frozen GC): a deflating client gets every frame, in fewer bytes.
    upstream = harness.Upstream()
    try:
        server = harness.Server(upstream, conversations=4)
        try:
            result = await relay.small_turn(server, upstream)
        finally:
            server.close()
    finally:
        upstream.close()

    assert result["deflate_negotiated"] is True
    assert result["frames"] > 10 and result["deflate_turn_whole"] is True
    assert result["wire_bytes_deflate"] < result["wire_bytes_plain"] / 2
