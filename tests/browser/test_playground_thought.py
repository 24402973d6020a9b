"""Issue "playground" part 2, in Chromium: the thought block ticks while it
thinks, folds with its duration and token count, renders markdown once done,
copies and shows raw text, keeps open on request, and says plainly when the
reasoning is hidden or the turn ran out of tokens while thinking."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

LONG = "Offline simulator (long thoughts)"
QUICK = "Offline simulator"


def new_chat(page, server, model: str, prompt: str, **controls: str) -> int:
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label=model)
    if controls:
        page.get_by_role("button", name="Controls").click()
        for name, value in controls.items():
            field = page.locator(f"#controls [name={name}]")
            if field.first.get_attribute("type") == "radio":
                page.locator(f"#controls [name={name}][value={value}] + span").click()
            elif field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(value)
            else:
                field.fill(value)
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    return int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))


def wait_done(page, pk: int, timeout: float = 60_000) -> None:
    page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=timeout)


def stored(server, pk: int) -> dict:
    out = server.shell(
        "import json\nfrom playground.models import Turn\n"
        f"t = Turn.objects.get(pk={pk})\n"
        "print(json.dumps({'reasoning': t.reasoning, 'content': t.content, 'params': t.params,"
        " 'reasoning_tokens': t.reasoning_tokens, 'finish_reason': t.finish_reason, 'status': t.status}))\n"
    )
    return json.loads(out.strip().splitlines()[-1])


def add_model(server, label: str, **fields) -> None:
    server.shell(
        "from playground.models import ModelProfile, Provider\n"
        "p = Provider.objects.get(name='offline')\n"
        f"ModelProfile.objects.update_or_create(provider=p, model_id={label.lower().replace(' ', '-')!r},"
        f" defaults=dict(label={label!r}, position=90, **{fields!r}))\n"
    )


def test_it_ticks_while_thinking_then_folds_with_duration_tokens_and_markdown(logged_in_page, server, screenshot):
    page = logged_in_page
    pk = new_chat(page, server, LONG, "Think about 12*34 for a while")
    label = page.locator(f"#turn-{pk} details.thought summary")
    page.wait_for_function(
        "id => /^Thinking… [1-9]\\d* s$/.test(document.querySelector(`#turn-${id} summary`).textContent.trim())",
        arg=pk,
    )
    first = label.inner_text()
    page.wait_for_function(
        "([id, was]) => { const t = document.querySelector(`#turn-${id} summary`).textContent.trim();"
        " return t !== was && /^Thinking… \\d+ s$/.test(t); }",
        arg=[pk, first],
    )
    assert page.locator(f"#turn-{pk} details.thought").evaluate("d => d.open")
    screenshot(page, "thought-streaming")
    wait_done(page, pk)

    turn = stored(server, pk)
    thought = page.locator(f"#turn-{pk} details.thought")
    assert thought.evaluate("d => d.open") is False
    assert re.fullmatch(rf"Thought for \d+\.\d s · {turn['reasoning_tokens']:,} reasoning tokens", label.inner_text())
    # Rendered once as markdown now that it is complete: paragraphs, not one pre-wrapped text.
    assert page.locator(f"#t{pk}-r.markdown p").count() >= 2
    assert page.locator(f"#t{pk}-r.streaming").count() == 0


def test_it_copies_reasoning_and_answer_and_shows_the_raw_output(logged_in_page, server, browser_context):
    page = logged_in_page
    browser_context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url(""))
    pk = new_chat(page, server, QUICK, "What is 6*7?")
    wait_done(page, pk)
    turn = stored(server, pk)
    tools = page.locator(f"#turn-{pk} .turn-tools")
    tools.get_by_role("button", name="Copy reasoning").click()
    page.wait_for_function("() => document.querySelector('.tool.done') !== null")
    assert page.evaluate("navigator.clipboard.readText()") == turn["reasoning"]
    tools.get_by_role("button", name="Copy answer").click()
    page.wait_for_function("t => navigator.clipboard.readText().then(x => x === t)", arg=turn["content"])

    tools.get_by_role("button", name=f"Raw output of turn {pk}").click()
    dialog = page.locator("dialog.raw[open]")
    assert dialog.locator("[data-part=reasoning]").inner_text() == turn["reasoning"]
    assert dialog.locator("[data-part=content]").inner_text() == turn["content"]
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('dialog.raw')")


def test_it_keeps_thoughts_open_when_asked(logged_in_page, server):
    page = logged_in_page
    pk = new_chat(page, server, QUICK, "What is 2+2?")
    wait_done(page, pk)
    thought = page.locator(f"#turn-{pk} details.thought")
    assert thought.evaluate("d => d.open") is False
    page.get_by_label("Keep thoughts open").check()
    page.reload()
    assert thought.evaluate("d => d.open") is True
    # A new turn streams in and finishes: it stays open too.
    page.get_by_label("Prompt").fill("And 3+3?")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => document.querySelectorAll('article.turn.assistant').length === 2")
    second = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
    wait_done(page, second)
    assert page.locator(f"#turn-{second} details.thought").evaluate("d => d.open") is True
    page.get_by_label("Keep thoughts open").uncheck()


def test_hidden_reasoning_is_shown_as_a_silent_wait_and_a_token_count(logged_in_page, server, screenshot):
    add_model(server, "Hidden reasoner", reasoning="hidden", markup="think", thinking_control="simulator",
              efforts=["low", "high"], options={"reasoning_tokens": 2500})
    page = logged_in_page
    pk = new_chat(page, server, "Hidden reasoner", "What is 9*9?")
    label = page.locator(f"#turn-{pk} details.thought summary")
    page.wait_for_function(
        "id => /^Reasoning \\(hidden\\)… [1-9]\\d* s$/"
        ".test(document.querySelector(`#turn-${id} summary`).textContent.trim())",
        arg=pk,
    )
    assert page.locator(f"#t{pk}-r").inner_text() == ""  # nothing to show while it waits
    screenshot(page, "hidden-reasoning-waiting")
    wait_done(page, pk)
    turn = stored(server, pk)
    assert turn["reasoning"] == "" and turn["reasoning_tokens"] > 0
    assert label.inner_text().startswith(f"Reasoning hidden by the provider · {turn['reasoning_tokens']:,} tokens")

    # The same wait when a user asks for no reasoning text.
    pk = new_chat(page, server, QUICK, "What is 8*8?", reasoning_mode="hidden")
    wait_done(page, pk)
    turn = stored(server, pk)
    assert turn["params"]["show_reasoning"] is False and turn["reasoning"] == ""
    summary = page.locator(f"#turn-{pk} details.thought summary")
    assert summary.inner_text().startswith("Reasoning not shown (your setting) ·")


def test_it_says_when_the_tokens_ran_out_while_thinking(logged_in_page, server):
    page = logged_in_page
    pk = new_chat(page, server, QUICK, "What is 123*456?", max_tokens="15")
    wait_done(page, pk)
    turn = stored(server, pk)
    assert turn["finish_reason"] == "length" and turn["content"] == ""
    assert page.locator(f"#turn-{pk} .turn-status").inner_text() == (
        "Ran out of tokens while thinking: no answer was produced."
    )
