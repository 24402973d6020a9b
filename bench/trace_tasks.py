"""What the page's long tasks did, from a Chromium trace with devtools.timeline.

    python -m bench.trace_tasks TRACE.json [--scale 1] [--over 100]

TRACE.json is what `LONG_THOUGHT_TRACE=TRACE.json pytest tests/browser/test_playground_long_thoughts.py`
(or `python -m bench --only page`) writes. For each task of the busiest renderer main thread whose
time on a free core of the throttled device passes `--over` ms: that time, its wall time, and its
CPU split by what ran inside it (self time per trace event name: Layout, Paint, MajorGC,
FunctionCall, ParseHTML...), largest first.

A task's time on a free core of the throttled device is its thread CPU time × `--scale`. Chromium
throttles the CPU by making the main thread busy-wait in a signal handler, so a throttled task's
thread time already holds the throttle: `--scale 1` (bench/page.py's `throttle_calibration`
measures it on each run). Before the fifth round this multiplied by the throttle (4) again.
"""

from __future__ import annotations

import argparse
import collections
import json
from typing import Any


def spans(events: list[dict[str, Any]], pid: int, tid: int) -> list[tuple[float, float, float, str, dict[str, Any]]]:
    """(start, end, cpu ms, name, args) of every complete event on one thread (X, and B/E pairs)."""
    out = []
    open_: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for e in sorted((e for e in events if e.get("pid") == pid and e.get("tid") == tid), key=lambda e: e["ts"]):
        ph = e.get("ph")
        if ph == "X":
            out.append((e["ts"], e["ts"] + e.get("dur", 0), e.get("tdur", e.get("dur", 0)) / 1000,
                        e["name"], e.get("args", {})))
        elif ph == "B":
            open_[e["name"]].append(e)
        elif ph == "E" and open_[e["name"]]:
            b = open_[e["name"]].pop()
            clock = "tts" if "tts" in e and "tts" in b else "ts"  # thread CPU time when the trace has it
            cpu = (e[clock] - b[clock]) / 1000
            out.append((b["ts"], e["ts"], cpu, e["name"], b.get("args", {})))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--scale", type=float, default=1,
                    help="thread time → time on a free core of the throttled device (1: the throttle spins)")
    ap.add_argument("--over", "--budget", dest="over", type=float, default=100,
                    help="show tasks whose time on a free core passes this (ms)")
    args = ap.parse_args()
    with open(args.trace) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    names = {(e["pid"], e["tid"]): e["args"].get("name") for e in events if e.get("name") == "thread_name"}
    load: collections.Counter[tuple[int, int]] = collections.Counter()
    for e in events:
        if e.get("name") == "ThreadControllerImpl::RunTask" and names.get((e["pid"], e["tid"])) == "CrRendererMain":
            load[(e["pid"], e["tid"])] += e.get("tdur", 0)
    if not load:
        raise SystemExit("no renderer main thread in the trace")
    (pid, tid), _ = load.most_common(1)[0]
    all_spans = spans(events, pid, tid)
    tasks = [s for s in all_spans if s[3] == "ThreadControllerImpl::RunTask"]
    t0 = min(s[0] for s in all_spans)
    inner = sorted((s for s in all_spans if s[3] != "ThreadControllerImpl::RunTask"), key=lambda s: (s[0], -s[1]))
    shown = 0
    for start, end, cpu, _, _ in tasks:
        if cpu * args.scale <= args.over:
            continue
        shown += 1
        inside = [s for s in inner if s[0] >= start and s[1] <= end]
        # Self CPU per name: an event's CPU less that of the events nested directly in it.
        entries: list[list[Any]] = []  # [end, self cpu, label]
        stack: list[list[Any]] = []
        for s in inside:
            while stack and s[0] >= stack[-1][0]:
                stack.pop()
            label = s[3]
            data = s[4].get("data") or {}
            if label in ("FunctionCall", "TimerFire", "EventDispatch") and data:
                label += f"({data.get('functionName') or data.get('type') or data.get('url', '').rsplit('/', 1)[-1]})"
            if stack:
                stack[-1][1] -= s[2]
            entry = [s[1], s[2], label]
            stack.append(entry)
            entries.append(entry)
        self_cpu: collections.Counter[str] = collections.Counter()
        for _, own, label in entries:
            self_cpu[label] += own
        top = ", ".join(f"{n} {c:.1f}" for n, c in self_cpu.most_common(6) if c >= 0.5)
        print(f"at {(start - t0) / 1e6:7.2f} s: free core {cpu * args.scale:6.1f} ms,"
              f" wall {(end - start) / 1000:6.1f} ms | CPU ms: {top}")
    print(f"{shown} of {len(tasks)} tasks over {args.over:g} ms on a free core (thread time × {args.scale:g})")


if __name__ == "__main__":
    main()
