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

import json
import subprocess
import time
from typing import Any

import httpx

from bench.harness import PY, ROOT, SERVER_CORES, Server, Upstream, _pinned, ms, pct, prompt

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
