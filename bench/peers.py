"""A peer in the bench: the LiteLLM proxy reading the same fake provider.

    python -m bench --peers            # playground and LiteLLM, one run, side by side

Opt-in (never part of `make test` or a plain `python -m bench`): the first run
makes a virtualenv at `bench/.peers-venv/` (gitignored) and installs the pinned
`litellm[proxy]==LITELLM_VERSION` from PyPI into it; later runs reuse it.

Both relays get the same workload from the same fake provider process
(`bench.upstream_proc`), pinned to the same core, one after the other in one run:

* **paced**: `PACED_STREAMS` streams at 50 tokens/s; CPU per upstream chunk while
  every stream is mid-flight, p99 lateness per token (client receive − provider
  write, one clock), the relay's RSS;
* **unpaced**: one `UNPACED_TOKENS`-token stream as fast as it goes; CPU per chunk
  over the whole stream.

The playground is the real server (`harness.Server`) with browser-like websocket
clients; LiteLLM is `litellm --config … --num_workers 1` (uvicorn, one process)
with OpenAI-SDK-like streaming HTTP clients (httpx) on `/v1/chat/completions`,
its model pointing at the fake provider's `/v1`. Each relay does its product's
whole job for a chunk: the playground parses it, coalesces it into frames and
renders HTML to the socket; LiteLLM parses it and re-serialises an OpenAI chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import relay
from bench.harness import (
    ROOT,
    SERVER_CORES,
    Server,
    Upstream,
    _pinned,
    free_port,
    ms,
    pct,
    proc_cpu_seconds,
    proc_rss_mb,
    prompt,
    stop,
    wait_until_up,
)

LITELLM_VERSION = "1.80.11"  # installs on Python 3.11 here; 2025-12, before the 2026 PyPI incident releases
VENV = ROOT / "bench" / ".peers-venv"
PACED_STREAMS = 20
PACED_RATE = 50.0
UNPACED_TOKENS = 10_000


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ensure_litellm() -> Path:
    """The `litellm` command of bench/.peers-venv, installed at the pinned version."""
    exe = VENV / "bin" / "litellm"
    python = VENV / "bin" / "python"
    if exe.exists():
        found = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            capture_output=True, text=True,
        ).stdout.strip()
        if found == LITELLM_VERSION:
            return exe
        log(f"bench/.peers-venv has litellm {found or '?'}; installing {LITELLM_VERSION}")
    else:
        log(f"installing litellm[proxy]=={LITELLM_VERSION} into bench/.peers-venv (once)")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"litellm[proxy]=={LITELLM_VERSION}"], check=True
    )
    return exe


class LiteLLMProxy:
    def __init__(self, exe: Path, upstream: Upstream) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-litellm-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = self.dir / "config.yaml"
        config.write_text(
            "model_list:\n"
            "  - model_name: bench-model\n"
            "    litellm_params:\n"
            "      model: openai/bench-model\n"
            f"      api_base: {upstream.url}/v1\n"
            "      api_key: sk-bench-not-a-key\n"
        )
        env = {
            **os.environ,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the price list at start
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            "DISABLE_SCHEMA_UPDATE": "True",
        }
        for name in ("DATABASE_URL", "REDIS_URL", "PYTHONPATH"):
            env.pop(name, None)
        self.log = open(self.dir / "litellm.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(self.port), "--num_workers", "1"],
            cwd=self.dir, env=env, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_pinned(SERVER_CORES),
        )
        wait_until_up(f"{self.url}/health/liveliness", self.proc, 120, self._failed)

    def _failed(self) -> str:
        self.log.flush()
        return f"litellm did not start: {(self.dir / 'litellm.log').read_text()[-2000:]}"

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.proc.pid)

    def rss_mb(self) -> float:
        return proc_rss_mb(self.proc.pid)

    def close(self) -> None:
        stop(self.proc)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


async def _one_stream(client: httpx.AsyncClient, url: str, tag: str, r: int, c: int, rate: float) -> list[float]:
    """Arrival time of every content/reasoning chunk LiteLLM relays."""
    body = {
        "model": "bench-model",
        "stream": True,
        "messages": [{"role": "user", "content": prompt(tag, r, c, rate)}],
    }
    arrivals: list[float] = []
    async with client.stream("POST", url + "/v1/chat/completions", json=body,
                             headers={"Authorization": "Bearer sk-anything"}) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            delta = (json.loads(line[6:]).get("choices") or [{}])[0].get("delta") or {}
            if delta.get("content") or delta.get("reasoning_content"):
                arrivals.append(time.monotonic())
    return arrivals


async def litellm_paced(proxy: LiteLLMProxy, upstream: Upstream, streams: int, rate: float,
                        seconds: float) -> dict[str, Any]:
    tokens = max(2, int(rate * seconds))
    r, c = tokens - tokens // 10, tokens // 10
    tags = [f"ll-{streams}-{i}-{time.monotonic_ns()}" for i in range(streams)]
    samples: list[tuple[float, float]] = []
    rss: list[float] = []

    async def sample() -> None:
        while True:
            samples.append((time.monotonic(), proxy.cpu_seconds()))
            rss.append(proxy.rss_mb())
            await asyncio.sleep(0.25)

    limits = httpx.Limits(max_connections=streams + 10)
    async with httpx.AsyncClient(timeout=httpx.Timeout(120, connect=10), limits=limits) as client:
        await _one_stream(client, proxy.url, "ll-warm", 10, 10, 0)  # imports, the first connection

        async def one(i: int) -> list[float]:
            await asyncio.sleep(i / streams)
            return await _one_stream(client, proxy.url, tags[i], r, c, rate)

        sampler = asyncio.create_task(sample())
        cpu0, t0 = proxy.cpu_seconds(), time.monotonic()
        arrivals = await asyncio.gather(*(one(i) for i in range(streams)))
        cpu, wall = proxy.cpu_seconds() - cpu0, time.monotonic() - t0
        sampler.cancel()
    writes = await upstream.times([*tags, "ll-warm"])
    lat: list[float] = []
    firsts, lasts = [], []
    chunks = 0
    for tag, got in zip(tags, arrivals, strict=True):
        w = writes.get(tag) or []
        if len(w) < 3:
            continue
        chunk_writes = w[1:-1]
        firsts.append(chunk_writes[0])
        lasts.append(chunk_writes[-1])
        chunks += len(chunk_writes)
        # LiteLLM passes chunks through one by one: the i-th received is the i-th written.
        lat.extend(t - chunk_writes[i] for i, t in enumerate(got[: len(chunk_writes)]))
    lo, hi = max(firsts) + 0.5, min(lasts) - 0.5
    inside = [(t, cs) for t, cs in samples if lo <= t <= hi]
    steady = None
    if len(inside) >= 2:
        (ta, ca), (tb, cb) = inside[0], inside[-1]
        n = sum(sum(1 for t in (writes.get(tag) or [])[1:-1] if ta <= t <= tb) for tag in tags)
        steady = round((cb - ca) / max(n, 1) * 1e6, 1)
    return {
        "streams": streams,
        "tokens_per_s": rate,
        "complete": sum(1 for got in arrivals if len(got) >= tokens),
        "token_latency_ms": {"p50": ms(pct(lat, 0.5)), "p99": ms(pct(lat, 0.99)), "max": ms(max(lat, default=None))},
        "server_cpu_us_per_chunk_steady": steady,
        "server_cpu_us_per_chunk": round(cpu / max(chunks, 1) * 1e6, 1),
        "server_cpu_pct": round(cpu / wall * 100, 1),
        "server_rss_mb_max": round(max(rss, default=0.0), 1),
    }


async def litellm_unpaced(proxy: LiteLLMProxy, upstream: Upstream, tokens: int) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(300, connect=10)) as client:
        cpu0 = proxy.cpu_seconds()
        got = await _one_stream(client, proxy.url, "ll-unpaced", tokens - 100, 100, 0)
        cpu = proxy.cpu_seconds() - cpu0
    writes = (await upstream.times(["ll-unpaced"]))["ll-unpaced"]
    chunks = len(writes) - 2
    return {
        "tokens": tokens,
        "complete": len(got) >= tokens,
        "server_cpu_us_per_chunk": round(cpu / max(chunks, 1) * 1e6, 1),
        "relay_chunks_per_s": round(chunks / max(got[-1] - writes[1], 1e-9)) if got else None,
    }


async def run(seconds: float = 6) -> dict[str, Any]:
    exe = await asyncio.to_thread(ensure_litellm)
    upstream = Upstream()
    out: dict[str, Any] = {"litellm_version": LITELLM_VERSION, "paced_streams": PACED_STREAMS,
                           "unpaced_tokens": UNPACED_TOKENS}
    try:
        log("peers: the playground")
        server = Server(upstream, conversations=PACED_STREAMS + 10)
        try:
            out["playground"] = {
                "paced": await relay.concurrency(server, upstream, PACED_STREAMS, PACED_RATE, seconds),
                "unpaced": await relay.throughput(server, upstream, UNPACED_TOKENS),
                "rss_mb": round(server.rss_mb(), 1),
            }
        finally:
            server.close()
        log(f"peers: LiteLLM proxy {LITELLM_VERSION}")
        proxy = await asyncio.to_thread(LiteLLMProxy, exe, upstream)
        try:
            out["litellm"] = {
                "paced": await litellm_paced(proxy, upstream, PACED_STREAMS, PACED_RATE, seconds),
                "unpaced": await litellm_unpaced(proxy, upstream, UNPACED_TOKENS),
                "rss_mb": round(proxy.rss_mb(), 1),
            }
        finally:
            proxy.close()
    finally:
        with contextlib.suppress(Exception):
            upstream.close()
    out["playground_over_litellm"] = ratios(out)
    return out


KEPT_UP_MS = 1000.0  # a relay whose median token is later than this did not keep up


def ratios(peers: dict[str, Any]) -> dict[str, Any]:
    """Playground ÷ LiteLLM CPU per chunk. Paced: mid-stream when both relays kept
    up with the provider; otherwise over whole requests (each side's fixed cost
    per request included), because a relay that falls behind has not yet done the
    work for the chunks written inside the mid-stream window."""
    pg, ll = peers["playground"], peers["litellm"]
    kept_up = all(
        (side["paced"]["token_latency_ms"]["p50"] or 1e9) <= KEPT_UP_MS
        and side["paced"]["server_cpu_us_per_chunk_steady"]
        for side in (pg, ll)
    )
    key = "server_cpu_us_per_chunk_steady" if kept_up else "server_cpu_us_per_chunk"
    return {
        "paced_figure": "mid-stream" if kept_up else "whole requests",
        "cpu_per_chunk_paced": round(pg["paced"][key] / ll["paced"][key], 3),
        "cpu_per_chunk_paced_whole": round(
            pg["paced"]["server_cpu_us_per_chunk"] / ll["paced"]["server_cpu_us_per_chunk"], 3
        ),
        "cpu_per_chunk_unpaced": round(
            pg["unpaced"]["server_cpu_us_per_chunk"] / ll["unpaced"]["server_cpu_us_per_chunk"], 3
        ),
    }


def rows(peers: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, playground, LiteLLM) for the README's side-by-side table."""
    pg, ll = peers["playground"], peers["litellm"]
    n = peers["paced_streams"]

    return [
        (f"CPU µs per chunk, paced ({n} × 50 tok/s), mid-stream",
         str(pg["paced"]["server_cpu_us_per_chunk_steady"]), str(ll["paced"]["server_cpu_us_per_chunk_steady"])),
        (f"CPU µs per chunk, paced ({n} × 50 tok/s), whole requests",
         str(pg["paced"]["server_cpu_us_per_chunk"]), str(ll["paced"]["server_cpu_us_per_chunk"])),
        (f"CPU µs per chunk, unpaced ({peers['unpaced_tokens']:,}-token stream)",
         str(pg["unpaced"]["server_cpu_us_per_chunk"]), str(ll["unpaced"]["server_cpu_us_per_chunk"])),
        (f"p50 / p99 lateness per token ms, paced ({n} × 50 tok/s)",
         "{p50} / {p99}".format(**pg["paced"]["token_latency_ms"]),
         "{p50} / {p99}".format(**ll["paced"]["token_latency_ms"])),
        ("server CPU % while paced", str(pg["paced"]["server_cpu_pct"]), str(ll["paced"]["server_cpu_pct"])),
        ("server RSS MB (max while paced)",
         str(pg["paced"]["server_rss_mb_max"]), str(ll["paced"]["server_rss_mb_max"])),
        ("streams complete (paced)", f"{pg['paced']['complete']}/{n}", f"{ll['paced']['complete']}/{n}"),
    ]
