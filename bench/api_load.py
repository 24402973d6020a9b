"""Issue 23's workload through `/v1/chat/completions`: N streams × M chunks at R
chunks/s, all at once, on the real server (pinned to one core), read by a lean
aiohttp client on the other core.

* **CPU per chunk**: the server's CPU (process accounting, all threads) over the
  whole load, divided by the upstream chunks it relayed; set beside bare readers
  of the same streams (`bench.readers`: httpx, aiohttp, aiohttp on uvloop) in
  the same run.
* **Lateness per chunk**: when the client read a chunk's text, less when the fake
  provider wrote that chunk (one monotonic clock for the machine): p50 / p99.
* **RSS over repetitions** (`memory`): the same load again and again in one server
  process; RSS after each repetition, after a warm-up (issue 23.4: growth ≤ 10 MB
  over ten).

    python -m bench --only api,memory
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import orjson

from bench.gateway import MODEL, token_for
from bench.harness import Server, Upstream, ms, pct, prompt
from bench.upstream_proc import TOKEN_CHARS


async def _read(session: Any, url: str, body: dict[str, Any], headers: dict[str, str]) -> list[tuple[float, int, int]]:
    """(arrival time, reasoning characters so far, answer characters so far) per SSE chunk with text."""
    out: list[tuple[float, int, int]] = []
    r = c = 0
    buffer = b""
    async with session.post(url, json=body, headers=headers) as response:
        response.raise_for_status()
        async for data in response.content.iter_any():
            now = time.monotonic()
            buffer += data
            *events, buffer = buffer.split(b"\n\n")
            moved = False
            for event in events:
                if not event.startswith(b"data: {"):
                    continue
                choices = orjson.loads(event[6:]).get("choices") or ()
                for choice in choices:
                    delta = choice.get("delta") or {}
                    if text := delta.get("reasoning_content"):
                        r += len(text)
                        moved = True
                    if text := delta.get("content"):
                        c += len(text)
                        moved = True
            if moved:
                out.append((now, r, c))
    return out


def _latencies(
    arrivals: list[tuple[float, int, int]], writes: list[float], r_tokens: int, c_tokens: int
) -> list[float]:
    out: list[float] = []
    r_done = c_done = 0
    for t, r_len, c_len in arrivals:
        r_now, c_now = min(r_len // TOKEN_CHARS, r_tokens), min(c_len // TOKEN_CHARS, c_tokens)
        out += [t - writes[1 + i] for i in range(r_done, r_now)]
        out += [t - writes[1 + r_tokens + j] for j in range(c_done, c_now)]
        r_done, c_done = max(r_done, r_now), max(c_done, c_now)
    return out


async def load(
    server: Any, upstream: Upstream, token: str, *, streams: int, chunks: int, rate: float, tag: str,
    model: str = MODEL,
) -> dict[str, Any]:
    """`streams` streams of `chunks` chunks at `rate` chunks/s, started together.

    `server`: anything with `url`, `cpu_seconds()` and `rss_mb()`: the playground's
    `Server`, or a peer relay (bench.peers.LiteLLMProxy) serving `model`."""
    import aiohttp

    r_tokens, c_tokens = chunks - chunks // 20, chunks // 20
    url = server.url + "/v1/chat/completions"
    headers = {"authorization": f"Bearer {token}"}
    tags = [f"{tag}-{i}-{time.monotonic_ns()}" for i in range(streams)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        cpu0 = server.cpu_seconds()
        # The playground's server tells how long it waited for its core (a peer relay does not).
        waited = getattr(server, "run_delay_seconds", lambda: 0.0)
        waited0 = waited()
        results = await asyncio.gather(
            *(
                _read(session, url, {"model": model, "stream": True,
                                     "messages": [{"role": "user", "content": prompt(t, r_tokens, c_tokens, rate)}]},
                      headers)
                for t in tags
            ),
            return_exceptions=True,
        )
        await asyncio.sleep(0.3)  # the runs' final saves follow the last chunk
        cpu = server.cpu_seconds() - cpu0
        run_delay = waited() - waited0
    writes = await upstream.times(tags)
    lateness: list[float] = []
    complete = 0
    upstream_chunks = 0
    for t, arrivals in zip(tags, results, strict=True):
        w = writes.get(t)
        if isinstance(arrivals, BaseException) or not w:
            continue
        upstream_chunks += len(w) - 2
        if arrivals and arrivals[-1][1:] == (r_tokens * TOKEN_CHARS, c_tokens * TOKEN_CHARS):
            complete += 1
        lateness += _latencies(arrivals, w, r_tokens, c_tokens)
    errors = [repr(r)[:300] for r in results if isinstance(r, BaseException)]
    return {
        "streams": streams,
        "chunks_per_stream": chunks,
        "chunks_per_s": rate,
        "complete": complete,
        "upstream_chunks": upstream_chunks,
        "server_cpu_us_per_chunk": round(cpu / max(upstream_chunks, 1) * 1e6, 1),
        "lateness_ms": {"p50": ms(pct(lateness, 0.5)), "p90": ms(pct(lateness, 0.9)), "p99": ms(pct(lateness, 0.99)),
                        "max": ms(max(lateness, default=None))},
        "server_rss_mb": round(server.rss_mb(), 1),
        # Time the server's threads waited for a core during the load (0 for a peer):
        # beside the load's length, how much of its lateness was the machine's.
        "server_run_delay_s": round(run_delay, 3),
        **({"errors": errors[:3]} if errors else {}),
    }


async def run(server: Server, upstream: Upstream, streams: int = 40, chunks: int = 400, rate: float = 50,
              rounds: int = 3) -> dict[str, Any]:
    """The workload `rounds` times (least CPU, median lateness of the rounds)."""
    token = token_for(server)
    await load(server, upstream, token, streams=4, chunks=20, rate=0, tag="api-warm")
    per = [await load(server, upstream, token, streams=streams, chunks=chunks, rate=rate, tag=f"api-{n}")
           for n in range(rounds)]
    cpus = sorted(r["server_cpu_us_per_chunk"] for r in per)
    p50s = sorted(r["lateness_ms"]["p50"] or 0 for r in per)
    p99s = sorted(r["lateness_ms"]["p99"] or 0 for r in per)
    return {
        "streams": streams, "chunks_per_stream": chunks, "chunks_per_s": rate, "rounds": per,
        "server_cpu_us_per_chunk": cpus[0],
        "lateness_p50_ms": p50s[len(p50s) // 2],
        "lateness_p99_ms": p99s[len(p99s) // 2],
        "complete": all(r["complete"] == streams for r in per),
    }


async def memory(server: Server, upstream: Upstream, streams: int = 40, chunks: int = 400, rate: float = 50,
                 warmup: int = 2, repetitions: int = 10) -> dict[str, Any]:
    """RSS of one server process after each repetition of the same load."""
    import httpx

    token = token_for(server)
    rss: list[float] = []
    inside: list[dict[str, Any]] = []
    for n in range(warmup + repetitions):
        await load(server, upstream, token, streams=streams, chunks=chunks, rate=rate, tag=f"mem-{n}")
        await asyncio.sleep(1.0)  # checkpoints, final saves and sockets settle
        rss.append(round(server.rss_mb(), 1))
        # What the server holds after the round (bench/serve.py): which part grows.
        async with httpx.AsyncClient(timeout=30) as client:
            seen = (await client.get(f"{server.url}/__bench__/memory")).json()
        heap = seen["mallinfo2_kb"]
        inside.append({
            "anon_mb": round(seen["rss_kb"]["Anonymous"] / 1024, 1),
            "heap_used_mb": round(heap["uordblks"] / 1024, 1), "heap_free_mb": round(heap["fordblks"] / 1024, 1),
            "threads": len(seen["threads"]), "sqlite_files": seen["sqlite_files"], "runs": seen["runs"],
            "layer_groups": seen["layer_groups"], "layer_channels": seen["layer_channels"],
        })
        gc.collect()  # ours (the client's), so the bench process stays small too
    after = rss[warmup:]
    return {
        "streams": streams, "chunks_per_stream": chunks, "chunks_per_s": rate,
        "warmup": warmup, "repetitions": repetitions,
        "rss_mb": rss,
        "server_after_each": inside,
        "growth_after_warmup_mb": round(after[-1] - after[0], 1),
        "spread_after_warmup_mb": round(max(after) - min(after), 1),
    }
