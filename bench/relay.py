"""Relay benchmarks: the whole path fake provider → httpx → adapter → run →
channel layer → consumer → websocket client, against the real daphne process.

Each function takes a running `Server` and `Upstream` and returns a dict for
bench/results.json. Ratios are taken against figures measured in the same run.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from typing import Any

from bench.harness import (
    DATA_KINDS,
    PY,
    ROOT,
    SERVER_CORES,
    Server,
    Socket,
    TurnRecord,
    Upstream,
    _pinned,
    max_frames_per_second,
    ms,
    open_sockets,
    pct,
    proc_cpu_seconds,
    process_writes,
    prompt,
    token_latencies,
    turn_writes,
)
from bench.upstream_proc import TOKEN_CHARS

DIRECT_CONSUMER = """
import asyncio, json, sys, time, httpx
async def main():
    url, prompt = sys.argv[1], sys.argv[2]
    body = {"model": "bench-model", "stream": True, "messages": [{"role": "user", "content": prompt}]}
    chunks = 0
    first = last = None
    async with httpx.AsyncClient(timeout=120) as client:
        async with client.stream("POST", url + "/v1/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    now = time.monotonic()
                    first = first or now
                    last = now
                    chunks += 1
    print(json.dumps({"chunks": chunks, "first": first, "last": last}))
asyncio.run(main())
"""


async def throughput(server: Server, upstream: Upstream, tokens: int = 30_000) -> dict[str, Any]:
    """One long unpaced turn through the relay vs the same stream read by bare httpx."""
    r, c = tokens - 100, 100
    # Direct: a fresh process on the server's core (idle meanwhile) reads the same stream.
    direct_out = subprocess.run(  # noqa: ASYNC221 (nothing else runs meanwhile)
        [PY, "-c", DIRECT_CONSUMER, upstream.url, prompt("direct", r, c, 0)],
        cwd=ROOT, capture_output=True, text=True, check=True, preexec_fn=_pinned(SERVER_CORES),
    )
    direct = json.loads(direct_out.stdout)
    await upstream.times(["direct"])  # discard
    # The relay path: the same stream, with a warm-up turn first (imports, pools).
    (sock,) = await open_sockets(server, server.take_conversations(1))
    await sock.turn(TurnRecord("warm", 20, 20, 0))
    before_stats = await server.stats(reset=True)
    cpu0 = server.cpu_seconds()
    record = await sock.turn(TurnRecord("relay", r, c, 0), timeout=300)
    cpu = server.cpu_seconds() - cpu0
    stats = await server.stats()
    await sock.close()
    writes = (await upstream.times(["relay", "warm"]))["relay"]
    upstream_chunks = len(writes) - 2  # head and end marker are not chunks
    last_token_at = record.frames[-1][0] if record.frames else None
    direct_rate = direct["chunks"] / max(direct["last"] - direct["first"], 1e-9)
    relay_rate = (
        upstream_chunks / max(last_token_at - writes[1], 1e-9) if last_token_at else 0.0
    )
    del before_stats
    return {
        "tokens": tokens,
        "upstream_chunks": upstream_chunks,
        "direct_chunks_per_s": round(direct_rate),
        "relay_chunks_per_s": round(relay_rate),
        "relay_over_direct": round(relay_rate / direct_rate, 3),
        "server_cpu_us_per_chunk": round(cpu / upstream_chunks * 1e6, 1),
        "ws_frames_per_chunk": round(len(record.frames) / upstream_chunks, 4),
        "ws_messages": record.messages,
        "complete": record.done_at is not None and record.r_len == r * TOKEN_CHARS,
        "db_queries": stats["queries"],
        "db_writes": turn_writes(stats),
        "db_writes_of_the_process": process_writes(stats),
        "db_writes_by_what": stats.get("writes_by_what"),
        "stream_seconds": round(last_token_at - writes[1], 3) if last_token_at else None,
    }


async def first_token(server: Server, upstream: Upstream, turns: int, ttfb: float = 0.05) -> dict[str, Any]:
    """Added time to the first reasoning and the first answer token, one turn at a time.

    A paced stream (70 tokens/s, 4-11 reasoning then 8 answer tokens), so the first
    answer token arrives at any point between two frames, as in real use. `ttfb`
    is the provider's silence before its first chunk (prefill); with 0 the figure
    also holds the server's own work that overlaps a real provider's wait (the
    exchange's first render)."""
    (sock,) = await open_sockets(server, server.take_conversations(1))
    await sock.turn(TurnRecord("warm-ttft", 4, 4, 0))
    await sock.close()
    records: list[TurnRecord] = []
    cpu0 = server.cpu_seconds()
    for i, conv in enumerate(server.take_conversations(turns)):
        s = await Socket(server, conv).open()
        tag = f"ttft-{i}-{time.monotonic_ns()}"
        records.append(await s.turn(TurnRecord(tag, 4 + i % 8, 8, 70, ttfb=ttfb)))
        await s.close()
    cpu = server.cpu_seconds() - cpu0  # a short turn's whole cost: socket, start, ~15 tokens, final render
    writes = await upstream.times([r.tag for r in records] + ["warm-ttft"])
    reasoning, answer, end_to_end = [], [], []
    for rec in records:
        w = writes.get(rec.tag)
        if not w or rec.first_r_at is None or rec.first_c_at is None:
            continue
        reasoning.append(rec.first_r_at - w[1])
        answer.append(rec.first_c_at - w[1 + rec.r_tokens])
        # Send to first token shown, less the provider's own time (its head to its
        # first chunk): the server's work before the request goes out counts here too.
        end_to_end.append((rec.first_r_at - rec.sent_at) - (w[1] - w[0]))

    def dist(values: list[float]) -> dict[str, float | None]:
        return {
            "p50": ms(pct(values, 0.5)),
            "p90": ms(pct(values, 0.9)),
            "p99": ms(pct(values, 0.99)),
            "max": ms(max(values, default=None)),
            "worst5": [ms(v) for v in sorted(values)[-5:]],
        }

    return {
        "turns": len(reasoning),
        "ttfb_s": ttfb,
        "reasoning_ms": dist(reasoning),
        "answer_ms": dist(answer),
        "end_to_end_reasoning_ms": dist(end_to_end),
        "server_cpu_ms_per_turn": round(cpu / max(len(records), 1) * 1000, 2),
    }


async def concurrency(
    server: Server, upstream: Upstream, streams: int, rate: float, seconds: float
) -> dict[str, Any]:
    """`streams` turns at once, each `rate` tokens/s for about `seconds`."""
    tokens = max(2, int(rate * seconds))
    r, c = tokens - tokens // 10, tokens // 10
    sockets = await open_sockets(server, server.take_conversations(streams))
    records = [TurnRecord(f"n{streams}-{rate}-{i}-{time.monotonic_ns()}", r, c, rate) for i in range(streams)]
    await server.stats(reset=True)
    rss: list[float] = []
    cpu_samples: list[tuple[float, float]] = []  # (time, server CPU seconds)
    cpu0, up_cpu0, bench_cpu0 = server.cpu_seconds(), upstream.cpu_seconds(), time.process_time()
    started = time.monotonic()

    async def sample() -> None:
        while True:
            rss.append(server.rss_mb())
            cpu_samples.append((time.monotonic(), server.cpu_seconds()))
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    # Turns start spread over one second, as users' clicks would.
    stagger = 1.0 / streams

    async def one(i: int) -> TurnRecord:
        await asyncio.sleep(i * stagger)
        # Generous (a turn may finish late under load) but bounded: a layer that
        # loses a turn's end must not stall the whole bench.
        return await sockets[i].turn(records[i], timeout=seconds * 3 + 20)

    await asyncio.gather(*(one(i) for i in range(streams)))
    wall = time.monotonic() - started
    sampler.cancel()
    cpu = server.cpu_seconds() - cpu0
    up_cpu = upstream.cpu_seconds() - up_cpu0
    bench_cpu = time.process_time() - bench_cpu0
    stats = await server.stats()
    await asyncio.gather(*(s.close() for s in sockets))
    writes = await upstream.times([rec.tag for rec in records])
    lat: list[float] = []
    delivered, upstream_pace, fps = [], [], []
    chunks = 0
    for rec in records:
        w = writes.get(rec.tag)
        if not w or not rec.frames:
            continue
        lat.extend(token_latencies(rec, w, TOKEN_CHARS))
        ideal = (tokens - 1) / rate
        delivered.append(min(1.0, ideal / max(rec.frames[-1][0] - w[1], 1e-9)))
        upstream_pace.append(min(1.0, ideal / max(w[-2] - w[1], 1e-9)))
        fps.append(max_frames_per_second(rec))
        chunks += len(w) - 2
    complete = sum(1 for rec in records if rec.done_at is not None and not rec.error)
    steady = steady_cpu_per_chunk(records, writes, cpu_samples)
    return {
        "streams": streams,
        "tokens_per_s": rate,
        "tokens_per_stream": tokens,
        "complete": complete,
        "delivered_over_offered": round(min(delivered), 3) if delivered else None,
        "delivered_over_offered_mean": round(sum(delivered) / len(delivered), 3) if delivered else None,
        "upstream_kept_pace": round(min(upstream_pace), 3) if upstream_pace else None,
        "token_latency_ms": {"p50": ms(pct(lat, 0.5)), "p99": ms(pct(lat, 0.99)), "max": ms(max(lat, default=None))},
        "loop_lag_ms": stats["loop_lag_ms"],
        "server_cpu_pct": round(cpu / wall * 100, 1),
        "server_cpu_us_per_chunk": round(cpu / max(chunks, 1) * 1e6, 1),
        "server_cpu_us_per_chunk_steady": steady,
        "load_generator_cpu_pct": round((up_cpu + bench_cpu) / wall * 100, 1),
        "server_rss_mb_max": round(max(rss, default=0.0), 1),
        "frames_per_s_per_turn_max": max(fps, default=None),
        "db_writes": turn_writes(stats),
        "db_writes_of_the_process": process_writes(stats),
        "db_writes_by_what": stats.get("writes_by_what"),
        "wall_s": round(wall, 2),
    }


def steady_cpu_per_chunk(
    records: list[TurnRecord], writes: dict[str, list[float]], samples: list[tuple[float, float]]
) -> float | None:
    """Server CPU per upstream chunk while every stream is mid-flight: no turn is
    starting or finishing (their database work and final render are per turn, not
    per chunk), counted from the chunks the provider wrote inside that window."""
    firsts = [w[1] for w in writes.values() if len(w) > 2]
    lasts = [w[-2] for w in writes.values() if len(w) > 2]
    if not firsts or len(firsts) < len(records):
        return None
    lo, hi = max(firsts) + 0.5, min(lasts) - 0.5
    inside = [(t, c) for t, c in samples if lo <= t <= hi]
    if hi - lo < 1.0 or len(inside) < 2:
        return None
    (t0, c0), (t1, c1) = inside[0], inside[-1]
    chunks = sum(sum(1 for t in w[1:-1] if t0 <= t <= t1) for w in writes.values())
    return round((c1 - c0) / max(chunks, 1) * 1e6, 1)


async def stalled_client(server: Server, upstream: Upstream, seconds: float) -> dict[str, Any]:
    """One client stops reading a 2,000 tokens/s stream: does the server's memory hold?"""
    rate = 2000.0
    tokens = int(rate * seconds)
    (conv,) = server.take_conversations(1)
    sock = await Socket(server, conv).open(max_queue=1)
    record = TurnRecord(f"stall-{time.monotonic_ns()}", tokens - 100, 100, rate)
    rss: list[tuple[float, float]] = []
    await sock.send(record)
    t0 = time.monotonic()
    # Read the turn's start only, then stop reading.
    while record.turn is None:
        sock.handle(record, await sock.ws.recv(), time.monotonic())
    while time.monotonic() - t0 < seconds + 2:
        rss.append((round(time.monotonic() - t0, 1), round(server.rss_mb(), 1)))
        await asyncio.sleep(1.0)
    # Read again: the turn must arrive whole.
    await sock.receive(record, timeout=60)
    await sock.close()
    await upstream.times([record.tag])
    values = [v for _, v in rss]
    return {
        "seconds": seconds,
        "tokens": tokens,
        "rss_mb_start": values[0],
        "rss_mb_max": max(values),
        "rss_mb_end": values[-1],
        "rss_growth_mb": round(max(values) - values[0], 1),
        "turn_whole_after_resume": record.done_at is not None and record.r_len == (tokens - 100) * TOKEN_CHARS,
        "samples": rss,
    }


async def small_turn(server: Server, upstream: Upstream) -> dict[str, Any]:
    """A 100-token turn at 50 tokens/s: queries, writes, bytes to the browser.

    Twice: once on a socket that offers permessage-deflate as browsers do (the
    bytes on the wire are the figure), once without (the messages' own size)."""
    out: dict[str, Any] = {"tokens": 100}
    text = 100 * TOKEN_CHARS
    for deflate in (False, True):
        sock = await Socket(server, server.take_conversations(1)[0]).open(deflate=deflate)
        await server.stats(reset=True)
        wire0 = sock.wire_bytes
        record = await sock.turn(TurnRecord(f"small-{time.monotonic_ns()}", 50, 50, 50))
        stats = await server.stats()
        await sock.close()
        await upstream.times([record.tag])
        if deflate:
            out["deflate_negotiated"] = sock.deflated
            out["deflate_turn_whole"] = record.done_at is not None and record.r_len + record.c_len == text
            out["wire_bytes_deflate"] = sock.wire_bytes - wire0
            out["wire_bytes_over_text"] = round((sock.wire_bytes - wire0) / text, 2)
            continue
        streaming_s = (record.frames[-1][0] - record.frames[0][0]) if record.frames else 0.0
        out.update({
            "streaming_s": round(streaming_s, 2),
            "db_queries": stats["queries"],
            "db_writes": turn_writes(stats),
            "db_writes_of_the_process": process_writes(stats),
            "db_writes_by_what": stats.get("writes_by_what"),
            "db_writes_budget": round(5 + streaming_s, 1),
            "bytes_to_browser": record.bytes,
            "bytes_over_text": round(record.bytes / text, 2),
            "wire_bytes_plain": sock.wire_bytes - wire0,
            "frames": len(record.frames),
        })
    return out


def cpu_of(pid: int) -> float:
    return proc_cpu_seconds(pid)


async def turn_cost(server: Server, upstream: Upstream, turns: int = 30) -> dict[str, Any]:
    """Fixed CPU per turn: `turns` 50-token turns, unpaced, one after another, each
    on a socket opened beforehand; the server's CPU over all of them, per turn.
    The 50 chunks' relay cost is in it too (a few hundred µs of it)."""
    sockets = await open_sockets(server, server.take_conversations(turns + 1))
    await sockets[-1].turn(TurnRecord("warm-cost", 25, 25, 0))
    await server.stats(reset=True)
    cpu0 = server.cpu_seconds()
    records = []
    for i, sock in enumerate(sockets[:turns]):
        records.append(await sock.turn(TurnRecord(f"cost-{i}-{time.monotonic_ns()}", 25, 25, 0)))
    cpu = server.cpu_seconds() - cpu0
    stats = await server.stats()
    await asyncio.gather(*(s.close() for s in sockets))
    await upstream.times([r.tag for r in records] + ["warm-cost"])
    from bench.gateway import per_turn_parts

    return {
        "turns": turns,
        "tokens_per_turn": 50,
        "complete": sum(1 for r in records if r.done_at is not None and not r.error),
        "server_cpu_ms_per_turn": round(cpu / turns * 1000, 2),
        # Data statements, as tests/playground/test_turn_queries.py counts them; BEGIN,
        # COMMIT and savepoints apart.
        "db_queries_per_turn": round(sum(stats["queries"].get(k, 0) for k in DATA_KINDS) / turns, 1),
        "db_transaction_statements_per_turn": round(stats["queries"].get("transaction", 0) / turns, 1),
        "db_queries_by_kind": stats["queries"],
        "parts_per_turn": per_turn_parts(stats, turns),
    }


async def burst(server: Server, upstream: Upstream, turns: int = 200) -> dict[str, Any]:
    """`turns` turns started at the same moment (sockets opened beforehand): the
    time from each send to its first frame, the provider answering at once."""
    sockets = await open_sockets(server, server.take_conversations(turns))
    records = [TurnRecord(f"burst-{i}-{time.monotonic_ns()}", 10, 10, 50) for i in range(turns)]
    await asyncio.gather(*(s.turn(r, timeout=120) for s, r in zip(sockets, records, strict=True)))
    await asyncio.gather(*(s.close() for s in sockets))
    await upstream.times([r.tag for r in records])
    first = [r.first_r_at - r.sent_at for r in records if r.first_r_at is not None]
    return {
        "turns": turns,
        "complete": sum(1 for r in records if r.done_at is not None and not r.error),
        "first_frame_ms": {
            "p50": ms(pct(first, 0.5)), "p99": ms(pct(first, 0.99)), "max": ms(max(first, default=None))
        },
    }
