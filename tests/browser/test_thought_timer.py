"""Issue 21.9 in Chromium: one thought timer value from streaming to done.

While a turn thinks, its label ticks ("Thinking… 2 s"); when the answer starts it says
"Thought for 2.4 s", and when the turn ends the server's label replaces it. The reader
must not see the number jump at the end: the live figures come from the server's own
measure of the thinking (sent with the stream, on the page's clock), so the figure on
screen when the answer began is the final label's, to the tenth, and the ticking value
when the last reasoning arrived is the final label's whole seconds. "Thought for" only
appears when there was reasoning."""

from __future__ import annotations

import math
import re

import pytest

from reasoning.testing import FakeUpstream, Script, openai_chat_sse, pieces
from tests.browser.test_thought_label_live import add_model, send

pytestmark = pytest.mark.browser

THOUGHT = (
    "The user wants the sum of the first ten primes. Two, three, five, seven make seventeen; "
    "eleven and thirteen make forty-one; seventeen and nineteen make seventy-seven; twenty-three "
    "and twenty-nine make one hundred and twenty-nine."
)

# Every change the reader could see in a streaming turn: its label and how much of each
# block had arrived, in order (installed before any page script runs, on every page).
RECORD = """
window.__clock = [];
document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver(() => {
    document.querySelectorAll("article.turn.assistant[data-status=streaming]").forEach((t) => {
      const label = t.querySelector(".thinking-label");
      const r = t.querySelector(".reasoning");
      const c = t.querySelector(".content");
      const entry = {turn: t.dataset.turn, label: label ? label.textContent : "",
                     shown: !!(label && label.closest("details") && !label.closest("details").hidden),
                     r: r ? r.textContent.length : 0, c: c ? c.textContent.length : 0};
      const last = window.__clock[window.__clock.length - 1];
      if (!last || last.label !== entry.label || last.r !== entry.r || last.c !== entry.c) window.__clock.push(entry);
    });
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
});
"""

LIVE = re.compile(r"Thinking… (\d+) s")
THOUGHT_FOR = re.compile(r"Thought for (\d+\.\d) s")


def recorded(page, pk: int) -> list[dict]:
    return [e for e in page.evaluate("window.__clock") if e["turn"] == str(pk)]


def final_label(page, pk: int) -> str:
    page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=30_000)
    return page.locator(f"#turn-{pk} .thought-label").inner_text()


def test_the_label_when_the_answer_starts_is_the_final_label(logged_in_page, server, screenshot):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(RECORD)
    chunks = openai_chat_sse(THOUGHT, "The sum is 129.", chunk_chars=12)
    delays = [0.1] * len(chunks)
    with FakeUpstream(Script(chunks=chunks, delays=delays)) as upstream:
        add_model(server, upstream.url + "/v1", "timer-fake", "Timer model (thinks, then answers)")
        pk = send(page, server, "Timer model (thinks, then answers)", "Sum of the first ten primes?")
        page.wait_for_function("id => document.querySelector(`#t${id}-c`).textContent.length > 0", arg=pk)
        screenshot(page, "timer-answer-started")
        final = final_label(page, pk)
    log = recorded(page, pk)
    (final_figure,) = THOUGHT_FOR.match(final).groups()

    answering = next(e for e in log if e["c"])
    assert THOUGHT_FOR.fullmatch(answering["label"]), answering
    # What the reader saw when the answer began is what the finished turn says, to the tenth.
    assert THOUGHT_FOR.fullmatch(answering["label"]).group(1) == final_figure, (answering, final)
    # The ticking never ran ahead of the final figure: no jump back at the end.
    ticks = [int(m.group(1)) for e in log if (m := LIVE.fullmatch(e["label"]))]
    assert ticks and max(ticks) <= math.floor(float(final_figure)), (ticks, final)
    assert ticks == sorted(ticks)
    assert errors == []


def test_the_ticking_value_when_the_last_reasoning_arrives_is_the_final_label(logged_in_page, server):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(RECORD)
    # A turn that ends while thinking (the provider stopped at its token limit): its
    # thinking time is up to its last reasoning.
    chunks = openai_chat_sse(THOUGHT, "", chunk_chars=12, finish_reason="length")
    n_thought = len(pieces(THOUGHT, 12))
    delays = [0.12] * len(chunks)
    delays[n_thought + 1] = 1.5  # a pause after the last reasoning: the label keeps ticking meanwhile
    with FakeUpstream(Script(chunks=chunks, delays=delays)) as upstream:
        add_model(server, upstream.url + "/v1", "timer-cut", "Timer model (cut while thinking)")
        pk = send(page, server, "Timer model (cut while thinking)", "Sum of the first ten primes?")
        final = final_label(page, pk)
    log = recorded(page, pk)
    (final_figure,) = THOUGHT_FOR.match(final).groups()
    last_reasoning = next(e for e in log if e["r"] == len(THOUGHT))
    live = LIVE.fullmatch(last_reasoning["label"])
    assert live, last_reasoning
    # The same second, same rounding down as the ticking label uses.
    assert int(live.group(1)) == math.floor(float(final_figure)), (last_reasoning, final)
    assert errors == []


def test_an_answer_without_reasoning_never_says_thought_for(logged_in_page, server):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(RECORD)
    chunks = openai_chat_sse("", "Paris, for a long time now.", chunk_chars=5)
    with FakeUpstream(Script(chunks=chunks, delays=[0.1] * len(chunks))) as upstream:
        add_model(server, upstream.url + "/v1", "timer-plain", "Timer model (no reasoning)")
        pk = send(page, server, "Timer model (no reasoning)", "Capital of France?")
        page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=30_000)
    assert page.locator(f"#turn-{pk} details.thought").count() == 0
    assert not [e for e in recorded(page, pk) if e["shown"] and "Thought for" in e["label"]]
    assert errors == []


# Which blocks htmx swapped (its own oob swap events); playground.js applies text frames itself
# and says so with htmx:oobAfterSwap only.
HTMX_SWAPS = """
window.__htmxSwaps = [];
document.addEventListener("htmx:oobBeforeSwap", (e) => {
  const t = e.detail.target; window.__htmxSwaps.push(t && t.id || "");
});
"""


def test_thinking_frames_with_their_clock_skip_htmx_swap(logged_in_page, server):
    """Issue 23.5: every reasoning frame carries the run's thinking time ahead of its text
    (thought_clock, into #t<id>-clock). Such a frame is still one of plain text: playground.js
    applies it without htmx's per-message parse and swap (3 ms of CPU a frame, 12 ms at a 4×
    throttle), and the label still shows the run's figure."""
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(RECORD)
    page.add_init_script(HTMX_SWAPS)
    chunks = openai_chat_sse(THOUGHT, "The sum is 129.", chunk_chars=12)
    with FakeUpstream(Script(chunks=chunks, delays=[0.1] * len(chunks))) as upstream:
        add_model(server, upstream.url + "/v1", "timer-fast", "Timer model (frames without htmx)")
        pk = send(page, server, "Timer model (frames without htmx)", "Sum of the first ten primes?")
        page.wait_for_function("id => document.querySelector(`#t${id}-c`).textContent.length > 0", arg=pk)
        swapped = page.evaluate("window.__htmxSwaps")
        final = final_label(page, pk)
    log = recorded(page, pk)
    streamed = [i for i in swapped if re.fullmatch(rf"t{pk}-(r|c|clock)", i)]
    assert streamed == [], swapped
    # The clock still reached the label: it ticked with the run's figures, and the figure shown when
    # the answer began is the finished turn's.
    assert any(LIVE.fullmatch(e["label"]) for e in log), log
    answering = next(e for e in log if e["c"])
    assert THOUGHT_FOR.fullmatch(answering["label"]).group(1) == THOUGHT_FOR.match(final).group(1), (answering, final)
    assert errors == []
