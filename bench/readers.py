"""Upstream readers alone: CPU per chunk of N paced SSE streams read by one process.

    python -m bench.readers                               # every variant, 50 × 50 tok/s, 6 s
    python -m bench.readers --variants httpx,httpx-aiohttp --streams 50 --rate 50

The candidates for the relay's upstream read (issue 11, point 3), measured rather
than argued. Each variant runs in a fresh process pinned to the server's core,
opens `--streams` streams at once (spread over one second) against the bench's
fake provider (`bench.upstream_proc`, on the other core), and decodes every
stream with `reasoning.wire.iter_sse` and `json.loads`, as an adapter does. The
figure is the process's CPU (user + system) per upstream chunk while every
stream is mid-flight, the same window `relay.steady_cpu_per_chunk` uses.

Variants:

* `httpx`          httpx 0.28 with its default transport (httpcore → anyio → h11)
* `httpx-aiohttp`  the same `httpx.AsyncClient` API over `httpx_aiohttp.AiohttpTransport`
* `httpx-ours`     the same API over `reasoning.transport.AiohttpTransport`, the
                   playground's own aiohttp transport (our error mapping and pool)
* `httpx2`         httpx2, the successor line the official SDKs moved to
* `aiohttp`        bare aiohttp (no httpx API): the floor of this family
* `…+paced`        any of the above, but once the first chunk is out, reads at most
                   once per frame window (40 ms): fewer, larger reads
* `…+uvloop`       any of the above on uvloop's event loop

Run from `python -m bench` (section `readers`), the bare-httpx figure is also the
denominator of the budget line "CPU per chunk ÷ bare httpx".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from bench.harness import PY, ROOT, SERVER_CORES, Upstream, _pinned, prompt

FRAME_WINDOW = 0.04
VARIANTS = (
    "httpx", "httpx-ours", "httpx-aiohttp", "httpx2", "aiohttp", "httpx+paced", "httpx-ours+paced",
    "httpx+uvloop", "httpx-ours+uvloop",
)


def _client(kind: str) -> Any:
    if kind == "httpx":
        import httpx

        return httpx.AsyncClient(timeout=httpx.Timeout(600, connect=10))
    if kind == "httpx-aiohttp":
        import httpx
        from httpx_aiohttp import AiohttpTransport

        return httpx.AsyncClient(timeout=httpx.Timeout(600, connect=10), transport=AiohttpTransport())
    if kind == "httpx-ours":
        from reasoning.wire import make_client

        return make_client(backend="aiohttp")
    if kind == "httpx2":
        import httpx2

        return httpx2.AsyncClient(timeout=httpx2.Timeout(600, connect=10))
    raise ValueError(kind)


async def _pace(woke: float) -> float:
    """Wait out the rest of the frame window, unless this piece came out of data
    already buffered when we woke (httpx yields one piece per HTTP chunk, several
    per socket read). Returns when we last woke."""
    now = time.monotonic()
    if now - woke < 0.002:
        return woke
    await asyncio.sleep(max(0.0, woke + FRAME_WINDOW - now))
    return time.monotonic()


async def _consume(pieces: Any, paced: bool, count: list[int], times: list[float] | None = None) -> None:
    from reasoning.wire import SSEDecoder

    decoder = SSEDecoder()
    woke = 0.0
    async for raw in pieces:
        for event in decoder.feed(raw.decode()):
            if event.data != "[DONE]":
                chunk = json.loads(event.data)
                count[0] += 1
                if times is not None and _has_text(chunk):  # the i-th chunk of text is the provider's i-th
                    times.append(time.monotonic())
        if paced:
            woke = await _pace(woke)


def _has_text(chunk: dict[str, Any]) -> bool:
    delta = (chunk.get("choices") or [{}])[0].get("delta") or {}
    return bool(delta.get("reasoning_content") or delta.get("content"))


async def _read_httpx_like(client: Any, url: str, body: dict[str, Any], paced: bool, count: list[int],
                           times: list[float] | None = None) -> None:
    async with client.stream("POST", url, json=body) as response:
        await _consume(response.aiter_bytes(), paced, count, times)


async def _read_aiohttp(session: Any, url: str, body: dict[str, Any], paced: bool, count: list[int],
                        times: list[float] | None = None) -> None:
    async with session.post(url, json=body) as response:
        await _consume(response.content.iter_any(), paced, count, times)


def _body(tag: str, r: int, c: int, rate: float) -> dict[str, Any]:
    return {"model": "bench-model", "stream": True, "messages": [{"role": "user", "content": prompt(tag, r, c, rate)}]}


async def _worker(variant: str, base: str, streams: int, rate: float, seconds: float,
                  tag: str | None = None) -> dict[str, Any]:
    """`tag`: issue 23's /v1 workload instead (bench.api_peers): every stream at once,
    `rate * seconds` chunks each, the process's CPU over the whole load, and when
    each chunk was read (per stream `{tag}-{i}`)."""
    if tag is not None:
        return await _whole_load(variant, base, streams, rate, seconds, tag)
    kind, _, flags = variant.partition("+")
    paced = "paced" in flags.split("+")
    tokens = max(2, int(rate * seconds))
    url = base + "/v1/chat/completions"
    count = [0]
    samples: list[tuple[float, float, int]] = []
    starts: list[float] = []
    ends: list[float] = []

    if kind == "aiohttp":
        import aiohttp

        client: Any = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000))
        read = _read_aiohttp
    else:
        client = _client(kind)
        read = _read_httpx_like

    async def one(i: int) -> None:
        await asyncio.sleep(i / streams)
        body = _body(f"rd-{variant}-{i}", tokens - tokens // 10, tokens // 10, rate)
        starts.append(time.monotonic())
        await read(client, url, body, paced, count)
        ends.append(time.monotonic())

    async def sample() -> None:
        while True:
            samples.append((time.monotonic(), time.process_time(), count[0]))
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    # A warm-up stream: imports, the first connection, the parser's first call.
    await read(client, url, _body("rd-warm", 5, 5, 0), False, [0])
    await asyncio.gather(*(one(i) for i in range(streams)))
    sampler.cancel()
    if kind == "aiohttp":
        await client.close()
    else:
        await client.aclose()
    # Mid-stream: every stream started (plus ramp-up), none ended yet.
    lo, hi = max(starts) + 0.5, min(ends) - 0.5
    inside = [s for s in samples if lo <= s[0] <= hi]
    if len(inside) < 2:
        return {"variant": variant, "cpu_us_per_chunk": None, "chunks": count[0]}
    (_, c0, n0), (_, c1, n1) = inside[0], inside[-1]
    return {
        "variant": variant,
        "streams": streams,
        "tokens_per_s": rate,
        "cpu_us_per_chunk": round((c1 - c0) / max(n1 - n0, 1) * 1e6, 1),
        "cpu_pct": round((c1 - c0) / (inside[-1][0] - inside[0][0]) * 100, 1),
        "chunks": count[0],
    }


async def _whole_load(variant: str, base: str, streams: int, rate: float, seconds: float, tag: str) -> dict[str, Any]:
    kind = variant.partition("+")[0]  # "+uvloop" picks the loop in main()
    tokens = max(2, int(rate * seconds))
    r, c = tokens - tokens // 20, tokens // 20  # as bench.api_load's workload
    url = base + "/v1/chat/completions"
    if kind == "aiohttp":
        import aiohttp

        client: Any = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        read = _read_aiohttp
    else:
        client = _client(kind)
        read = _read_httpx_like
    await read(client, url, _body(f"{tag}-warm", 5, 5, 0), False, [0])
    times: dict[str, list[float]] = {f"{tag}-{i}": [] for i in range(streams)}
    count = [0]
    cpu0 = time.process_time()
    await asyncio.gather(*(read(client, url, _body(t, r, c, rate), False, count, got) for t, got in times.items()))
    cpu = time.process_time() - cpu0
    if kind == "aiohttp":
        await client.close()
    else:
        await client.aclose()
    return {"variant": variant, "cpu_s": cpu, "chunks_read": count[0], "arrivals": times}


def run_variant(upstream: Upstream, variant: str, streams: int, rate: float, seconds: float,
                tag: str | None = None) -> dict[str, Any]:
    """One variant in a fresh process on the server's core."""
    out = subprocess.run(
        [PY, "-m", "bench.readers", "--worker", variant, "--upstream", upstream.url,
         "--streams", str(streams), "--rate", str(rate), "--seconds", str(seconds),
         *(["--tag", tag] if tag else [])],
        cwd=ROOT, capture_output=True, text=True, preexec_fn=_pinned(SERVER_CORES), timeout=seconds * 4 + 60,
    )
    if out.returncode != 0:
        return {"variant": variant, "error": out.stderr[-1500:]}
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


async def run(
    upstream: Upstream, variants: list[str], streams: int = 50, rate: float = 50, seconds: float = 5,
    rounds: int = 3,
) -> dict[str, Any]:
    """Every variant `rounds` times, in an order rotated each round, so that a
    change in the machine's load lands on all of them. Each variant's figure is
    the least of its rounds (other jobs and a VM's stolen time only ever add to a
    process's CPU time), and its ratio is to bare httpx's least."""
    per: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for n in range(rounds):
        order = variants[n % len(variants):] + variants[: n % len(variants)]
        for v in order:
            per[v].append(await asyncio.to_thread(run_variant, upstream, v, streams, rate, seconds))
            await upstream.times([f"rd-{v}-{i}" for i in range(streams)] + ["rd-warm"])  # discard
    results = []
    floor = _least([r.get("cpu_us_per_chunk") for r in per.get("httpx", [])])
    for v in variants:
        cpus = [r["cpu_us_per_chunk"] for r in per[v] if r.get("cpu_us_per_chunk")]
        # The least of the rounds: a shared machine only ever adds to a CPU figure.
        row: dict[str, Any] = {"variant": v, "cpu_us_per_chunk": _least(cpus), "rounds": cpus}
        if floor and row["cpu_us_per_chunk"]:
            row["over_httpx"] = round(row["cpu_us_per_chunk"] / floor, 3)
        errors = [r["error"] for r in per[v] if "error" in r]
        if errors:
            row["error"] = errors[0]
        results.append(row)
    return {"streams": streams, "tokens_per_s": rate, "seconds": seconds, "rounds": rounds, "variants": results}


def _least(values: list[Any]) -> float | None:
    present = [v for v in values if v]
    return min(present) if present else None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.readers", description=__doc__)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    parser.add_argument("--tag", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if "uvloop" in args.worker.split("+"):
            import uvloop

            runner: Any = uvloop.run
        else:
            runner = asyncio.run
        print(json.dumps(runner(_worker(args.worker, args.upstream, args.streams, args.rate, args.seconds, args.tag))))
        return
    from bench.harness import pin_self

    pin_self()
    upstream = Upstream()
    try:
        variants = [v.strip() for v in args.variants.split(",") if v.strip()]
        out = asyncio.run(run(upstream, variants, args.streams, args.rate, args.seconds, args.rounds))
    finally:
        upstream.close()
    for r in out["variants"]:
        print(f"{r['variant']:28} {r.get('cpu_us_per_chunk')!s:>8} µs/chunk  ×{r.get('over_httpx', '-')}  "
              f"rounds {r['rounds']}  {r.get('error', '')}", flush=True)
    print(json.dumps(out), file=sys.stderr)


if __name__ == "__main__":
    main()
