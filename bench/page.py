"""The page under a long fast thought, in headless Chromium.

The chat page of one conversation is open in Chromium (logged in with the bench
session); a bench socket on the same conversation sends the prompt, so the page
receives exactly the frames any watcher gets: a 30k-token reasoning stream at
2,000 tokens/s, then a short answer and the final re-render. In the page:

* with Chromium's CPU throttled 4× (DevTools Emulation.setCPUThrottlingRate, as
  DESIGN's budget is set): long tasks (PerformanceObserver "longtask", > 50 ms):
  count, those over 100 ms, and the longest (wall time);
* the same tasks from Chromium's trace ("toplevel"): what each takes on a free core
  of the 4× slower device. Chromium throttles by making the main thread busy-wait
  in a signal handler (ThreadCPUThrottler::HandleSignal spins 3 ms for every 1 ms
  the thread ran, at 4×), so a task's thread CPU time under the throttle already
  holds the throttle: a fixed JS loop of 5.5 ms of thread time takes 24.4-25.1 ms
  at 4×. Multiplied by the throttle again (what this section did until the fifth
  round) it counted every task 4× too long. `throttle_calibration` measures that
  ratio in the same browser on each run (a fixed loop at 1× and at 4×); the figure
  is the thread time × throttle ÷ that ratio (never below the thread time itself,
  which on a loaded machine also holds 3× every preemption the handler saw), so it
  stays right if Chromium ever throttles without spinning. Wall time on a loaded
  machine stretches with the load, as the long-task observer shows;
* the longest gap between two animation frames (requestAnimationFrame deltas);
* DOM nodes added (MutationObserver), per 1,000 tokens;
* bytes the browser received on its websocket, over the final text.

The bench socket gives frames per second; the server's counters give database
statements for the turn.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import tempfile
import time
from typing import Any

from bench.harness import Server, Socket, TurnRecord, Upstream, max_frames_per_second, process_writes, turn_writes
from bench.upstream_proc import TOKEN_CHARS

CHROMIUM = "/usr/bin/chromium"
THROTTLE = 4  # DESIGN's page budget (no task over 100 ms) is set under a 4× CPU throttle
BUDGET_MS = 100
# LONG_THOUGHT_TRACE=<file>: Chromium's whole trace (devtools.timeline too) is written there (bench.trace_tasks).
TRACE_TO = os.environ.get("LONG_THOUGHT_TRACE")
# LONG_THOUGHT_SCREENSHOT=<file.png>: the page mid-stream, to see what a reader sees (and the DOM's
# size then, under "mid_stream"). Off by default: the screenshot costs the page CPU while measured.
SCREENSHOT_TO = os.environ.get("LONG_THOUGHT_SCREENSHOT")
# LONG_THOUGHT_TRACE_MORE=",<category>...": more categories in that trace (e.g. what invalidated layout:
# disabled-by-default-devtools.timeline.invalidationTracking).
TRACE_MORE = os.environ.get("LONG_THOUGHT_TRACE_MORE", "")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PROBE = """
(() => {
  const b = window.__bench = {
    longtasks: [], maxGap: 0, maxGapAt: 0, slowFrames: 0, t0: 0, gaps: 0, nodes: 0, last: 0,
    open: false, on: false,
  };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (b.on) b.longtasks.push([e.startTime - b.t0, e.duration]);
    }).observe({type: "longtask", buffered: false});
  } catch (e) { b.noLongtask = String(e); }
  function tick(t) {
    if (b.on && b.last) {
      const d = t - b.last; b.gaps++;
      if (d > b.maxGap) { b.maxGap = d; b.maxGapAt = t - b.t0; }
      if (d > 50) b.slowFrames++;
    }
    b.last = t;
    requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);
  new MutationObserver((ms) => {
    if (!b.on) return;
    for (const m of ms) b.nodes += m.addedNodes.length;
  }).observe(document, {childList: true, subtree: true, characterData: false});
  document.addEventListener("htmx:wsOpen", () => { b.open = true; });
})();
"""


async def run(server: Server, upstream: Upstream, tokens: int, rate: float) -> dict[str, Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        return {"skipped": "playwright is not installed"}
    if not shutil.which(CHROMIUM):
        return {"skipped": f"no Chromium at {CHROMIUM}"}
    (conversation,) = server.take_conversations(1)
    profile = tempfile.mkdtemp(prefix="bench-chromium-")
    received = {"bytes": 0, "messages": 0}
    try:
        async with async_playwright() as pw:
            context = await pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=ARGS, headless=True,
                viewport={"width": 1280, "height": 900},
            )
            try:
                await context.add_cookies(
                    [{"name": "sessionid", "value": server.session, "url": server.url}]
                )
                page = context.pages[0] if context.pages else await context.new_page()
                await page.add_init_script(PROBE)

                def on_socket(ws: Any) -> None:
                    def on_frame(payload: str | bytes) -> None:
                        received["messages"] += 1
                        received["bytes"] += len(payload.encode() if isinstance(payload, str) else payload)

                    ws.on("framereceived", on_frame)

                page.on("websocket", on_socket)
                await page.goto(f"{server.url}/c/{conversation}/")
                await page.wait_for_function("window.__bench && window.__bench.open", timeout=15_000)
                await asyncio.sleep(0.5)  # the socket joined its group
                # Playwright injects its own script on the first selector call (~65 ms of CPU, 4x that
                # throttled): made now, so that what is traced is the page's work, not the harness's.
                await page.locator("body").evaluate("b => b.isConnected")
                cdp = await context.new_cdp_session(page)
                calibration = await throttle_calibration(page, cdp)
                await cdp.send("Emulation.setCPUThrottlingRate", {"rate": THROTTLE})
                trace: list[dict[str, Any]] = []
                traced = asyncio.Event()
                cdp.on("Tracing.dataCollected", lambda params: trace.extend(params["value"]))
                cdp.on("Tracing.tracingComplete", lambda params: traced.set())
                categories = "toplevel"
                if TRACE_TO:  # what each task did, for `python -m bench.trace_tasks`
                    categories += ",devtools.timeline,v8,disabled-by-default-devtools.timeline" + TRACE_MORE
                await cdp.send("Tracing.start", {"categories": categories, "transferMode": "ReportEvents"})
                sock = await Socket(server, conversation).open()
                r, c = tokens, 100
                record = TurnRecord(f"page-{time.monotonic_ns()}", r, c, rate)
                received.update(bytes=0, messages=0)
                await server.stats(reset=True)
                await page.evaluate("window.__bench.t0 = performance.now(); window.__bench.on = true")
                t0 = time.monotonic()
                mid: dict[str, Any] = {}
                shot = (asyncio.create_task(_mid_stream(page, cdp, tokens / rate / 2, SCREENSHOT_TO, mid))
                        if SCREENSHOT_TO else None)
                await sock.turn(record, timeout=tokens / rate * 4 + 60)
                if shot:
                    await shot
                await page.wait_for_selector(
                    f"#turn-{record.turn}[data-status=complete]", state="attached", timeout=180_000
                )
                await asyncio.sleep(0.5)
                probe = await page.evaluate(
                    "(() => { const b = window.__bench; b.on = false; return b; })()"
                )
                await cdp.send("Tracing.end")
                await asyncio.wait_for(traced.wait(), 60)
                if TRACE_TO:
                    await asyncio.to_thread(_write_trace, TRACE_TO, trace)
                stats = await server.stats()
                shown = await page.evaluate(
                    f"document.querySelector('#t{record.turn}-r').textContent.length"
                )
                await sock.close()
            finally:
                await context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    await upstream.times([record.tag])
    text_bytes = (r + c) * TOKEN_CHARS
    streaming_s = (record.frames[-1][0] - record.frames[0][0]) if record.frames else 0.0
    longtasks = [d for _, d in probe.get("longtasks", [])]
    task_cpu = _main_thread_task_cpu_ms(trace)
    on_a_free_core = [c * calibration["scale"] for c in task_cpu]
    final_at = (record.done_at - t0) * 1000 if record.done_at else None
    return {
        "tokens": r + c,
        "tokens_per_s": rate,
        "streaming_s": round(streaming_s, 2),
        "long_tasks": len(longtasks),
        "longest_task_ms": round(max(longtasks, default=0.0), 1),
        "longtask_observer": probe.get("noLongtask") or "ok",
        "cpu_throttle": THROTTLE,
        "long_tasks_over_budget": sum(1 for d in longtasks if d > BUDGET_MS),
        "tasks_over_budget_on_a_free_core": sum(1 for c in on_a_free_core if c > BUDGET_MS),
        "longest_task_on_a_free_core_ms": round(max(on_a_free_core, default=0.0), 1),
        "throttle_calibration": calibration,
        # The figure of earlier rounds (thread time × throttle: the throttle counted twice), for comparison.
        "tasks_over_budget_cpu_x_throttle": sum(1 for c in task_cpu if c * THROTTLE > BUDGET_MS),
        "longest_task_cpu_x_throttle_ms": round(max(task_cpu, default=0.0) * THROTTLE, 1),
        # All the page's main-thread work over the turn (CPU, unthrottled): less noisy than counts over a line.
        "main_thread_cpu_ms": round(sum(task_cpu)),
        "task_cpu_ms_p50_p90_of_those_over_5ms": _p50_p90([c for c in task_cpu if c > 5]),
        "long_task_times_ms": [[round(a), round(d)] for a, d in probe.get("longtasks", [])],
        "final_render_at_ms": round(final_at) if final_at else None,
        "longest_frame_gap_ms": round(probe.get("maxGap", 0.0), 1),
        "longest_frame_gap_at_ms": round(probe.get("maxGapAt", 0.0)),
        "frames_over_50ms": probe.get("slowFrames", 0),
        "animation_frames": probe.get("gaps", 0),
        "nodes_added": probe.get("nodes", 0),
        "nodes_per_1k_tokens": round(probe.get("nodes", 0) / ((r + c) / 1000), 2),
        "frames": len(record.frames),
        "frames_per_s_mean": round(len(record.frames) / streaming_s, 1) if streaming_s else None,
        "frames_per_s_max": max_frames_per_second(record),
        "browser_bytes": received["bytes"],
        "browser_messages": received["messages"],
        "bytes_over_text": round(received["bytes"] / text_bytes, 3),
        "reasoning_chars_shown": shown,
        "reasoning_chars_expected": r * TOKEN_CHARS,
        "db_queries": stats["queries"],
        "db_writes": turn_writes(stats),
        "db_writes_of_the_process": process_writes(stats),
        "db_writes_by_what": stats.get("writes_by_what"),
        "db_writes_budget": round(5 + streaming_s, 1),
        **({"mid_stream": mid} if SCREENSHOT_TO else {}),
    }


async def _mid_stream(page: Any, cdp: Any, after_s: float, path: str, out: dict[str, Any]) -> None:
    await asyncio.sleep(after_s)
    # Chromium's own capture (Playwright's waits for the page's fonts and frames: under the throttle
    # that came after the end of the turn).
    shot = await cdp.send("Page.captureScreenshot", {"format": "png"})
    await asyncio.to_thread(_write_png, path, base64.b64decode(shot["data"]))
    out.update(await page.evaluate("""() => {
      const r = document.querySelector('.reasoning.streaming');
      const all = document.getElementsByTagName('*').length;
      if (!r) return {elements: all};
      return {elements: all, in_block: r.getElementsByTagName('*').length,
              chunks: r.querySelectorAll('.md-chunk').length, segments: r.querySelectorAll('.segment').length,
              text_nodes: Array.from(r.childNodes).filter(n => n.nodeType === 3).length,
              open: !!(r.closest('details') || {}).open, scroll: [r.scrollTop, r.scrollHeight, r.clientHeight]};
    }"""))


# A fixed piece of work, timed by Chromium's trace as one task: the loop of `throttle_calibration`
# (and of the long-thought page test's).
CALIBRATION_LOOP = """() => new Promise(done => {
  let n = 0;
  function work() {
    let x = 0;
    for (let i = 0; i < 2e6; i++) x += Math.sqrt(i);
    window.__calibrated = x;
    if (++n < 5) setTimeout(work, 30); else setTimeout(done, 60);
  }
  setTimeout(work, 30);
})"""


async def throttle_calibration(page: Any, cdp: Any) -> dict[str, Any]:
    """The thread CPU time of one fixed loop unthrottled and at THROTTLE, in this browser
    (median of 5 each), and so the factor from a throttled task's thread time to its time
    on a free core of the slower device: THROTTLE ÷ the measured ratio, at most 1 ... THROTTLE."""
    per_rate = {}
    for rate in (1, THROTTLE):
        await cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
        events: list[dict[str, Any]] = []
        traced = asyncio.Event()

        def collect(params: dict[str, Any], events: list[dict[str, Any]] = events) -> None:
            events.extend(params["value"])

        def complete(params: dict[str, Any], traced: asyncio.Event = traced) -> None:
            traced.set()

        cdp.on("Tracing.dataCollected", collect)
        cdp.on("Tracing.tracingComplete", complete)
        await cdp.send("Tracing.start", {"categories": "toplevel", "transferMode": "ReportEvents"})
        await page.evaluate(CALIBRATION_LOOP)
        await cdp.send("Tracing.end")
        await asyncio.wait_for(traced.wait(), 30)
        cdp.remove_listener("Tracing.dataCollected", collect)
        cdp.remove_listener("Tracing.tracingComplete", complete)
        loops = sorted(c for c in _main_thread_task_cpu_ms(events) if c > 1)[-5:]
        per_rate[rate] = loops[len(loops) // 2] if loops else 0.0
    await cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
    return calibration_figures(per_rate[1], per_rate[THROTTLE])


def calibration_figures(unthrottled_ms: float, throttled_ms: float) -> dict[str, float]:
    """From the loop's thread time unthrottled and at THROTTLE: their ratio, and the factor
    from a throttled task's thread time to its time on a free core of the slower device,
    THROTTLE ÷ the ratio kept within 1 ... THROTTLE (the page test uses it too)."""
    ratio = throttled_ms / unthrottled_ms if unthrottled_ms else float(THROTTLE)
    return {
        "loop_thread_ms_unthrottled": round(unthrottled_ms, 2),
        "loop_thread_ms_throttled": round(throttled_ms, 2),
        "ratio": round(ratio, 2),
        "scale": round(THROTTLE / min(max(ratio, 1.0), THROTTLE), 3),
    }


def _p50_p90(values: list[float]) -> list[float]:
    v = sorted(values)
    return [round(v[len(v) // 2], 1), round(v[int(len(v) * 0.9)], 1)] if v else []


def _write_png(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def _write_trace(path: str, events: list[dict[str, Any]]) -> None:
    with open(path, "w") as f:
        json.dump({"traceEvents": events}, f)


def _main_thread_task_cpu_ms(events: list[dict[str, Any]]) -> list[float]:
    """The CPU time (ms) of each task of the page's main thread, from a "toplevel"
    trace: the renderer main thread that worked hardest is the page's."""
    names = {(e["pid"], e["tid"]): e["args"].get("name") for e in events if e.get("name") == "thread_name"}
    tasks: dict[tuple[int, int], list[float]] = {}
    for e in events:
        if (e.get("name") == "ThreadControllerImpl::RunTask" and e.get("ph") == "X"
                and names.get((e["pid"], e["tid"])) == "CrRendererMain"):
            tasks.setdefault((e["pid"], e["tid"]), []).append(e.get("tdur", 0) / 1000)
    return max(tasks.values(), key=sum, default=[])
