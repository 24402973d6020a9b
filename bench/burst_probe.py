"""Chat turns started at once on servers that differ only in their environment
(issue 23.3's burst): `python -m bench.burst_probe [TURNS] [ROUNDS]` prints each
variant's first frame p50 / p99 and the server's CPU, variants in turn per round.
Variants: the default, and a GIL switch interval of 0.5 ms (BENCH_SWITCH_INTERVAL)."""

from __future__ import annotations

import asyncio
import json
import sys

from bench import harness, relay

VARIANTS = {"default": {}, "switch 0.5 ms": {"BENCH_SWITCH_INTERVAL": "0.0005"}}


async def main(turns: int, rounds: int) -> None:
    upstream = harness.Upstream()
    template = harness.Server.seed_template(upstream, turns + 40)
    out: dict[str, list[dict[str, object]]] = {name: [] for name in VARIANTS}
    try:
        for n in range(rounds):
            order = list(VARIANTS) if n % 2 == 0 else list(reversed(VARIANTS))
            for name in order:
                server = harness.Server(upstream, conversations=turns + 40, env=VARIANTS[name], seeded=template)
                try:
                    cpu = server.cpu_seconds()
                    burst = await relay.burst(server, upstream, turns)
                    burst["server_cpu_s"] = round(server.cpu_seconds() - cpu, 2)
                finally:
                    server.close()
                out[name].append(burst)
                print(name, json.dumps(burst), flush=True)
    finally:
        upstream.close()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200, int(sys.argv[2]) if len(sys.argv) > 2 else 2))
