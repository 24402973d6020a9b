"""The OpenAI-compatible API (/v1/chat/completions, streamed) against reading the
same fake provider directly, in one run:

* added time to first token: the client's first reasoning chunk minus the time the
  provider wrote its first chunk, through the gateway and for a bare httpx client
  reading the provider itself (the difference is what the gateway adds);
* CPU per upstream chunk: the server's CPU for one long unpaced stream through the
  gateway, against the CPU a bare httpx process spends reading the same stream
  directly (the floor any relay pays for reading).

    python -m bench --only gateway
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from typing import Any

import httpx

from bench.harness import DATA_KINDS, PY, ROOT, SERVER_CORES, Server, Upstream, _pinned, ms, pct, prompt

MODEL = "Bench fake model"  # bench.setup_db's model
DIRECT_READER = """
import asyncio, json, sys, time, httpx
async def main():
    url, prompt = sys.argv[1], sys.argv[2]
    body = {"model": "bench-model", "stream": True, "messages": [{"role": "user", "content": prompt}]}
    cpu0 = time.process_time()
    chunks = 0
    async with httpx.AsyncClient(timeout=120) as client:
        async with client.stream("POST", url + "/v1/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    chunks += 1
    print(json.dumps({"chunks": chunks, "cpu": time.process_time() - cpu0}))
asyncio.run(main())
"""


def token_for(server: Server) -> str:
    done = subprocess.run(
        [PY, "manage.py", "tokens", "create", "--user", "bench", "--name", "bench"],
        cwd=ROOT, env=server.env, capture_output=True, text=True, check=True,
    )
    return done.stdout.strip()


async def _first_reasoning_at(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]
) -> float | None:
    first = None
    async with client.stream("POST", url, json=body, headers=headers) as response:
        async for line in response.aiter_lines():
            if first is None and "reasoning_content" in line:
                first = time.monotonic()
    return first


async def first_token(server: Server, upstream: Upstream, turns: int) -> dict[str, Any]:
    token = token_for(server)
    auth = {"authorization": f"Bearer {token}"}
    added: dict[str, list[float]] = {"gateway": [], "direct": []}
    tags: dict[str, tuple[str, float | None]] = {}
    async with httpx.AsyncClient(timeout=60) as client:
        warm = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": prompt("gw-warm", 4, 4)}]}
        await _first_reasoning_at(client, server.url + "/v1/chat/completions", warm, auth)
        for i in range(turns):
            for path in ("gateway", "direct"):
                tag = f"gw-{path}-{i}-{time.monotonic_ns()}"
                content = prompt(tag, 4 + i % 8, 8, 70, ttfb=0.05)
                if path == "gateway":
                    url, body, headers = server.url + "/v1/chat/completions", {"model": MODEL}, auth
                else:
                    url, body, headers = upstream.url + "/v1/chat/completions", {"model": "bench-model"}, {}
                body |= {"stream": True, "messages": [{"role": "user", "content": content}]}
                tags[tag] = (path, await _first_reasoning_at(client, url, body, headers))
    writes = await upstream.times([*tags, "gw-warm"])
    for tag, (path, first) in tags.items():
        if first is not None and (w := writes.get(tag)):
            added[path].append(first - w[1])

    def dist(values: list[float]) -> dict[str, float | None]:
        return {"p50": ms(pct(values, 0.5)), "p90": ms(pct(values, 0.9)), "p99": ms(pct(values, 0.99))}

    gateway, direct = dist(added["gateway"]), dist(added["direct"])
    return {
        "turns": turns,
        "gateway_ms": gateway,
        "direct_ms": direct,
        "added_p50_ms": round(gateway["p50"] - direct["p50"], 2) if gateway["p50"] and direct["p50"] else None,
    }


async def cpu_per_chunk(server: Server, upstream: Upstream, tokens: int = 10_000) -> dict[str, Any]:
    token = token_for(server)
    r, c = tokens - 100, 100
    direct_out = subprocess.run(  # noqa: ASYNC221 (nothing else runs meanwhile)
        [PY, "-c", DIRECT_READER, upstream.url, prompt("gw-direct-cpu", r, c, 0)],
        cwd=ROOT, capture_output=True, text=True, check=True, preexec_fn=_pinned(SERVER_CORES),
    )
    direct = json.loads(direct_out.stdout)
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": prompt("gw-cpu", r, c, 0)}]}
    chunks_out = 0
    async with httpx.AsyncClient(timeout=300) as client:
        cpu0 = server.cpu_seconds()
        async with client.stream(
            "POST", server.url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {token}"}
        ) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    chunks_out += 1
        # The run's final save and the group's "turn.done" follow the last chunk.
        time.sleep(0.5)  # noqa: ASYNC251 (nothing to overlap)
        cpu = server.cpu_seconds() - cpu0
    writes = (await upstream.times(["gw-cpu", "gw-direct-cpu"]))["gw-cpu"]
    upstream_chunks = len(writes) - 2
    gateway_us = cpu / upstream_chunks * 1e6
    direct_us = direct["cpu"] / max(direct["chunks"], 1) * 1e6
    return {
        "tokens": tokens,
        "upstream_chunks": upstream_chunks,
        "sse_chunks_out": chunks_out,
        "gateway_server_cpu_us_per_chunk": round(gateway_us, 1),
        "direct_reader_cpu_us_per_chunk": round(direct_us, 1),
        "gateway_over_direct": round(gateway_us / direct_us, 2) if direct_us else None,
    }


def per_turn_parts(stats: dict[str, Any], turns: int) -> dict[str, dict[str, float]]:
    """The server's metered parts (bench/serve.py, BENCH_PARTS=1) per turn: CPU ms, queries."""
    return {
        name: {"cpu_ms": round(v["cpu_s"] / turns * 1000, 3), "queries": round(v["queries"] / turns, 2)}
        for name, v in sorted(stats.get("parts", {}).items(), key=lambda kv: -kv[1]["cpu_s"])
    }


async def turn_cost(server: Server, upstream: Upstream, turns: int = 30) -> dict[str, Any]:
    """The fixed cost of a /v1 turn: `turns` streamed 50-token requests, unpaced, one
    after another; the server's CPU and statements over all of them, per turn."""
    token = token_for(server)
    auth = {"authorization": f"Bearer {token}"}
    url = server.url + "/v1/chat/completions"
    tags = []
    async with httpx.AsyncClient(timeout=60) as client:
        warm = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": prompt("v1-warm", 25, 25)}]}
        await _first_reasoning_at(client, url, warm, auth)
        time.sleep(0.3)  # noqa: ASYNC251 (the warm turn's end, before the meters start)
        await server.stats(reset=True)
        cpu0 = server.cpu_seconds()
        for i in range(turns):
            tag = f"v1-cost-{i}-{time.monotonic_ns()}"
            tags.append(tag)
            body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": prompt(tag, 25, 25)}]}
            await _first_reasoning_at(client, url, body, auth)
        time.sleep(0.3)  # noqa: ASYNC251 (the last run's save follows its last chunk)
        cpu = server.cpu_seconds() - cpu0
    stats = await server.stats()
    await upstream.times([*tags, "v1-warm"])
    return {
        "turns": turns,
        "server_cpu_ms_per_turn": round(cpu / turns * 1000, 2),
        # Data statements, as tests/playground/test_turn_queries.py counts them; BEGIN,
        # COMMIT and savepoints apart.
        "db_queries_per_turn": round(sum(stats["queries"].get(k, 0) for k in DATA_KINDS) / turns, 1),
        "db_transaction_statements_per_turn": round(stats["queries"].get("transaction", 0) / turns, 1),
        "db_queries_by_kind": stats["queries"],
        "parts_per_turn": per_turn_parts(stats, turns),
    }


async def burst(server: Server, upstream: Upstream, requests: int = 50) -> dict[str, Any]:
    """`requests` streamed /v1 requests sent at the same moment, the provider
    answering each after 50 ms: the time added to each first token (the client's
    first reasoning chunk − the provider's first chunk written)."""
    token = token_for(server)
    auth = {"authorization": f"Bearer {token}"}
    url = server.url + "/v1/chat/completions"
    limits = httpx.Limits(max_connections=requests + 10, max_keepalive_connections=requests + 10)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        warm = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": prompt("v1b-warm", 4, 4)}]}
        await _first_reasoning_at(client, url, warm, auth)
        tags = [f"v1-burst-{i}-{time.monotonic_ns()}" for i in range(requests)]
        bodies = [
            {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": prompt(t, 10, 10, 50, 0.05)}]}
            for t in tags
        ]
        firsts = await asyncio.gather(*(_first_reasoning_at(client, url, b, auth) for b in bodies))
    writes = await upstream.times([*tags, "v1b-warm"])
    added = [f - writes[t][1] for t, f in zip(tags, firsts, strict=True) if f is not None and writes.get(t)]
    return {
        "requests": requests,
        "complete": len(added),
        "first_token_added_ms": {"p50": ms(pct(added, 0.5)), "p99": ms(pct(added, 0.99)),
                                 "max": ms(max(added, default=None))},
    }
