"""Issue "playground" part 6, in Chromium: a long thought streams without
freezing the page. Frames append text nodes to the open block and nothing else;
the page's element count stays flat while it streams; markdown is rendered once,
when the turn ends; long tasks stay rare and short.

The full-size run (30k reasoning tokens at 2,000 tokens/s) needs the server to go
that fast: `BROWSER_SIMULATOR_TOKENS_PER_SECOND=2000 pytest tests/browser/test_playground_long_thoughts.py -s`.
At the harness's default pace the same test streams ten seconds' worth.

DESIGN's budget (issue 23.5): under a 4× CPU throttle no task of the page's main
thread passes 100 ms, from the first frame to the finished turn, and while a reader
opens the long thought afterwards. Chromium measures it twice: the long-task
observer (wall time) and its trace (each task's wall time and its thread's CPU
time). Wall time is what a person waits, but on a starved machine (the suite runs
two workers on two cores, beside the server and Chromium) it stretches with the
load. Chromium throttles by making the page's main thread busy-wait in a signal
handler (3 ms of spinning for each 1 ms it ran, at 4×), so a task's thread CPU time
under the throttle is what it takes on a free core of the 4× slower device: the
spin is in it (a fixed loop of 5.5 ms takes 24-25 ms of thread time at 4×; the test
measures that ratio in its own browser, and scales by it should Chromium ever
throttle without spinning). That is the budget asserted here; the wall times are
reported beside it. (Until the fifth round of issue 23 the thread time was multiplied
by the throttle again, counting every task 4× too long.)
"""

from __future__ import annotations

import collections
import json
import os
import re
import time
from typing import Any

import pytest

from bench.page import CALIBRATION_LOOP, calibration_figures

pytestmark = pytest.mark.browser
THROTTLE = 4  # Chromium's CPU throttling rate while the thought streams
BUDGET_MS = 100  # DESIGN: no task over 100 ms under the throttle
# LONG_THOUGHT_TRACE=<file>: Chromium's whole trace (devtools.timeline too) is written there, for
# `python -m bench.trace_tasks <file>` to say what each long task did. Off by default: it costs CPU.
TRACE_TO = os.environ.get("LONG_THOUGHT_TRACE")

OBSERVE = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longTasks.push(Math.round(e.duration));
}).observe({type: "longtask", buffered: true});
window.__rafGaps = [];
let __last = performance.now();
requestAnimationFrame(function frame(t) {
  window.__rafGaps.push(t - __last); __last = t; requestAnimationFrame(frame);
});
"""


def throttle_scale(page: Any, cdp: Any) -> tuple[float, dict[str, float]]:
    """The factor from a throttled task's thread time to its time on a free core of the slower
    device: THROTTLE ÷ (a fixed loop's thread time at THROTTLE ÷ unthrottled), kept within
    1 ... THROTTLE. With Chromium's spinning throttle the ratio is ~THROTTLE and the factor ~1."""
    per_rate = {}
    for rate in (1, THROTTLE):
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
        trace = MainThreadTasks(cdp, detailed=False)
        trace.start()
        page.evaluate(CALIBRATION_LOOP)
        loops = sorted(cpu for _, cpu in trace.stop(page) if cpu > 1)[-5:]
        trace.detach()
        per_rate[rate] = loops[len(loops) // 2] if loops else 0.0
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
    figures = calibration_figures(per_rate[1], per_rate[THROTTLE])
    return figures.pop("scale"), figures


class MainThreadTasks:
    """Every task run on the page's main thread while traced (Chromium's "toplevel"
    trace category): its wall time and its thread's CPU time, in ms."""

    def __init__(self, cdp: Any, detailed: bool = True) -> None:
        self.cdp = cdp
        self.detailed = detailed
        self.events: list[dict[str, Any]] = []
        self.complete = False
        cdp.on("Tracing.dataCollected", self._collect)
        cdp.on("Tracing.tracingComplete", self._complete)

    def _collect(self, params: dict[str, Any]) -> None:
        self.events.extend(params["value"])

    def _complete(self, params: dict[str, Any]) -> None:
        self.complete = True

    def detach(self) -> None:
        self.cdp.remove_listener("Tracing.dataCollected", self._collect)
        self.cdp.remove_listener("Tracing.tracingComplete", self._complete)

    def start(self) -> None:
        categories = "toplevel"
        if TRACE_TO and self.detailed:  # what each task did (layout, paint, GC, script), for a long task's cause
            categories += ",devtools.timeline,v8,disabled-by-default-devtools.timeline"
        self.cdp.send("Tracing.start", {"categories": categories, "transferMode": "ReportEvents"})

    def stop(self, page: Any) -> list[tuple[float, float]]:
        self.cdp.send("Tracing.end")
        deadline = time.monotonic() + 60
        while not self.complete and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert self.complete, "Chromium's trace did not complete"
        if TRACE_TO and self.detailed:
            with open(TRACE_TO, "w") as f:
                json.dump({"traceEvents": self.events}, f)
        names = {(e["pid"], e["tid"]): e["args"].get("name") for e in self.events if e.get("name") == "thread_name"}
        tasks = collections.defaultdict(list)
        for e in self.events:
            if (e.get("name") == "ThreadControllerImpl::RunTask" and e.get("ph") == "X"
                    and names.get((e["pid"], e["tid"])) == "CrRendererMain"):
                tasks[(e["pid"], e["tid"])].append((e.get("dur", 0) / 1000, e.get("tdur", 0) / 1000))
        # The page's renderer is the one that worked hardest.
        return max(tasks.values(), key=lambda t: sum(cpu for _, cpu in t), default=[])


def test_a_long_thought_streams_without_freezing_the_page(logged_in_page, server):
    rate = int(server.env["SIMULATOR_TOKENS_PER_SECOND"])
    reasoning_tokens = 30_000 if rate >= 2000 else rate * 10
    server.shell(
        "from playground.models import ModelProfile, Provider\n"
        "p = Provider.objects.get(name='offline')\n"
        "ModelProfile.objects.update_or_create(provider=p, model_id='simulator-marathon', defaults=dict("
        "label='Simulator marathon', reasoning='markup', markup='think', thinking_control='simulator',"
        f" efforts=['low', 'medium', 'high'], options={{'reasoning_tokens': {reasoning_tokens},"
        " 'tokens_per_second': 2000}, position=99))\n"
    )
    page = logged_in_page
    page.add_init_script(OBSERVE)
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label="Simulator marathon")
    page.get_by_label("Prompt").fill("Think long about 12*34")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    page.wait_for_load_state("load")  # the page's own loading is not what is measured
    pk = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
    page.evaluate("id => { window.__streamedBlock = document.getElementById(`t${id}-r`); }", pk)
    # Playwright evaluates its own script in the page's world on the first locator call there (100 ms of
    # CPU at 4x in Chromium's trace): made now, so that what is traced is the page's work, not the test's.
    page.locator("body").evaluate("b => b.isConnected")
    cdp = page.context.new_cdp_session(page)
    scale, calibration = throttle_scale(page, cdp)
    trace = MainThreadTasks(cdp)
    trace.start()
    # A slower device (DESIGN's budget is set under a 4× CPU throttle, issue 23.5).
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": THROTTLE})
    cdp.send("Performance.enable")
    before = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    page.evaluate("() => { window.__longTasks = []; window.__rafGaps = []; }")
    started = time.monotonic()

    # Sample cheaply (no reading of the streamed text): status, text nodes in the block, elements (all, in the block,
    # segments).
    samples = []
    chunks = []  # .md-chunk wrappers of the rendered blocks (stream_markdown.js)
    boxes_full = []  # the block's containment once it filled its box (playground.js, follow)
    labels = []  # the live label's summary's containment (app.css: its seconds lay out the summary alone)
    while True:
        status, nodes, elements, in_block, segments, in_chunks, full, label = page.evaluate(
            "id => { const r = document.getElementById(`t${id}-r`);"
            " const live = document.querySelector(`#turn-${id} .thinking-label.live`);"
            " return [document.getElementById(`turn-${id}`).dataset.status, r.childNodes.length,"
            " document.getElementsByTagName('*').length, r.getElementsByTagName('*').length,"
            " r.getElementsByClassName('segment').length, r.getElementsByClassName('md-chunk').length,"
            " r.classList.contains('box-full') && getComputedStyle(r).contain,"
            " live && getComputedStyle(live.parentElement).contain]; }",
            pk,
        )
        if status != "streaming":
            break
        samples.append((nodes, elements, in_block, segments))
        chunks.append(in_chunks)
        boxes_full.append(full)
        labels.append(label)
        time.sleep(0.5)
    seconds = time.monotonic() - started
    after = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    # The finished turn kept the thought the page streamed (no second render of it): the same element.
    page.wait_for_timeout(1000)
    kept = page.evaluate("id => document.getElementById(`t${id}-r`) === window.__streamedBlock", pk)
    assert page.locator(f"#turn-{pk} details.thought").evaluate("d => d.open") is False
    # A reader opens the long thought: what it still held as plain text is rendered, a slice per task.
    page.locator(f"#turn-{pk} details.thought > summary").click()
    page.wait_for_selector(f"#t{pk}-r.markdown:not(.md-pending)", state="attached", timeout=60_000)
    page.wait_for_timeout(500)
    long_tasks, gaps = page.evaluate("() => [window.__longTasks, window.__rafGaps]")
    tasks = trace.stop(page)

    stored = json.loads(server.shell(
        f"from playground.models import Turn\nt = Turn.objects.get(pk={pk})\n"
        "from html.parser import HTMLParser\nfrom playground.markdown import render\n"
        "class Count(HTMLParser):\n    n = 0\n    def handle_starttag(self, tag, attrs): self.n += 1\n"
        "c = Count()\nc.feed(render(t.reasoning))\n"
        "import json\nprint(json.dumps([t.reasoning, t.reasoning_tokens, c.n]))\n"
    ).strip().splitlines()[-1])
    reasoning, tokens, server_elements = stored
    chars = len(reasoning)
    nodes = max(s[0] for s in samples)
    elements = [s[1] for s in samples]
    figures = {
        "reasoning_tokens": tokens,
        "stream_seconds": round(seconds, 1),
        "text_nodes_in_block": nodes,
        "text_nodes_per_1k_tokens": round(nodes / (tokens / 1000), 1),
        "elements_while_streaming": [min(elements), max(elements)],
        "elements_after_markdown": page.evaluate("() => document.getElementsByTagName('*').length"),
        "long_tasks": len(long_tasks),
        "longest_task_ms": max(long_tasks, default=0),
        "tasks": len(tasks),
        "tasks_over_budget_wall": sum(1 for wall, _ in tasks if wall > BUDGET_MS),
        "longest_task_wall_ms": round(max((wall for wall, _ in tasks), default=0)),
        "tasks_over_budget_on_a_free_core": sum(1 for _, cpu in tasks if cpu * scale > BUDGET_MS),
        "longest_task_on_a_free_core_ms": round(max((cpu for _, cpu in tasks), default=0) * scale),
        "throttle_calibration": calibration,
        "task_cpu_ms_top": sorted(round(cpu, 1) for _, cpu in tasks)[-8:],
        "thought_kept_at_the_end": kept,
        "max_frame_gap_ms": round(max(gaps, default=0)),
        "main_thread_busy_s": round(after["TaskDuration"] - before["TaskDuration"], 2),
        "layout_s": round(after["LayoutDuration"] - before["LayoutDuration"], 2),
        "script_s": round(after["ScriptDuration"] - before["ScriptDuration"], 2),
    }
    figures["cpu_throttle"] = THROTTLE
    figures["long_task_ms"] = sorted(long_tasks)[-10:]
    # What the server's render of the whole thought holds (the bound for what streaming markdown may add),
    # and what the page's own render of it holds once the reader opened it (less its chunk wrappers).
    final_block = server_elements
    figures["elements_in_final_block"] = final_block
    figures["elements_in_kept_block"] = page.locator(f"#t{pk}-r").evaluate(
        "r => r.getElementsByTagName('*').length - r.querySelectorAll('.md-live, .md-chunk').length")
    figures["elements_in_block_while_streaming"] = max(s[2] for s in samples)
    print("\nlong-thought figures:", json.dumps(figures))

    assert tokens >= reasoning_tokens * 0.9 and chars >= tokens * 3
    # One text node per frame at most: frames are ≤ 1 per FRAME_INTERVAL (0.04 s), never one per token.
    assert nodes <= seconds / 0.04 + 10 and nodes < tokens / 10
    # Appending text adds no elements; only line segments (playground.js, one per SEGMENT_CHARS = 2000 characters)
    # and complete blocks rendered as they arrive (static/js/stream_markdown.js) do, inside the block: never one
    # per frame. The rendered blocks hold no more elements than the server's render of the whole thought at the end
    # (the same markdown), so what the block grows by is bounded by that render plus the segments.
    outside = [e - b for _, e, b, _ in samples]
    assert max(outside) - min(outside) <= 5, outside
    assert max(g for *_, g in samples) <= chars / 2000 + 1
    # Rendered blocks (their .md-chunk wrappers aside) hold no more than the server's render of the whole thought.
    assert max(b - g - c for (_, _, b, g), c in zip(samples, chunks, strict=True)) <= final_block + 1, (
        samples, final_block)  # + the .md-live wrapper
    # Once the thought filled its box, the box kept its height with size containment: an append lays out
    # the box alone, not the page around it (a relayout boundary).
    assert boxes_full[-1] == "strict", boxes_full
    # The ticking label's summary is contained too (its seconds lay out the summary alone), and so is
    # the sidebar beside the conversation (the box growing or folding lays out and repaints none of it).
    assert labels[0] == "strict", labels
    assert page.locator("#sidebar").evaluate("s => getComputedStyle(s).contain") == "strict"
    # The end of the turn left the streamed thought in place, and once opened it is marked down whole, with
    # every character: the page's render of it is the text the server stored.
    assert kept is True
    assert page.locator(f"#t{pk}-r.markdown").count() == 1
    assert page.locator(f"#t{pk}-r").evaluate("b => window.streamMarkdown.source(b)") == reasoning
    assert page.locator(f"#t{pk}-r").evaluate("b => b.querySelector('.md-live').nextSibling") is None
    assert abs(figures["elements_in_kept_block"] - server_elements) <= server_elements * 0.02 + 2, figures
    # The page kept pace: its main thread was not busy for the whole stream. How busy it was
    # (8.5 of 10.5 s at 4x with the other xdist worker's browser beside it) is a speed figure,
    # printed above and measured by bench's page section, not asserted (docs/performance.md).
    assert figures["main_thread_busy_s"] < seconds, figures
    # Nothing close to a freeze in wall time, even on a busy CI machine.
    assert figures["longest_task_ms"] < 500, figures
    # DESIGN's budget under the 4× throttle, for each task on a free core of the throttled device (issue 23.5):
    # every frame of the stream, the end of the turn, and the reader opening the long thought afterwards (the
    # turn's start is before the trace here; bench/page.py traces it too). Chromium's throttle spins on the
    # thread, so a task's thread time is its time on that core; the calibration says so in this browser (a
    # ratio near the throttle), or the figures are scaled.
    assert figures["tasks_over_budget_on_a_free_core"] == 0, figures
