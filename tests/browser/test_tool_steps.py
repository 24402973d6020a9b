"""In Chromium: a two-step tool loop in the chat page (issue 19.6). The model (a
loopback Chat Completions fake) thinks and calls `echo` on a real MCP server (the
`mcp` SDK's stdio server the tool tests use), then, given the result, thinks again
and answers. Live, the page shows a thought block, the tool-call card (name, pretty
arguments, server, result, duration), the second thought and the answer, in that
order, while the turn streams; after a reload the same, from the database. The tool's
result is untrusted text: its markup shows as text, never as elements."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from reasoning.testing import FakeToolCall, FakeUpstream, Script, openai_chat_sse
from tests.browser.test_accessibility import assert_clean

pytestmark = pytest.mark.browser

CLOCK_SERVER = Path(__file__).resolve().parents[1] / "tools" / "servers" / "clock_server.py"
FIRST_THOUGHT = "The user wants the phrase echoed back. I will call the echo tool with it."
SECOND_THOUGHT = "The tool returned the phrase unchanged, markup and all. I can now answer."
ANSWER = "The echo tool said the phrase back, as written."
PAYLOAD = "<b>bold</b><img src=x onerror=alert(1)>"


def set_up(server, base_url: str) -> None:
    server.shell(
        "from playground.models import McpServer, ModelProfile, Provider\n"
        "McpServer.objects.update_or_create(name='clock', defaults=dict("
        f"command={sys.executable!r}, args=[{str(CLOCK_SERVER)!r}], env={{}}, url='', enabled=True))\n"
        "p, _ = Provider.objects.update_or_create(name='tool-fake',"
        f" defaults={{'kind': 'openai', 'base_url': {base_url!r}}})\n"
        "ModelProfile.objects.update_or_create(provider=p, model_id='tool-model',"
        " defaults={'label': 'Tool model', 'position': 97})\n"
    )


def order(page, pk: int) -> list[str]:
    """The turn's blocks top to bottom: "thought", "tool:<state>", "answer"."""
    return page.evaluate(
        """id => Array.from(document.querySelectorAll(
              `#turn-${id} details.thought, #turn-${id} details.tool-call, #turn-${id} .content`))
            .filter(e => !e.hidden && !(e.classList.contains('content') && !e.textContent.trim()))
            .map(e => e.matches('details.thought') ? 'thought'
                 : e.matches('details.tool-call') ? 'tool:' + e.dataset.state : 'answer')""",
        pk,
    )


def check_card(page, pk: int) -> None:
    card = page.locator(f"#turn-{pk} details.tool-call").first
    assert card.locator(".tool-name").inner_text() == "echo"
    assert "on clock" in card.locator("summary").inner_text()
    assert re.search(r"done · \d+\.\d+ s", card.locator(".tool-state").inner_text())
    if card.get_attribute("open") is None:
        card.locator("summary").click()
    # Arguments pretty-printed; the result shown as the text it is.
    assert card.locator(".tool-arguments").inner_text() == '{\n  "text": "<b>bold</b><img src=x onerror=alert(1)>"\n}'
    assert card.locator(".tool-result").inner_text() == PAYLOAD
    assert card.locator(".tool-result b, .tool-result img").count() == 0


def test_a_two_step_tool_loop_streams_in_order_and_survives_a_reload(logged_in_page, server, screenshot):
    page = logged_in_page
    first = openai_chat_sse(FIRST_THOUGHT, "", chunk_chars=6,
                            tool_calls=[FakeToolCall("echo", '{"text": "' + PAYLOAD + '"}', id="call_echo")])
    second = openai_chat_sse(SECOND_THOUGHT, ANSWER, chunk_chars=4)
    with FakeUpstream() as upstream:
        upstream.enqueue(Script(chunks=first, interval=0.03), Script(chunks=second, interval=0.12))
        set_up(server, upstream.url + "/v1")
        page.goto(server.url("/"))
        page.get_by_label("Model").select_option(label="Tool model")
        page.locator("#tools-picker > summary").click()
        page.get_by_label("clock").check()
        page.get_by_label("Prompt").fill("Echo this phrase: " + PAYLOAD)
        page.get_by_role("button", name="Send").click()
        page.wait_for_url(re.compile(r"/c/\d+/$"))
        pk = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))

        # Live: the first step is done (its thought and card), the second thinks.
        page.wait_for_function(
            "id => document.querySelector(`#t${id}-r`).textContent.includes('markup and all')", arg=pk, timeout=30_000
        )
        assert page.locator(f"#turn-{pk}").get_attribute("data-status") == "streaming"
        assert order(page, pk) == ["thought", "tool:done", "thought"]
        assert page.locator(f"#t{pk}-steps details.step-thought").count() == 1
        assert page.locator(f"#turn-{pk} .thinking-label.live").inner_text().startswith("Thinking…")
        check_card(page, pk)
        screenshot(page, "tool-loop-live")

        page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=30_000)
        assert order(page, pk) == ["thought", "tool:done", "thought", "answer"]
        assert page.locator(f"#t{pk}-c").inner_text().strip() == ANSWER
        requests = upstream.requests
    # The second call carried the first step and the tool's result back.
    sent = requests[1].json
    assert [m["role"] for m in sent["messages"]][-2:] == ["assistant", "tool"]
    assert sent["messages"][-1]["content"] == PAYLOAD

    page.reload()
    assert order(page, pk) == ["thought", "tool:done", "thought", "answer"]
    check_card(page, pk)
    page.locator(f"#turn-{pk} details.step-thought > summary").click()
    assert FIRST_THOUGHT in page.locator(f"#turn-{pk} details.step-thought .reasoning").inner_text()
    path = screenshot(page, "tool-loop-reloaded")
    assert path.exists()

    # The cards, the open Tools picker and the replay switch pass axe like the rest of the page.
    page.locator("#tools-picker > summary").click()
    page.locator(".function-form > summary").click()
    assert_clean(page, "a tool loop with the picker open")


def test_a_function_the_user_answers_pauses_the_turn_with_a_form(logged_in_page, server, screenshot):
    page = logged_in_page
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label="Offline simulator")
    page.get_by_label("Prompt").fill("Hello")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    first = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
    page.wait_for_selector(f'#turn-{first}[data-status="complete"]', timeout=30_000)

    page.locator("#tools-picker > summary").click()
    page.locator(".function-form > summary").click()
    page.get_by_label("Function name").fill("get_colour")
    page.get_by_label("Function description").fill("The colour of a thing")
    page.get_by_label("Parameters (JSON Schema)").fill(
        '{"type": "object", "properties": {"thing": {"type": "string"}}, "required": ["thing"]}'
    )
    page.get_by_role("button", name="Add function").click()
    page.wait_for_selector('#functions-panel li[data-function="get_colour"]')
    assert page.locator("#tools-summary .count").inner_text() == "1"
    page.locator("#tools-picker > summary").click()  # closed again

    page.get_by_label("Prompt").fill("What does get_colour say about the sky?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_function("() => document.querySelectorAll('article.turn.assistant').length === 2")
    pk = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
    card = page.locator(f'#turn-{pk} details.tool-call[data-state="awaiting"]')
    card.wait_for(timeout=30_000)
    assert page.locator(f"#turn-{pk}").get_attribute("data-status") == "awaiting_tool"
    assert "waiting for your answer" in card.locator(".tool-state").inner_text()
    assert "answered by you" in card.locator("summary").inner_text()
    assert "The arguments match the parameters schema." in card.inner_text()
    screenshot(page, "function-awaiting")
    assert_clean(page, "a turn waiting for a function's result")

    card.get_by_label("Your result for get_colour").fill("blue, with <b>no</b> clouds")
    card.get_by_role("button", name="Send result").click()
    page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=30_000)
    assert order(page, pk) == ["thought", "tool:done", "thought", "answer"]
    assert "blue" in page.locator(f"#t{pk}-c").inner_text()
    done = page.locator(f"#turn-{pk} details.tool-call")
    done.locator("summary").click()
    assert done.locator(".tool-result").inner_text() == "blue, with <b>no</b> clouds"
    assert done.locator(".tool-result b").count() == 0
