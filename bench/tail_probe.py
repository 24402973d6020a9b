"""Where a /v1 load's lateness tail comes from (issue 23.1: 200 streams a process).

    python -m bench.tail_probe [--streams 200] [--rounds 2] [--env NAME=VALUE ...]

One server (bench.serve with its GC meter on), the /v1 workload of `bench.api_load`
(N streams × 400 chunks at 50 chunks/s, all at once), and beside each chunk's
lateness what the processes were doing when it was written: the server's share of
its core, the fake provider's and this client's (the two share the other core),
the server's event-loop stalls over 5 ms and its garbage collections. Printed per
half second of the load, then where the chunks over the p99 limit fall: the load's
start (the turns' fixed cost), its middle, its end.

A measurement aid, as `bench.relay_parts`; `python -m bench` does not run it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import httpx

from bench import api_load
from bench.gateway import MODEL, token_for
from bench.harness import Server, Upstream, pct, pin_self, proc_cpu_seconds, prompt
from bench.upstream_proc import TOKEN_CHARS

BUCKET = 0.5


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


async def _sample(server: Server, upstream: Upstream, out: list[tuple[float, float, float, float, float]],
                  stop: asyncio.Event) -> None:
    while not stop.is_set():
        out.append((time.monotonic(), server.cpu_seconds(), proc_cpu_seconds(upstream.proc.pid), _own_cpu(),
                    server.run_delay_seconds()))
        await asyncio.sleep(0.1)


async def load(server: Server, upstream: Upstream, token: str, streams: int, chunks: int, rate: float,
               tag: str) -> dict[str, Any]:
    import aiohttp

    r_tokens, c_tokens = chunks - chunks // 20, chunks // 20
    url = server.url + "/v1/chat/completions"
    headers = {"authorization": f"Bearer {token}"}
    tags = [f"{tag}-{i}-{time.monotonic_ns()}" for i in range(streams)]
    samples: list[tuple[float, float, float, float, float]] = []
    stop = asyncio.Event()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sampler = asyncio.create_task(_sample(server, upstream, samples, stop))
        t0 = time.monotonic()
        results = await asyncio.gather(*(
            api_load._read(session, url, {"model": MODEL, "stream": True, "messages": [
                {"role": "user", "content": prompt(t, r_tokens, c_tokens, rate)}]}, headers)
            for t in tags), return_exceptions=True)
        await asyncio.sleep(0.3)
        stop.set()
        await sampler
    writes = await upstream.times(tags)
    async with httpx.AsyncClient(timeout=30) as client:
        timeline = (await client.get(f"{server.url}/__bench__/timeline")).json()
    # (write time, lateness) of every chunk, as api_load measures it.
    chunks_at: list[tuple[float, float]] = []
    heads: list[float] = []
    for t, arrivals in zip(tags, results, strict=True):
        w = writes.get(t)
        if isinstance(arrivals, BaseException) or not w:
            continue
        heads.append(w[0])
        r_done = c_done = 0
        for at, r_len, c_len in arrivals:
            r_now, c_now = min(r_len // TOKEN_CHARS, r_tokens), min(c_len // TOKEN_CHARS, c_tokens)
            chunks_at += [(w[1 + i], at - w[1 + i]) for i in range(r_done, r_now)]
            chunks_at += [(w[1 + r_tokens + j], at - w[1 + r_tokens + j]) for j in range(c_done, c_now)]
            r_done, c_done = max(r_done, r_now), max(c_done, c_now)
    late = [x for _, x in chunks_at]
    p99 = pct(late, 0.99) or 0.0
    end = max((w for w, _ in chunks_at), default=t0)
    buckets: list[dict[str, Any]] = []
    at = t0
    while at < end + BUCKET:
        inside = [x for w, x in chunks_at if at <= w < at + BUCKET]
        s = [x for x in samples if at <= x[0] < at + BUCKET]
        cpu = [round((b[i] - a[i]) / (b[0] - a[0]) * 100) for i in (1, 2, 3) for a, b in [(s[0], s[-1])]] \
            if len(s) > 1 else [None, None, None]
        stalls = [lag for when, lag, _ in timeline["stalls"] if at <= when < at + BUCKET]
        # A stall is the process's own work when it had the CPU for most of it.
        worked = [lag for when, lag, cpu in timeline["stalls"] if at <= when < at + BUCKET and cpu >= 0.8 * lag]
        gcs = [(g, round(cpu * 1000, 1)) for when, g, _, cpu, _ in timeline["collections"] if at <= when < at + BUCKET]
        buckets.append({
            "t": round(at - t0, 1), "chunks": len(inside),
            "p50_ms": round((pct(inside, 0.5) or 0) * 1000, 1), "p99_ms": round((pct(inside, 0.99) or 0) * 1000, 1),
            "over_p99": sum(x >= p99 for x in inside),
            "heads": sum(at <= h < at + BUCKET for h in heads),
            "cpu_server_upstream_client": cpu,
            # Of the half second, the share the server's threads waited for a core.
            "server_waited_pct": round((s[-1][4] - s[0][4]) / (s[-1][0] - s[0][0]) * 100) if len(s) > 1 else None,
            "stalls": len(stalls), "stall_max_ms": round(max(stalls, default=0) * 1000, 1),
            "busy_stall_max_ms": round(max(worked, default=0) * 1000, 1),
            "gc_gen0": sum(g == 0 for g, _ in gcs), "gc_ms": round(sum(ms for _, ms in gcs), 1),
            "gc_gen12": [x for x in gcs if x[0] > 0],
        })
        at += BUCKET
    return {
        "streams": streams, "chunks": len(chunks_at),
        "p50_ms": round((pct(late, 0.5) or 0) * 1000, 1), "p99_ms": round(p99 * 1000, 1),
        "heads_spread_ms": round((max(heads) - min(heads)) * 1000, 1) if heads else None,
        "buckets": buckets,
        "stalls_over_50ms": sum(lag > 0.05 for _, lag, _ in timeline["stalls"]),
        "busy_stalls_over_50ms": sum(lag > 0.05 and cpu >= 0.8 * lag for _, lag, cpu in timeline["stalls"]),
        "collections": len(timeline["collections"]),
        "gc_ms_total": round(sum(c[2] for c in timeline["collections"]) * 1000, 1),
        "gc_cpu_ms_total": round(sum(c[3] for c in timeline["collections"]) * 1000, 1),
        "gc_cpu_ms_max": round(max((c[3] for c in timeline["collections"]), default=0) * 1000, 1),
        "busy_stalls": [(round(when - t0, 2), round(lag * 1000), round(cpu * 1000))
                        for when, lag, cpu in timeline["stalls"] if lag > 0.02 and cpu >= 0.8 * lag],
        "gc_by_generation": {g: sum(c[1] == g for c in timeline["collections"]) for g in (0, 1, 2)},
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--chunks", type=int, default=400)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--env", action="append", default=[])
    args = parser.parse_args()
    pin_self()
    env = {"BENCH_GC_METER": "1", **dict(e.split("=", 1) for e in args.env)}
    upstream = Upstream()
    server = Server(upstream, conversations=10, env=env)
    try:
        token = token_for(server)
        await api_load.load(server, upstream, token, streams=4, chunks=20, rate=0, tag="tp-warm")
        async with httpx.AsyncClient() as client:
            await client.get(f"{server.url}/__bench__/timeline")
        for n in range(args.rounds):
            r = await load(server, upstream, token, args.streams, args.chunks, args.rate, f"tp{n}")
            print(json.dumps({k: v for k, v in r.items() if k != "buckets"}))
            for b in r["buckets"]:
                print("  ", json.dumps(b))
    finally:
        server.close()
        upstream.close()


if __name__ == "__main__":
    asyncio.run(main())
