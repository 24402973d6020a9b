"""Issue 21.4 in Chromium: Markdown rendered while it streams, in the answer and the
thought: complete blocks (paragraphs, lists, closed fences, tables, closed math)
show rendered mid-stream, the open tail stays as plain text, model HTML stays text,
and no character of the text is lost."""

from __future__ import annotations

import json
import re

import pytest

from reasoning.testing import FakeUpstream, Script, openai_chat_sse

pytestmark = pytest.mark.browser

THOUGHT = "Plan:\n\n- multiply **17** by 20\n- add 17*3\n\nThen check the sum.\n\nStill thinking about"
DONE_PART = (
    "The **answer** is below, <img src=x onerror=alert(1)> stays text.\n\n"
    "1. first\n2. second\n\n"
    "| a | b |\n|---|---|\n| 17*23 | 391 |\n\n"
    "```python\nprint(17 * 23)\n```\n\n"
    "$$\nx^2 + 1\n$$\n\n"
)
OPEN_TAIL = "```js\nlet open = 'fence not closed yet'"
# The open tail: the plain text nodes after the rendered blocks (no element among them).
OPEN_TEXT = """b => { let t = "";
  for (let n = b.querySelector(".md-live").nextSibling; n; n = n.nextSibling) {
    if (n.nodeType !== 3) return "an element in the tail";
    t += n.textContent;
  }
  return t; }"""


def chunk_where(chunks: list[bytes], field: str, length: int) -> int:
    """The index of the SSE chunk after which `field` has `length` characters."""
    seen = 0
    for i, chunk in enumerate(chunks):
        for line in chunk.decode().splitlines():
            if line.startswith("data: {"):
                for choice in json.loads(line[6:]).get("choices", []):
                    seen += len((choice.get("delta") or {}).get(field) or "")
        if seen >= length:
            return i
    raise AssertionError(f"{field} never reaches {length} characters")


def add_model(server, base_url: str) -> None:
    server.shell(
        "from playground.models import ModelProfile, Provider\n"
        "p, _ = Provider.objects.update_or_create(name='markdown-stream',"
        f" defaults={{'kind': 'openai', 'base_url': {base_url!r}}})\n"
        "ModelProfile.objects.update_or_create(provider=p, model_id='md-model',"
        " defaults={'label': 'Markdown streamer', 'position': 98})\n"
    )


def test_complete_blocks_render_as_they_arrive_and_the_open_tail_stays_plain(logged_in_page, server):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    answer = DONE_PART + OPEN_TAIL + "\n```\n"
    chunks = openai_chat_sse(THOUGHT, answer, chunk_chars=16)
    # Pause twice: once inside the thought's open tail, once inside the answer's open fence.
    thought_pause = chunk_where(chunks, "reasoning_content", len(THOUGHT))
    answer_pause = chunk_where(chunks, "content", len(DONE_PART + OPEN_TAIL))
    delays = [0.02] * len(chunks)
    delays[thought_pause + 1] = 2.5
    delays[answer_pause + 1] = 2.5
    with FakeUpstream(Script(chunks=chunks, delays=delays)) as upstream:
        add_model(server, upstream.url + "/v1")
        page.goto(server.url("/"))
        page.get_by_label("Model").select_option(label="Markdown streamer")
        page.get_by_label("Prompt").fill("17*23?")
        page.get_by_role("button", name="Send").click()
        page.wait_for_url(re.compile(r"/c/\d+/$"))
        pk = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
        thought, content = page.locator(f"#t{pk}-r"), page.locator(f"#t{pk}-c")

        # The thought, mid-stream: its list rendered, its unfinished sentence plain.
        page.wait_for_selector(f"#t{pk}-r.streaming .md-live li strong")
        assert thought.locator(".md-live li").all_inner_texts() == ["multiply 17 by 20", "add 17*3"]
        assert thought.evaluate(OPEN_TEXT) == "Still thinking about"

        # The answer, mid-stream: every complete block rendered, the open fence plain text.
        page.wait_for_selector(f"#t{pk}-c.streaming .md-live .math-block, #t{pk}-c.streaming .md-live .math-display")
        live = content.locator(".md-live")
        assert live.locator("strong").first.inner_text() == "answer"
        assert live.locator("ol > li").all_inner_texts() == ["first", "second"]
        assert live.locator("table td").all_inner_texts() == ["17*23", "391"]
        assert live.locator(".code-block code").inner_text() == "print(17 * 23)"
        assert live.locator("img").count() == 0 and "<img src=x onerror=alert(1)> stays text" in live.inner_text()
        assert page.locator(f"#turn-{pk}").get_attribute("data-status") == "streaming"
        assert content.evaluate(OPEN_TEXT) == OPEN_TAIL
        # No character lost: the text rendered so far and the plain tail are the text streamed.
        assert content.evaluate("b => window.streamMarkdown.source(b)") == DONE_PART + OPEN_TAIL

        page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=20_000)
    # The server's render takes over with the same blocks.
    final = page.locator(f"#t{pk}-c")
    assert final.locator("ol > li").all_inner_texts() == ["first", "second"]
    assert final.locator("table td").all_inner_texts() == ["17*23", "391"]
    assert final.locator(".code-block").count() == 2
    assert errors == []


def test_no_character_is_lost_in_the_live_render(logged_in_page, server):
    """Text with no Markdown in it renders to exactly the text that was streamed."""
    page = logged_in_page
    page.goto(server.url("/"))
    text = (
        "Line one (17*23) + 4*12 = 439\nline two_with_underscores and $5 and $10\n\n"
        "A second <b>paragraph</b> & more.\n\n"
    )
    rendered = page.evaluate(
        "t => { const d = document.body.appendChild(document.createElement('div'));"
        " window.streamMarkdown.render(t, d); const s = d.innerText; d.remove(); return s; }",
        text,
    )
    assert rendered.split() == text.split()
    assert page.evaluate("t => window.streamMarkdown.completeLength(t)", "a\n\n```\ncode\n\nmore") == 3
    assert page.evaluate("t => window.streamMarkdown.completeLength(t)", "a\n\n```\ncode\n```\nb") == 16


# One paragraph of 120 lines and no blank line (bench's page thought is one of 120k characters): no block
# ever completes while it streams.
LONG_LINES = [f"Line {n} of a thought that goes on, 17*{n} = {17 * n}, with no blank line at all." for n in range(120)]
LONG_PARAGRAPH = "\n".join(LONG_LINES)


def test_a_paragraph_with_no_end_renders_a_slice_of_lines_at_a_time(logged_in_page, server):
    """Issue 23.5: a thought that never has a blank line rendered nothing while it streamed, and then
    all of it in one task when the turn ended. Its complete lines now render as they come, as parts of
    one paragraph that meet with no gap; no character is lost and no element is added."""
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    chunks = openai_chat_sse(LONG_PARAGRAPH, "Done.", chunk_chars=150)
    pause = chunk_where(chunks, "reasoning_content", len(LONG_PARAGRAPH) - 40)
    delays = [0.02] * len(chunks)
    delays[pause + 1] = 6
    with FakeUpstream(Script(chunks=chunks, delays=delays)) as upstream:
        add_model(server, upstream.url + "/v1")
        page.goto(server.url("/"))
        page.get_by_label("Model").select_option(label="Markdown streamer")
        page.get_by_label("Prompt").fill("Go on")
        page.get_by_role("button", name="Send").click()
        page.wait_for_url(re.compile(r"/c/\d+/$"))
        pk = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
        thought = page.locator(f"#t{pk}-r")
        page.wait_for_function(
            "id => window.streamMarkdown.source(document.getElementById(`t${id}-r`)).length >= arguments[1]"
            .replace("arguments[1]", str(len(LONG_PARAGRAPH) - 40)), arg=pk)
        page.wait_for_timeout(500)  # the live render's interval
        assert page.locator(f"#turn-{pk}").get_attribute("data-status") == "streaming"
        # Mid-stream: most of it rendered (no more than a few thousand characters still plain).
        tail, source, breaks = thought.evaluate(
            "b => [(" + OPEN_TEXT + ")(b), window.streamMarkdown.source(b),"
            " b.querySelectorAll('.md-live p, .md-live br').length]")
        assert 0 < len(tail) < 4000, len(tail)
        assert LONG_PARAGRAPH.startswith(source) and len(source) >= len(LONG_PARAGRAPH) - 40
        # One paragraph cut between lines: as many <p> and <br> as the lines rendered.
        assert breaks == source[: len(source) - len(tail)].count("\n"), (breaks, len(tail))
        parts = thought.locator(".md-live p")
        assert parts.count() >= 2
        # The parts meet with no gap: no margin between a part and the next (in its chunk or the next one).
        gaps = thought.evaluate(
            "b => Array.from(b.querySelectorAll('.md-live p.md-cut')).map(p => {"
            " const next = p.parentElement.nextElementSibling && !p.nextElementSibling"
            "   ? p.parentElement.nextElementSibling.firstElementChild : p.nextElementSibling;"
            " const s = getComputedStyle(p), t = getComputedStyle(next);"
            " return [s.marginBottom, t.marginTop, next.classList.contains('md-cont')]; })")
        assert gaps and all(g == ["0px", "0px", True] for g in gaps), gaps
        page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=20_000)
        page.wait_for_timeout(500)
    if not page.locator(f"#turn-{pk} details.thought").evaluate("d => d.open"):
        page.locator(f"#turn-{pk} details.thought > summary").click()
    page.wait_for_selector(f"#t{pk}-r:not(.md-pending)", state="attached")
    final = page.locator(f"#t{pk}-r")
    # Every line, in order, each paragraph's breaks as line breaks ("×" where the server writes `*` as one).
    lines = final.evaluate(
        "b => Array.from(b.querySelectorAll('p')).map(p => Array.from(p.childNodes)"
        ".map(n => n.nodeName === 'BR' ? '\\n' : n.textContent).join('')).join('\\n')")
    assert lines.replace("×", "*") == LONG_PARAGRAPH
    assert final.evaluate("b => b.querySelectorAll('p, br').length") == len(LONG_LINES)
    assert errors == []
