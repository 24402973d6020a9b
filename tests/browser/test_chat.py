"""Issue 2 end to end: a real login, a real server, the offline simulator, Chromium.

The thought block streams open with "Thinking…", folds to "Thought for N s" once
the answer is there, and a reload shows the very same turn from the database.
A second prompt goes over the same websocket and sees the first exchange.
"""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

LONG_THOUGHTS = "Offline simulator (long thoughts)"  # ~12k chars of thinking: visibly streams
QUICK = "Offline simulator"

# Keeps, per turn, the text the socket appended to the streaming blocks, so the
# test can compare what was streamed with what was stored.
RECORD_STREAM = """
window.__streamed = {};
new MutationObserver(() => {
  document.querySelectorAll(".reasoning.streaming, .content.streaming").forEach((el) => {
    // The raw text streamed (what is rendered live plus the plain tail).
    window.__streamed[el.id] = window.streamMarkdown ? window.streamMarkdown.source(el) : el.textContent;
  });
}).observe(document, {childList: true, subtree: true, characterData: true});
"""


def assistant_turns(page):
    return page.locator("article.turn.assistant")


def turn_id(article) -> int:
    return int(article.get_attribute("data-turn"))


def stored_turn(server, pk: int) -> dict:
    out = server.shell(
        "import json\n"
        "from playground.models import Turn\n"
        f"t = Turn.objects.get(pk={pk})\n"
        "print(json.dumps({'reasoning': t.reasoning, 'content': t.content, 'status': t.status,"
        " 'thinking_ms': t.thinking_ms, 'conversation': t.conversation_id,"
        " 'parent': t.parent_id, 'sent': t.sent}))\n"
    )
    return json.loads(out.strip().splitlines()[-1])


def test_it_streams_the_thought_then_the_answer_and_keeps_both(logged_in_page, server, screenshot):
    page = logged_in_page
    page.add_init_script(RECORD_STREAM)
    page.get_by_label("Model").select_option(label=LONG_THOUGHTS)
    page.get_by_label("Prompt").fill("What is 17*23?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))

    turn = assistant_turns(page).first
    pk = turn_id(turn)
    thought = turn.locator("details.thought")
    reasoning = page.locator(f"#t{pk}-r")
    answer = page.locator(f"#t{pk}-c")

    # While it thinks: the block is open, says "Thinking…", and its text grows.
    page.wait_for_function(
        "id => (document.getElementById(id)?.textContent.length || 0) > 200", arg=f"t{pk}-r"
    )
    assert thought.evaluate("d => d.open") is True
    assert thought.locator("summary").inner_text().startswith("Thinking…")
    assert answer.inner_text() == ""
    seen = len(reasoning.text_content())
    page.wait_for_function(
        "([id, n]) => document.getElementById(id).textContent.length > n + 200", arg=[f"t{pk}-r", seen]
    )
    assert thought.evaluate("d => d.open") is True
    assert answer.inner_text() == ""
    screenshot(page, "chat-thinking")

    # The answer arrives: the turn is re-rendered complete, the thought folded.
    page.wait_for_selector(f'article[data-turn="{pk}"][data-status="complete"]', timeout=30_000)
    assert "391" in answer.inner_text()
    assert thought.evaluate("d => d.open") is False
    label = thought.locator("summary").inner_text()
    assert re.fullmatch(r"Thought for \d+\.\d s( · [\d,]+ reasoning tokens)?", label), label
    screenshot(page, "chat-answered")

    # Every character streamed once, in order, and what was stored is what was shown.
    stored = stored_turn(server, pk)
    assert stored["status"] == "complete"
    assert page.evaluate("window.__streamed")[f"t{pk}-r"] == stored["reasoning"]
    assert "391" in stored["content"]
    shown_reasoning = reasoning.inner_text()
    shown_answer = answer.inner_text()

    page.reload()
    turn = page.locator(f'article[data-turn="{pk}"]')
    assert turn.get_attribute("data-status") == "complete"
    assert turn.locator("details.thought").evaluate("d => d.open") is False
    assert turn.locator("details.thought summary").inner_text() == label
    assert page.locator(f"#t{pk}-r").inner_text() == shown_reasoning
    assert page.locator(f"#t{pk}-c").inner_text() == shown_answer
    assert page.locator("article.turn.user").inner_text() == "What is 17*23?"


def test_it_answers_a_second_prompt_over_the_same_socket(logged_in_page, server, screenshot):
    page = logged_in_page
    page.get_by_label("Model").select_option(label=QUICK)
    page.get_by_label("Prompt").fill("What is 17*23?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    first = assistant_turns(page).first
    first_pk = turn_id(first)
    page.wait_for_selector(f'article[data-turn="{first_pk}"][data-status="complete"]')
    conversation_url = page.url

    page.get_by_label("Prompt").fill("And what is (3+4)*2?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_function("() => document.querySelectorAll('article.turn.assistant').length === 2")
    second = assistant_turns(page).nth(1)
    second_pk = turn_id(second)
    assert second_pk != first_pk
    page.wait_for_selector(f'article[data-turn="{second_pk}"][data-status="complete"]')

    assert page.url == conversation_url  # no page load: the prompt went over the socket
    assert page.get_by_label("Prompt").input_value() == ""
    assert "14" in page.locator(f"#t{second_pk}-c").inner_text()
    assert "391" in page.locator(f"#t{first_pk}-c").inner_text()
    assert page.locator("article.turn.user").all_inner_texts() == ["What is 17*23?", "And what is (3+4)*2?"]
    screenshot(page, "chat-two-turns")

    # The second turn continued the first exchange, whose reasoning was left out.
    first_stored, second_stored = stored_turn(server, first_pk), stored_turn(server, second_pk)
    assert second_stored["conversation"] == first_stored["conversation"]
    sent = second_stored["sent"]["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert "391" in sent[1]["content"]
    assert first_stored["reasoning"] and first_stored["reasoning"] not in json.dumps(sent)
    assert "2 earlier message(s)" in second_stored["reasoning"]

    page.reload()
    assert page.locator("article.turn.assistant").count() == 2
    assert "14" in page.locator(f"#t{second_pk}-c").inner_text()
