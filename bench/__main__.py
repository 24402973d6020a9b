"""`make bench`: measure the parsers, the relay and the page against DESIGN.md's budget.

    python -m bench                  # quick (about 3 minutes on 2 cores)
    python -m bench --full           # the long runs (N up to 1000, 60 s stall)
    python -m bench --only relay,ttft --out /tmp/r.json

Writes bench/results.json and prints a table of each figure beside its budget.
The server (daphne, temp DATA_DIR) and the fake provider are separate processes,
pinned to different cores; ratios are taken within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import api_load, gateway, harness, relay

SECTIONS = (
    "parsers", "relay", "ttft", "turns", "cost", "concurrency", "redis", "stall", "page", "gateway", "api", "memory",
)
# Opt-in sections (not run by default): `--only candidates`, `--only readers`, `--peers`.
EXTRA_SECTIONS = ("candidates", "readers", "api-candidates")

# Issue 11's speed changes, each undone alone and all together (bench/serve.py's
# toggles and playground.server's switches), to measure what each one buys.
BEFORE_ISSUE_11 = {
    "UPSTREAM_HTTP": "httpx",
    "BENCH_CHANNELS_GROUP_SEND": "1",
    "BENCH_STDLIB_JSON": "1",
    "SERVER_UVLOOP": "0",
    "SERVER_GC_TUNED": "0",
}
CANDIDATES: dict[str, dict[str, str]] = {
    "none (httpx, channels' group_send, json, asyncio, default GC)": BEFORE_ISSUE_11,
    "+ aiohttp transport": {**BEFORE_ISSUE_11, "UPSTREAM_HTTP": "aiohttp"},
    "+ lean group_send": {**BEFORE_ISSUE_11, "BENCH_CHANNELS_GROUP_SEND": "0"},
    "+ orjson": {**BEFORE_ISSUE_11, "BENCH_STDLIB_JSON": "0"},
    "+ uvloop": {**BEFORE_ISSUE_11, "SERVER_UVLOOP": "1"},
    "+ tuned GC": {**BEFORE_ISSUE_11, "SERVER_GC_TUNED": "1"},
    "all (the default)": {},
}

QUICK: dict[str, Any] = {
    "ttft_turns": 60,
    "concurrency": [50, 100, 200],
    "redis": [50, 100, 200],
    "fast": [(4, 500), (1, 2000)],
    "stream_seconds": 6,
    "stall_seconds": 15,
    "page_tokens": 30_000,
}
FULL: dict[str, Any] = {
    "ttft_turns": 300,
    "concurrency": [50, 100, 250, 500, 1000],
    "redis": [50, 100, 250, 500, 1000],
    "fast": [(10, 500), (4, 2000)],
    "stream_seconds": 20,
    "stall_seconds": 60,
    "page_tokens": 30_000,
}
FRAME_INTERVAL = 0.04
P99_BUDGET_MS = 100.0  # DESIGN.md: concurrent streams at p99 lateness ≤ 100 ms
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def redis_up() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


async def concurrency_series(
    server: harness.Server, upstream: harness.Upstream, cfg: dict[str, Any], ns: list[int], fast: bool
) -> dict[str, Any]:
    window_ms = P99_BUDGET_MS
    runs = []
    for n in ns:
        log(f"  {n} streams at 50 tokens/s")
        runs.append(await relay.concurrency(server, upstream, n, 50, cfg["stream_seconds"]))
    holding = [
        r["streams"]
        for r in runs
        if r["complete"] == r["streams"]
        and r["token_latency_ms"]["p99"] is not None
        and r["token_latency_ms"]["p99"] <= window_ms
    ]
    out: dict[str, Any] = {"at_50_tokens_per_s": runs, "largest_n_holding_p99": max(holding, default=0)}
    out["p99_limit_ms"] = window_ms
    if fast:
        # The budget's ratio: the relay's CPU per chunk at 50 × 50 tok/s over a bare
        # httpx client reading the same 50 streams in a process on the same core.
        # Two more rounds of each, alternated; the least of each (load only adds).
        from bench import readers

        relay_runs = [r for r in runs if r["streams"] == 50]
        bare = []
        for _ in range(2):
            log("  bare httpx reading 50 × 50 tok/s")
            bare.append(await asyncio.to_thread(readers.run_variant, upstream, "httpx", 50, 50, cfg["stream_seconds"]))
            await upstream.times([f"rd-httpx-{i}" for i in range(50)] + ["rd-warm"])
            log("  50 streams at 50 tokens/s (again)")
            relay_runs.append(await relay.concurrency(server, upstream, 50, 50, cfg["stream_seconds"]))
        relay_cpu = [r["server_cpu_us_per_chunk_steady"] for r in relay_runs if r["server_cpu_us_per_chunk_steady"]]
        bare_cpu = [b["cpu_us_per_chunk"] for b in bare if b.get("cpu_us_per_chunk")]
        out["vs_bare_httpx"] = {
            "relay_cpu_us_per_chunk": relay_cpu,
            "bare_httpx_cpu_us_per_chunk": bare_cpu,
            "ratio": round(min(relay_cpu) / min(bare_cpu), 3) if relay_cpu and bare_cpu else None,
        }
        out["fast_streams"] = []
        for n, rate in cfg["fast"]:
            log(f"  {n} streams at {rate} tokens/s")
            out["fast_streams"].append(await relay.concurrency(server, upstream, n, rate, cfg["stream_seconds"]))
    return out


async def cost_section(upstream: harness.Upstream, baseline: Path | None) -> dict[str, Any]:
    """The fixed cost of a turn, by part, and turns started at once (issue 23.3), on
    servers of their own with the part meters on (bench/serve.py, BENCH_PARTS=1).
    With `--baseline DIR` (another checkout, e.g. `git worktree add /tmp/main main`)
    the same measurements run on a server of that code in the same run, in turn
    with this one, for ratios on a loaded machine."""
    codes = {"this": harness.ROOT, **({"baseline": baseline} if baseline else {})}
    template = harness.Server.seed_template(upstream, 280)
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}
    try:
        # In turn (this, baseline, baseline, this): load drifts over minutes.
        order = list(codes) + list(reversed(codes)) if baseline else list(codes)
        for name in order:
            code = codes[name]
            log(f"cost ({name}: {code}): 30 chat turns, 30 /v1 turns, 50 /v1 requests and 200 chat turns at once")
            server = harness.Server(upstream, conversations=280, env={"BENCH_PARTS": "1"}, seeded=template,
                                    code=code)
            try:
                load = os.getloadavg()[0]
                figures = {
                    "load_average_1min": round(load, 1),
                    "turn_cost": await relay.turn_cost(server, upstream),
                    "api_turn_cost": await gateway.turn_cost(server, upstream),
                    "api_burst": await gateway.burst(server, upstream, 50),
                    "burst": await relay.burst(server, upstream, 200),
                }
            finally:
                server.close()
            rounds[name].append(figures)
    finally:
        shutil.rmtree(template[0], ignore_errors=True)
    out: dict[str, Any] = _least_of(rounds["this"])
    if baseline:
        out["baseline"] = {"code": str(baseline), **_least_of(rounds["baseline"])}
    return out


def _least_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the least chat CPU per turn stands for the code (load only adds),
    with every round kept under "rounds"."""
    best = min(rounds, key=lambda r: r["turn_cost"]["server_cpu_ms_per_turn"])
    return {**best, "rounds": rounds} if len(rounds) > 1 else best


async def run_server_sections(
    cfg: dict[str, Any], only: set[str], results: dict[str, Any], baseline: Path | None = None
) -> None:
    upstream = harness.Upstream()
    try:
        pool = max([*cfg["concurrency"], cfg["ttft_turns"], 200]) + 40
        if "cost" in only:
            results.update(await cost_section(upstream, baseline))
        wanted_main = only & {
            "relay", "ttft", "turns", "concurrency", "stall", "page", "gateway", "api", "memory",
        }
        if wanted_main:
            log("starting daphne (in-memory channel layer, SQLite)")
            server = harness.Server(upstream, conversations=pool)
            try:
                if "relay" in only:
                    log("relay throughput: 30k-token unpaced turn vs bare httpx")
                    results["relay"] = await relay.throughput(server, upstream)
                if "ttft" in only:
                    log(f"added time to first token: {cfg['ttft_turns']} turns")
                    results["ttft"] = await relay.first_token(server, upstream, cfg["ttft_turns"])
                    results["ttft_instant_provider"] = await relay.first_token(
                        server, upstream, cfg["ttft_turns"] // 3, ttfb=0.0
                    )
                if "turns" in only:
                    log("a 100-token turn: queries, writes, bytes")
                    results["small_turn"] = await relay.small_turn(server, upstream)
                if "concurrency" in only:
                    log("concurrency, in-memory layer")
                    results["concurrency"] = await concurrency_series(
                        server, upstream, cfg, cfg["concurrency"], fast=True
                    )
                if "stall" in only:
                    log(f"stalled client, {cfg['stall_seconds']} s")
                    results["stall"] = await relay.stalled_client(server, upstream, cfg["stall_seconds"])
                if "gateway" in only:
                    log("the OpenAI-compatible API vs reading the fake provider directly")
                    results["gateway"] = {
                        "first_token": await gateway.first_token(server, upstream, cfg["ttft_turns"] // 2),
                        "cpu": await gateway.cpu_per_chunk(server, upstream),
                    }
                if "api" in only:
                    log("issue 23's workload through /v1: 40 streams x 400 chunks at 50 chunks/s")
                    results["api"] = await api_load.run(server, upstream)
                if "memory" in only:
                    log("RSS over 10 repetitions of 40 x 400 chunks through /v1, after 2 to warm up")
                    results["memory"] = await api_load.memory(server, upstream)
                if "page" in only:
                    log("the page in headless Chromium: 30k tokens at 2,000 tokens/s")
                    from bench import page

                    results["page"] = await page.run(server, upstream, cfg["page_tokens"], 2000)
            finally:
                server.close()
        if "redis" in only:
            if not redis_up():
                results["redis"] = {"skipped": f"no Redis at {REDIS_URL}"}
            else:
                log("starting daphne with the Redis channel layer")
                server = harness.Server(upstream, conversations=pool, env={"REDIS_URL": REDIS_URL})
                try:
                    results["redis"] = await concurrency_series(
                        server, upstream, cfg, cfg["redis"], fast=False
                    )
                finally:
                    server.close()
    finally:
        upstream.close()


CANDIDATE_STREAMS = 20  # few enough that a loaded machine still keeps up (a mid-stream window exists)


async def candidates(cfg: dict[str, Any], rounds: int = 3) -> dict[str, Any]:
    """`CANDIDATE_STREAMS` × 50 tok/s on one server per candidate set, `rounds`
    times in a rotated order; each figure is the least of its rounds (load only
    adds). CPU per chunk mid-stream, or over whole turns when no round had a
    mid-stream window (then it includes each turn's fixed cost)."""
    upstream = harness.Upstream()
    servers: dict[str, harness.Server] = {}
    per: dict[str, list[dict[str, Any]]] = {name: [] for name in CANDIDATES}
    streams = CANDIDATE_STREAMS
    template = harness.Server.seed_template(upstream, 40)
    try:
        for name, env in CANDIDATES.items():
            log(f"  starting a server: {name}")
            servers[name] = harness.Server(upstream, conversations=40, env=env, seeded=template)
        names = list(CANDIDATES)
        for n in range(rounds):
            for name in names[n % len(names):] + names[: n % len(names)]:
                log(f"  round {n + 1}: {name}")
                try:
                    per[name].append(
                        await relay.concurrency(servers[name], upstream, streams, 50, cfg["stream_seconds"])
                    )
                except Exception as e:  # one failed round must not lose the others
                    log(f"  failed: {type(e).__name__}: {e}; {servers[name].log_tail()[-500:]}")
    finally:
        for server in servers.values():
            server.close()
        upstream.close()
        shutil.rmtree(template[0], ignore_errors=True)

    def least(values: list[Any]) -> Any:
        present = [v for v in values if v is not None]
        return min(present) if present else None

    rows = []
    for name in CANDIDATES:
        runs = per[name]
        rows.append({
            "candidates": name,
            "cpu_us_per_chunk_steady": least([r["server_cpu_us_per_chunk_steady"] for r in runs]),
            "cpu_us_per_chunk_whole": least([r["server_cpu_us_per_chunk"] for r in runs]),
            "rounds_cpu_us_per_chunk_whole": [r["server_cpu_us_per_chunk"] for r in runs],
            "rounds_cpu_us_per_chunk_steady": [r["server_cpu_us_per_chunk_steady"] for r in runs],
            "p99_ms": least([r["token_latency_ms"]["p99"] for r in runs]),
            "rounds_p99_ms": [r["token_latency_ms"]["p99"] for r in runs],
            "rss_mb": least([r["server_rss_mb_max"] for r in runs]),
            "rounds_done": len(runs),
        })
    figure = "steady" if all(r["cpu_us_per_chunk_steady"] for r in rows) else "whole"
    base = rows[0][f"cpu_us_per_chunk_{figure}"]
    for row in rows:
        row["cpu_us_per_chunk"] = cpu = row[f"cpu_us_per_chunk_{figure}"]
        row["cpu_over_none"] = round(cpu / base, 3) if cpu and base else None
    return {"streams": streams, "tokens_per_s": 50, "rounds": rounds, "cpu_figure": figure, "rows": rows}


def summary(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, measured, budget, holds?) rows for the printed table and the README."""
    rows: list[tuple[str, str, str, str]] = []

    def add(name: str, value: Any, budget: str, ok: bool | None) -> None:
        rows.append((name, str(value), budget, "-" if ok is None else ("yes" if ok else "NO")))

    # Issue 11's budget lines first (DESIGN.md's budget; ratios from this run).
    conc, red = results.get("concurrency") or {}, results.get("redis") or {}
    if vs := conc.get("vs_bare_httpx"):
        ratio = vs["ratio"]
        add("CPU per chunk, 50 × 50 tok/s mid-stream ÷ bare httpx (least of 3 ÷ least of 2)",
            f"{ratio} ({min(vs['relay_cpu_us_per_chunk'], default=None)} ÷ "
            f"{min(vs['bare_httpx_cpu_us_per_chunk'], default=None)} µs)", "≤ 1.0", ratio is not None and ratio <= 1.0)
    if conc.get("at_50_tokens_per_s"):
        tried = "/".join(str(r["streams"]) for r in conc["at_50_tokens_per_s"])
        n = conc["largest_n_holding_p99"]
        add(f"concurrent 50 tok/s streams at p99 ≤ {conc['p99_limit_ms']:.0f} ms, in-memory (of {tried} tried)",
            n, "≥ 200", n >= 200)
        if red.get("at_50_tokens_per_s"):
            ratio = round(red["largest_n_holding_p99"] / n, 2) if n else None
            add("the same on Redis ÷ in-memory", f"{ratio} ({red['largest_n_holding_p99']} ÷ {n})", "≥ 0.8",
                ratio is not None and ratio >= 0.8)
    if api := results.get("api"):
        add(f"/v1, {api['streams']} × {api['chunks_per_stream']} chunks at {api['chunks_per_s']}/s: "
            "lateness p50 / p99 ms (median of rounds)", f"{api['lateness_p50_ms']} / {api['lateness_p99_ms']}",
            "≤ 5 / ≤ 50", (api["lateness_p50_ms"] or 1e9) <= 5 and (api["lateness_p99_ms"] or 1e9) <= 50)
        add("/v1, same load: server CPU µs per chunk (least of rounds)", api["server_cpu_us_per_chunk"], "-", None)
    if mem := results.get("memory"):
        add(f"RSS growth over {mem['repetitions']} repetitions after warm-up, MB ({mem['rss_mb'][0]} → "
            f"{mem['rss_mb'][-1]})", mem["growth_after_warmup_mb"], "≤ 10",
            abs(mem["growth_after_warmup_mb"]) <= 10)
    base = results.get("baseline", {})

    def against(key: str, *path: str) -> str:
        """` (baseline X, ratio r)` when the same figure of --baseline's code is in the run."""
        mine, theirs = results.get(key), base.get(key)
        for step in path:
            mine = mine.get(step) if isinstance(mine, dict) else None
            theirs = theirs.get(step) if isinstance(theirs, dict) else None
        if not isinstance(mine, (int, float)) or not isinstance(theirs, (int, float)) or not theirs:
            return ""
        return f" (baseline {theirs}: ×{mine / theirs:.2f})"

    if tc := results.get("turn_cost"):
        v = tc["server_cpu_ms_per_turn"]
        add(f"fixed CPU per turn, 50-token chat turn, ms{against('turn_cost', 'server_cpu_ms_per_turn')}",
            v, "≤ 6", v <= 6)
        q = tc["db_queries_per_turn"]
        add(f"queries per chat turn (+ {tc.get('db_transaction_statements_per_turn', '?')} BEGIN/COMMIT)"
            f"{against('turn_cost', 'db_queries_per_turn')}", q, "≤ 6", q <= 6)
    if tc := results.get("api_turn_cost"):
        v = tc["server_cpu_ms_per_turn"]
        add(f"fixed CPU per /v1 turn, 50 tokens, ms{against('api_turn_cost', 'server_cpu_ms_per_turn')}",
            v, "≤ 6", v <= 6)
        q = tc["db_queries_per_turn"]
        add(f"queries per /v1 turn (+ {tc.get('db_transaction_statements_per_turn', '?')} BEGIN/COMMIT)"
            f"{against('api_turn_cost', 'db_queries_per_turn')}", q, "≤ 6", q <= 6)
    if ab := results.get("api_burst"):
        p50, p99 = ab["first_token_added_ms"]["p50"], ab["first_token_added_ms"]["p99"]
        add(f"/v1 burst of {ab['requests']}: first token added p50 / p99 ms"
            f"{against('api_burst', 'first_token_added_ms', 'p50')}", f"{p50} / {p99}", "≤ 25 / ≤ 150",
            p50 is not None and p99 is not None and p50 <= 25 and p99 <= 150)
    if t := results.get("ttft"):
        v = t["reasoning_ms"]["p50"]
        add("added time to first token p50 ms (send → first token − provider time)", v, "≤ 3", v is not None and v <= 3)
    if b := results.get("burst"):
        v = b["first_frame_ms"]["p50"]
        add(f"{b['turns']} turns started at once: first frame p50 ms{against('burst', 'first_frame_ms', 'p50')}",
            v, "≤ 1000", v is not None and v <= 1000)
    if sm := results.get("small_turn"):
        v = sm.get("wire_bytes_over_text")
        add("bytes to the browser ÷ text, 100-token turn (on the wire, permessage-deflate)", v, "≤ 4",
            v is not None and v <= 4)
    if pe := results.get("peers"):
        from bench import peers

        po = peers.ratios(pe)
        v = po["cpu_per_chunk_paced"]
        add(f"playground ÷ LiteLLM {pe['litellm_version']} CPU per chunk, paced ({pe['paced_streams']} × 50 tok/s, "
            f"{po['paced_figure']})", v, "≤ 0.25", v is not None and v <= 0.25)
        add("playground ÷ LiteLLM CPU per chunk, unpaced", po["cpu_per_chunk_unpaced"], "(ratio)", None)
    if ap := results.get("api_peers"):
        relays, ratios = ap["rows"], ap["ratios"]
        for name, by in ratios.items():
            for ref, limit in (("bare httpx", 1.0), ("bare aiohttp", None), ("bare aiohttp+uvloop", 2.0),
                               ("LiteLLM proxy", 0.15)):
                if ref in by:
                    add(f"{name} ÷ {ref}: server CPU per chunk, {ap['streams']} × {ap['chunks_per_stream']} at "
                        f"{ap['chunks_per_s']}/s, one run ({relays[name]['cpu_us_per_chunk']} ÷ "
                        f"{relays[ref]['cpu_us_per_chunk']} µs)", by[ref], "-" if limit is None else f"≤ {limit}",
                        None if limit is None else by[ref] <= limit)
            row = relays[name]
            add(f"{name}: lateness p50 / p99 ms (median of rounds; bare aiohttp: "
                f"{relays.get('bare aiohttp', {}).get('lateness_p50_ms')} / "
                f"{relays.get('bare aiohttp', {}).get('lateness_p99_ms')})",
                f"{row['lateness_p50_ms']} / {row['lateness_p99_ms']}", "≤ 5 / ≤ 50",
                (row["lateness_p50_ms"] or 1e9) <= 5 and (row["lateness_p99_ms"] or 1e9) <= 50)
        if "largest_n_holding_p99" in ap:
            tried = "/".join(str(r["streams"]) for r in ap["series"])
            n = ap["largest_n_holding_p99"]
            add(f"/v1 streams per process at 50 chunks/s, p99 ≤ {ap['p99_limit_ms']:.0f} ms (of {tried})", n,
                "≥ 200", n >= 200)
    if ac := results.get("api_candidates"):
        base = next(iter(ac["rows"].values()))["cpu_us_per_chunk"]
        for name, row in ac["rows"].items():
            cpu = row["cpu_us_per_chunk"]
            add(f"/v1 candidates, {ac['streams']} × {ac['chunks_per_stream']} at {ac['chunks_per_s']}/s: {name}: "
                "CPU µs/chunk (÷ first); p50 / p99 ms",
                f"{cpu} (× {round(cpu / base, 3) if cpu and base else None}); "
                f"{row['lateness_p50_ms']} / {row['lateness_p99_ms']}", "(lower)", None)
    if ca := results.get("candidates"):
        where = "mid-stream" if ca["cpu_figure"] == "steady" else "whole turns"
        for row in ca["rows"]:
            add(f"candidates, {ca['streams']} × 50 tok/s: {row['candidates']}: µs/chunk {where} (÷ none); p99 ms",
                f"{row['cpu_us_per_chunk']} (× {row['cpu_over_none']}); {row['p99_ms']}", "(lower)", None)
    if rd := results.get("readers"):
        for row in rd["variants"]:
            add(f"readers alone, 50 × 50 tok/s: {row['variant']}: µs/chunk (÷ httpx)",
                f"{row['cpu_us_per_chunk']} (× {row.get('over_httpx', 1.0)})", "(lower)", None)

    if p := results.get("parsers"):
        by_size = {v["delta_chars"]: v["last_over_first"] for v in p.get("stream", [])}
        ratio, worst = by_size.get(4), max(by_size.values(), default=None)
        add("parser last/first 10% cost, 1-token deltas", ratio, "≤ 1.2", ratio is not None and ratio <= 1.2)
        add("parser last/first 10% cost, worst of 1/4/12 chars", worst, "≤ 1.2", worst is not None and worst <= 1.2)
    if r := results.get("relay"):
        cpu = r["server_cpu_us_per_chunk"]
        add("relay chunks/s ÷ bare httpx (unpaced 30k)", r["relay_over_direct"], "(ratio)", None)
        add("server CPU µs per chunk, unpaced 30k", cpu, "(lower)", None)
        add("ws frames per upstream chunk, unpaced", r["ws_frames_per_chunk"], "(≪ 1)", None)
    for key, label in (("ttft", "provider prefill 50 ms"), ("ttft_instant_provider", "instant provider")):
        if t := results.get(key):
            for block in ("reasoning", "answer"):
                p50, p99 = t[f"{block}_ms"]["p50"], t[f"{block}_ms"]["p99"]
                ok = p50 is not None and p99 is not None and p50 <= 3 and p99 <= 25
                add(f"added TTFT {block} p50 / p99 ms ({label})", f"{p50} / {p99}", "≤ 3 / ≤ 25", ok)
    if g := results.get("gateway"):
        ft, cpu = g["first_token"], g["cpu"]
        add(
            "API: TTFT p50 ms gateway / direct (added)",
            f"{ft['gateway_ms']['p50']} / {ft['direct_ms']['p50']} (+{ft['added_p50_ms']})",
            "(≤ +3)",
            ft["added_p50_ms"] is not None and ft["added_p50_ms"] <= 3,
        )
        add(
            "API: CPU µs per upstream chunk, gateway server / bare httpx reader",
            f"{cpu['gateway_server_cpu_us_per_chunk']} / {cpu['direct_reader_cpu_us_per_chunk']}"
            f" ({cpu['gateway_over_direct']}×)",
            "(≤ 1.0× relay budget)",
            None,
        )
    if s := results.get("small_turn"):
        ok = s["db_writes"] <= s["db_writes_budget"]
        add("DB writes, 100-token turn", s["db_writes"], f"≤ {s['db_writes_budget']}", ok)
        add("messages' bytes ÷ text, 100-token turn (uncompressed)", s["bytes_over_text"], "(≤ 4 on the wire)", None)
    for key, label in (("concurrency", "in-memory"), ("redis", "Redis")):
        c = results.get(key)
        if not c or "skipped" in c:
            continue
        limit = c["p99_limit_ms"]
        for run in c["at_50_tokens_per_s"]:
            lat = run["token_latency_ms"]
            ok = lat["p99"] is not None and lat["p99"] <= limit and run["complete"] == run["streams"]
            add(
                f"{label}: {run['streams']}×50 tok/s p50/p99 ms; delivered; complete",
                f"{lat['p50']} / {lat['p99']}; {run['delivered_over_offered']}; {run['complete']}",
                f"p99 ≤ {limit:.0f}",
                ok,
            )
            add(
                f"{label}: {run['streams']}×50 tok/s server CPU µs/chunk mid-stream; CPU%; RSS MB",
                f"{run['server_cpu_us_per_chunk_steady']} (whole turns: {run['server_cpu_us_per_chunk']}); "
                f"{run['server_cpu_pct']}%; {run['server_rss_mb_max']}",
                "(lower)",
                None,
            )
        n = c["largest_n_holding_p99"]
        add(f"{label}: largest N at 50 tok/s holding p99", n, "≥ 200" if label == "in-memory" else "≥ 160", None)
        for run in c.get("fast_streams", []):
            add(
                f"{label}: {run['streams']}×{run['tokens_per_s']:.0f} tok/s frames/s per turn (max 1 s window)",
                run["frames_per_s_per_turn_max"],
                "≤ 30",
                (run["frames_per_s_per_turn_max"] or 0) <= 30,
            )
    if st := results.get("stall"):
        add(
            f"stalled client {st['seconds']} s: server RSS growth MB; turn whole",
            f"{st['rss_growth_mb']}; {st['turn_whole_after_resume']}",
            "(bounded)",
            st["turn_whole_after_resume"] and st["rss_growth_mb"] < 50,
        )
    pg = results.get("page")
    if pg and "skipped" not in pg:
        tasks = f"{pg['long_tasks']}; {pg['longest_task_ms']}"
        add("page: long tasks > 50 ms, 4× throttle (count; longest ms)", tasks, "(none)", pg["long_tasks"] == 0)
        over = f"{pg['long_tasks_over_budget']}; {pg['longest_task_ms']}"
        add("page: tasks > 100 ms, 4× throttle (count; longest ms)", over, "0", pg["long_tasks_over_budget"] == 0)
        free = f"{pg['tasks_over_budget_on_a_free_core']}; {pg['longest_task_on_a_free_core_ms']}"
        ok = pg["tasks_over_budget_on_a_free_core"] == 0
        add("page: tasks > 100 ms on a free core of the 4× device (count; longest ms)", free, "0", ok)
        gap = pg["longest_frame_gap_ms"]
        add("page: longest gap between painted frames ms", gap, "(≤ 50)", gap <= 50)
        add("page: DOM nodes added per 1k tokens", pg["nodes_per_1k_tokens"], "(small)", None)
        fps = pg["frames_per_s_max"]
        add("frames/s per turn at 2,000 tok/s (max 1 s window)", fps, "≤ 30", fps <= 30)
        add("bytes to browser ÷ text, 30k-token turn", pg["bytes_over_text"], "≤ 4", pg["bytes_over_text"] <= 4)
        ok = pg["db_writes"] <= pg["db_writes_budget"]
        beats = pg.get("db_writes_of_the_process", "?")
        add(f"DB writes, 30k-token turn at 2,000 tok/s (+ the process's heartbeat: {beats})",
            pg["db_writes"], f"≤ {pg['db_writes_budget']}", ok)
    return rows


def print_table(rows: list[tuple[str, str, str, str]], markdown: bool = False) -> None:
    if markdown:  # the rows of bench/README.md's table
        print("| figure | measured | budget (DESIGN.md) | holds |\n| --- | --- | --- | --- |")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("figure", "measured", "budget", "holds")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    for row in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def print_side_by_side(rows: list[tuple[str, str, str]], markdown: bool = False) -> None:
    print()
    if markdown:
        print("| figure (same run) | playground | LiteLLM proxy |\n| --- | --- | --- |")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in (("figure", "playground", "LiteLLM"), *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--full", action="store_true", help="the long runs")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma list of {SECTIONS + EXTRA_SECTIONS}")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    parser.add_argument("--peers", action="store_true",
                        help="also run the LiteLLM proxy (installed once into bench/.peers-venv) on the same workload")
    parser.add_argument("--table", metavar="RESULTS", help="only print the table of a results file")
    parser.add_argument("--baseline", metavar="DIR", type=Path,
                        help="sections cost and api --peers: also measure the code checked out in DIR, in the same run")
    args = parser.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    if args.table:
        print_table(summary(json.loads(Path(args.table).read_text())), args.markdown)
        return
    cfg = FULL if args.full else QUICK
    harness.pin_self()
    started = time.monotonic()
    results: dict[str, Any] = {
        "mode": "full" if args.full else "quick",
        "command": "python -m bench" + (" --full" if args.full else "") + (" --peers" if args.peers else "")
        + (f" --only {args.only}" if args.only != ",".join(SECTIONS) else ""),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "server_cores": sorted(harness.SERVER_CORES),
            "bench_cores": sorted(harness.BENCH_CORES),
        },
        "frame_interval_s": FRAME_INTERVAL,
    }
    with contextlib.suppress(OSError):
        results["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=harness.ROOT
        ).stdout.strip()
    if "candidates" in only:
        log("candidates: issue 11's speed changes, one at a time, 50 × 50 tok/s")
        results["candidates"] = asyncio.run(candidates(cfg))
    if "readers" in only:
        log("upstream readers alone, 50 × 50 tok/s")
        from bench import readers

        upstream = harness.Upstream()
        try:
            results["readers"] = asyncio.run(readers.run(upstream, list(readers.VARIANTS)))
        finally:
            upstream.close()
    if "parsers" in only:
        log("parsers")
        from bench import parsers

        results["parsers"] = parsers.run()
    if "api-candidates" in only:
        log("api-candidates: the /v1 workload on each server variant, rotated rounds")
        from bench import api_peers

        results["api_candidates"] = asyncio.run(api_peers.run(
            api_peers.CANDIDATES, references=("httpx", "aiohttp+uvloop"), litellm=False, series=(),
            extra_path=os.environ.get("BENCH_EXTRA_PATH", ""),
        ))
    if args.peers and "api" in only:
        # The /v1 workload beside its references in one run (bench.api_peers) instead of alone.
        only.discard("api")
        log("api + peers: /v1, bare httpx / aiohttp / aiohttp+uvloop and LiteLLM, one run")
        from bench import api_peers

        # With --baseline DIR, a server of DIR's code takes the same rounds and series.
        servers: dict[str, dict[str, str]] = {"playground /v1": {}}
        if args.baseline:
            servers[f"baseline /v1 ({args.baseline})"] = {"BENCH_CODE": str(args.baseline)}
        results["api_peers"] = asyncio.run(api_peers.run(servers))
    asyncio.run(run_server_sections(cfg, only, results, args.baseline))
    if args.peers and "concurrency" in only:
        log("peers: the playground and the LiteLLM proxy, same workload")
        from bench import peers

        results["peers"] = asyncio.run(peers.run(cfg["stream_seconds"]))
    results["seconds"] = round(time.monotonic() - started, 1)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")  # kept even if the table below fails
    keys = ("figure", "measured", "budget", "holds")
    results["summary"] = [dict(zip(keys, row, strict=True)) for row in summary(results)]
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print_table(summary(results), args.markdown)
    if "peers" in results:
        from bench import peers

        print_side_by_side(peers.rows(results["peers"]), args.markdown)
    for key in ("api_peers", "api_candidates"):
        if key in results:
            from bench import api_peers

            print(f"\n{key}:")
            api_peers.print_table(results[key], args.markdown)
    log(f"wrote {args.out} in {results['seconds']} s")


if __name__ == "__main__":
    main()
