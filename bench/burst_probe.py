"""Chat turns started at once (issue 23.3's burst) on servers that differ in their code
or environment, side by side in one run:

    python -m bench.burst_probe [--turns 200] [--rounds 2] [--baseline DIR] [--switch]

Each round runs every variant in turn (the order alternates between rounds): the
burst of `--turns` chat turns (send → first frame, p50 / p99), a burst of 50 `/v1`
requests (time added to the first token), the server's CPU, and, from the server's
own clock (`BENCH_TURN_TRACE=1`, bench/serve.py), when each turn reached each step
of its start after the server received it: p50 / p90 / max ms over the turns.
Variants: this checkout; `--baseline DIR` another checkout (its own bench/serve.py
has the trace only if it is this one's: copy bench/ over it); `--switch` a GIL
switch interval of 0.5 ms (BENCH_SWITCH_INTERVAL)."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from bench import gateway, harness, relay


async def trace(server: harness.Server) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        return dict((await client.get(f"{server.url}/__bench__/turns")).json())


async def main(turns: int, rounds: int, variants: dict[str, tuple[Path, dict[str, str]]]) -> None:
    upstream = harness.Upstream()
    template = harness.Server.seed_template(upstream, turns + 40)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    try:
        for n in range(rounds):
            order = list(variants) if n % 2 == 0 else list(reversed(variants))
            for name in order:
                code, env = variants[name]
                server = harness.Server(upstream, conversations=turns + 40, env={"BENCH_TURN_TRACE": "1", **env},
                                        seeded=template, code=code)
                try:
                    cpu = server.cpu_seconds()
                    burst = await relay.burst(server, upstream, turns)
                    burst["server_cpu_s"] = round(server.cpu_seconds() - cpu, 2)
                    burst["steps_ms"] = await trace(server)
                    burst["api_burst"] = await gateway.burst(server, upstream, 50)
                finally:
                    server.close()
                out[name].append(burst)
                print(name, json.dumps(burst), flush=True)
    finally:
        upstream.close()
    print(json.dumps(out))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--baseline", type=Path)
    ap.add_argument("--switch", action="store_true")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="one more variant: this checkout with NAME=VALUE in the server's environment")
    args = ap.parse_args()
    variants: dict[str, tuple[Path, dict[str, str]]] = {"this": (harness.ROOT, {})}
    if args.baseline:
        variants["baseline"] = (args.baseline, {})
    if args.switch:
        variants["switch 0.5 ms"] = (harness.ROOT, {"BENCH_SWITCH_INTERVAL": "0.0005"})
    for pair in args.env:
        name, _, value = pair.partition("=")
        variants[f"this {pair}"] = (harness.ROOT, {name: value})
    asyncio.run(main(args.turns, args.rounds, variants))
