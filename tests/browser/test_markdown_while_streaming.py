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
