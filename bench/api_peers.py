"""Issue 23's /v1 workload with its references in ONE run (issue 23.1 and 23.7).

    python -m bench --only api --peers     # /v1 beside bare readers and LiteLLM, + a series of N
    python -m bench --only api-candidates  # /v1 under each server variant (env switches), rotated

The same fake provider process (`bench.upstream_proc`, on the bench's core) feeds,
one after another on the server's core, round after round in a rotated order:

* the playground's `/v1/chat/completions` (the real server, `bench.api_load.load`);
* bare readers of the provider's stream (`bench.readers`, a fresh process each,
  every stream at once, each chunk decoded and `json.loads`ed as an adapter does):
  httpx, aiohttp, aiohttp on uvloop;
* the LiteLLM proxy (`bench.peers`, pinned `LITELLM_VERSION`), read like /v1.

Every relay gets `streams` streams of `chunks` chunks at `rate` chunks/s, started
together. CPU per chunk is the process's CPU (all threads) over the whole load ÷
the chunks the provider wrote; the least of the rounds (a shared machine only ever
adds). Lateness per chunk is when the client read it less when the provider wrote
it (one clock); the median of the rounds' p50 / p99. Then a series of N streams on
the first server (`SERIES`): the largest N whose p99 stays ≤ `P99_LIMIT_MS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from pathlib import Path
from typing import Any

from bench import api_load, readers
from bench.gateway import token_for
from bench.harness import ROOT, Server, Upstream, ms, pct

REFERENCES = ("httpx", "aiohttp", "aiohttp+uvloop")
SERIES = (50, 100, 200, 300)
P99_LIMIT_MS = 100.0

# Issue 23.1's changes one at a time, and the ASGI servers Channels supports
# (`--only api-candidates`). uvicorn with httptools needs httptools, which the
# shared venv does not have: BENCH_EXTRA_PATH names a directory that holds it
# (`pip install --target DIR httptools`), for the measurement only.
CANDIDATES: dict[str, dict[str, str]] = {
    "daphne (as shipped)": {},
    "daphne, Twisted's buffered writes": {"SERVER_EAGER_WRITES": "0"},
    "daphne, stdlib json per SSE chunk": {"BENCH_SSE_STDLIB_JSON": "1"},
    "daphne, checkpoints compiled each time": {"BENCH_ORM_CHECKPOINT": "1"},
    "daphne, SSE through Django's StreamingHttpResponse": {"BENCH_DJANGO_SSE": "1"},
    "daphne, a checkpoint hop per run": {"BENCH_CHECKPOINT_PER_RUN": "1"},
    "daphne, group names matched each send": {"BENCH_GROUP_NAME_REGEX": "1"},
    "daphne, frames built with no socket watching": {"BENCH_FRAMES_UNWATCHED": "1"},
    "daphne, a timer per wait on the tap": {"BENCH_TAP_TIMER_PER_WAIT": "1"},
    "daphne, before the fourth round (the three above)": {
        "BENCH_GROUP_NAME_REGEX": "1", "BENCH_FRAMES_UNWATCHED": "1", "BENCH_TAP_TIMER_PER_WAIT": "1"},
    "daphne, the quiet trim's collection in the next burst": {"BENCH_TRIM_MID_BURST": "1"},
    "uvicorn + h11": {"BENCH_SERVER": "uvicorn-h11"},
    "uvicorn + httptools": {"BENCH_SERVER": "uvicorn-httptools"},
}


def log(msg: str) -> None:
    import sys

    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


async def _reader_load(upstream: Upstream, variant: str, streams: int, chunks: int, rate: float,
                       tag: str) -> dict[str, Any]:
    out = await asyncio.to_thread(readers.run_variant, upstream, variant, streams, rate, chunks / rate, tag)
    if "error" in out:
        return {"error": out["error"][-500:]}
    writes = await upstream.times([*out["arrivals"], f"{tag}-warm"])
    lateness: list[float] = []
    upstream_chunks = complete = 0
    for t, got in out["arrivals"].items():
        w = writes.get(t) or []
        chunk_writes = w[1:-1]
        upstream_chunks += len(chunk_writes)
        complete += len(got) >= chunks
        # A bare reader decodes chunk by chunk: its i-th event is the provider's i-th chunk.
        lateness += [a - b for a, b in zip(got, chunk_writes, strict=False)]
    return {
        "streams": streams, "complete": complete, "upstream_chunks": upstream_chunks,
        "server_cpu_us_per_chunk": round(out["cpu_s"] / max(upstream_chunks, 1) * 1e6, 1),
        "lateness_ms": {"p50": ms(pct(lateness, 0.5)), "p90": ms(pct(lateness, 0.9)),
                        "p99": ms(pct(lateness, 0.99)), "max": ms(max(lateness, default=None))},
    }


def _largest_holding(series: list[dict[str, Any]]) -> int:
    holding = [r["streams"] for r in series
               if r["complete"] == r["streams"] and (r["lateness_ms"]["p99"] or 1e9) <= P99_LIMIT_MS]
    return max(holding, default=0)


def _least(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _median(values: list[Any]) -> Any:
    present = sorted(v for v in values if v is not None)
    return present[len(present) // 2] if present else None


async def run(
    servers: dict[str, dict[str, str]] | None = None, *, references: tuple[str, ...] = REFERENCES,
    litellm: bool = True, rounds: int = 3, streams: int = 40, chunks: int = 400, rate: float = 50,
    series: tuple[int, ...] = SERIES, extra_path: str = "",
) -> dict[str, Any]:
    servers = servers if servers is not None else {"playground /v1": {}}
    upstream = Upstream()
    template = Server.seed_template(upstream, 10)
    running: dict[str, Server] = {}
    tokens: dict[str, str] = {}
    proxy: Any = None
    per: dict[str, list[dict[str, Any]]] = {}
    out: dict[str, Any] = {"streams": streams, "chunks_per_stream": chunks, "chunks_per_s": rate, "rounds": rounds}
    try:
        for name, env in servers.items():
            log(f"  starting a server: {name}")
            env = {**env, **({"BENCH_EXTRA_PATH": extra_path} if extra_path else {})}
            # BENCH_CODE: the server runs another checkout's code (`--baseline DIR`).
            code = Path(env.pop("BENCH_CODE")) if "BENCH_CODE" in env else ROOT
            try:
                running[name] = Server(upstream, conversations=10, env=env, seeded=template, code=code)
            except Exception as e:  # a variant that cannot start (uvicorn without httptools) is reported
                out.setdefault("not_started", {})[name] = f"{type(e).__name__}: {str(e)[-600:]}"
                continue
            tokens[name] = token_for(running[name])
            await api_load.load(running[name], upstream, tokens[name], streams=4, chunks=20, rate=0, tag="ap-warm")
        if litellm:
            from bench import peers

            exe = await asyncio.to_thread(peers.ensure_litellm)
            log(f"  starting the LiteLLM proxy {peers.LITELLM_VERSION}")
            proxy = await asyncio.to_thread(peers.LiteLLMProxy, exe, upstream)
            out["litellm_version"] = peers.LITELLM_VERSION
            await api_load.load(proxy, upstream, "sk-bench", streams=4, chunks=20, rate=0, tag="ll-warm",
                                model="bench-model")
        entries = [*running, *(f"bare {r}" for r in references), *(["LiteLLM proxy"] if proxy else [])]
        per = {e: [] for e in entries}
        for n in range(rounds):
            for i, entry in enumerate(entries[n % len(entries):] + entries[: n % len(entries)]):
                tag = f"ap{n}-{i}-{time.monotonic_ns()}"
                log(f"  round {n + 1}: {entry}")
                try:
                    if entry in running:
                        r = await api_load.load(running[entry], upstream, tokens[entry], streams=streams,
                                                chunks=chunks, rate=rate, tag=tag)
                    elif entry == "LiteLLM proxy":
                        r = await api_load.load(proxy, upstream, "sk-bench", streams=streams, chunks=chunks,
                                                rate=rate, tag=tag, model="bench-model")
                    else:
                        r = await _reader_load(upstream, entry.removeprefix("bare "), streams, chunks, rate, tag)
                except Exception as e:  # one failed round must not lose the others
                    r = {"error": f"{type(e).__name__}: {e}"}
                per[entry].append(r)
        first = next(iter(running), None)
        if first is not None and series:
            # Every server's series, N by N in turn (the load drifts over minutes);
            # `series` and `largest_n_holding_p99` are the first server's.
            by_server: dict[str, list[dict[str, Any]]] = {name: [] for name in running}
            for count in series:
                for name in running:
                    log(f"  series: {count} streams on {name}")
                    r = await api_load.load(running[name], upstream, tokens[name], streams=count, chunks=chunks,
                                            rate=rate, tag=f"aps-{count}-{time.monotonic_ns()}")
                    by_server[name].append(r)
            out["series"] = by_server[first]
            out["largest_n_holding_p99"] = _largest_holding(by_server[first])
            out["p99_limit_ms"] = P99_LIMIT_MS
            if len(by_server) > 1:
                out["series_by_server"] = by_server
                out["largest_n_holding_p99_by_server"] = {n: _largest_holding(rs) for n, rs in by_server.items()}
    finally:
        for server in running.values():
            server.close()
        if proxy is not None:
            proxy.close()
        with contextlib.suppress(Exception):
            upstream.close()
        shutil.rmtree(template[0], ignore_errors=True)
    rows: dict[str, Any] = {}
    for entry, results in per.items():
        ok = [r for r in results if "error" not in r]
        rows[entry] = {
            "cpu_us_per_chunk": _least([r["server_cpu_us_per_chunk"] for r in ok]),
            "lateness_p50_ms": _median([r["lateness_ms"]["p50"] for r in ok]),
            "lateness_p99_ms": _median([r["lateness_ms"]["p99"] for r in ok]),
            "complete": all(r["complete"] == streams for r in ok) and len(ok) == len(results),
            "rounds_cpu_us_per_chunk": [r.get("server_cpu_us_per_chunk") for r in results],
            "rounds_lateness_ms": [r.get("lateness_ms") for r in results],
            **({"errors": [r["error"] for r in results if "error" in r]} if len(ok) < len(results) else {}),
        }
    out["rows"] = rows
    out["ratios"] = {
        name: {
            other: round(rows[name]["cpu_us_per_chunk"] / rows[other]["cpu_us_per_chunk"], 3)
            for other in rows
            if other != name and rows[name]["cpu_us_per_chunk"] and rows[other]["cpu_us_per_chunk"]
        }
        for name in running
    }
    return out


def table(result: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(relay, CPU µs per chunk, ÷ each reference, lateness p50 / p99 ms, complete) rows."""
    rows = result["rows"]
    refs = [r for r in rows if r.startswith("bare ") or r == "LiteLLM proxy"]
    out = []
    for name, row in rows.items():
        ratios = result["ratios"].get(name, {})
        shown = ", ".join(f"{ratios[r]} {r.removeprefix('bare ')}" for r in refs if r in ratios) or "-"
        out.append((name, str(row["cpu_us_per_chunk"]), shown,
                    f"{row['lateness_p50_ms']} / {row['lateness_p99_ms']}", "yes" if row["complete"] else "NO"))
    return out


def print_table(result: dict[str, Any], markdown: bool = False) -> None:
    head = ("relay", "CPU µs/chunk", "÷ references", "lateness p50 / p99 ms", "all complete")
    lines = [head, *table(result)]
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + " --- |" * len(head))
        for line in lines[1:]:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        for line in lines:
            print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))
    by_server = result.get("series_by_server") or {next(iter(result["rows"]), ""): result.get("series", [])}
    for name, series in by_server.items():
        for r in series:
            print(f"  series {name}: {r['streams']:>4} streams: p50 / p99 {r['lateness_ms']['p50']} / "
                  f"{r['lateness_ms']['p99']} ms, CPU {r['server_cpu_us_per_chunk']} µs/chunk, "
                  f"complete {r['complete']}/{r['streams']}, waited for its core "
                  f"{r.get('server_run_delay_s', '-')} s")
    if "largest_n_holding_p99" in result:
        largest = result.get("largest_n_holding_p99_by_server") or {"": result["largest_n_holding_p99"]}
        for name, n in largest.items():
            print(f"  largest N holding p99 ≤ {result['p99_limit_ms']:.0f} ms{' on ' + name if name else ''}: {n}")
    for name, why in result.get("not_started", {}).items():
        print(f"  not started: {name}: {why[-300:]}")
