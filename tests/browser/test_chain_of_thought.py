"""Issue 13 in Chromium: a chain-of-thought prompt with a model that does not reason.
The first call's reply streams into the thought block, then the second call's into
the answer; the inspector shows both requests."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

PLAIN = "Plain simulator"

# Notes, per streaming turn, when its thought block and its answer first showed text.
RECORD_FIRST_TEXT = """
window.__firstText = {};
new MutationObserver(() => {
  for (const el of document.querySelectorAll('.turn.assistant [id$="-r"], .turn.assistant [id$="-c"]')) {
    if (el.textContent.trim() && !(el.id in window.__firstText)) window.__firstText[el.id] = performance.now();
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def add_plain_model(server) -> None:
    # reasoning "none": the simulator answers without thinking, so a chain-of-thought
    # prompt makes two calls. The first-token delay (not scaled by the suite's speed-up)
    # leaves each call a visible silence, so the thought shows before the answer does.
    server.shell(
        "from playground.models import ModelProfile, Provider\n"
        "p = Provider.objects.get(name='offline')\n"
        "ModelProfile.objects.update_or_create(provider=p, model_id='simulator-plain', defaults=dict("
        f"label={PLAIN!r}, reasoning='none', markup='', thinking_control='none', efforts=[], position=95,"
        " options={'first_token_delay': 1.5}))\n"
    )


def stored(server, pk: int) -> dict:
    out = server.shell(
        "import json\nfrom playground.models import Turn\n"
        f"t = Turn.objects.get(pk={pk})\n"
        "print(json.dumps({'reasoning': t.reasoning, 'content': t.content, 'params': t.params,"
        " 'calls': [c['step'] for c in (t.sent or {}).get('calls', [])],"
        " 'messages': [c['body']['messages'] for c in (t.sent or {}).get('calls', [])]}))\n"
    )
    return json.loads(out.strip().splitlines()[-1])


def test_a_cot_prompt_streams_thinking_into_the_thought_block_then_the_answer(logged_in_page, server, screenshot):
    add_plain_model(server)
    page = logged_in_page
    page.add_init_script(RECORD_FIRST_TEXT)
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label=PLAIN)
    page.get_by_label("Library").select_option(label="Step by step · chain of thought")
    page.get_by_label("Prompt", exact=True).fill("What is 6*7?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    pk = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))

    # The first call's reply is in the open thought block while the answer is still empty.
    page.wait_for_function(
        "id => { const r = document.getElementById(`t${id}-r`), c = document.getElementById(`t${id}-c`);"
        " return r && r.textContent.includes('42') && c && !c.textContent.trim()"
        " && r.closest('details').open; }",
        arg=pk,
    )
    screenshot(page, "chain-of-thought-thinking")
    page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=30_000)
    firsts = page.evaluate("window.__firstText")
    assert firsts[f"t{pk}-r"] < firsts[f"t{pk}-c"]

    turn = stored(server, pk)
    assert "42" in turn["reasoning"] and "42" in turn["content"]
    assert turn["params"]["prompt_name"] == "Step by step"
    assert turn["calls"] == ["thinking", "answer"]
    assert turn["messages"][0][-1] == {"role": "user", "content": "Think step by step, explaining your reasoning."}
    assert turn["messages"][1][-1] == {"role": "user", "content": "Considering the above, return a final result."}
    assert page.locator(f"#turn-{pk} .params").inner_text().startswith("prompt “Step by step”")
    assert "42" in page.locator(f"#t{pk}-c").inner_text()

    page.locator(f"#turn-{pk} .turn-tools").get_by_role("button", name=f"Request sent for turn {pk}").click()
    dialog = page.locator("dialog.inspector[open]")
    dialog.get_by_text("Call 1: thinking").wait_for()
    dialog.get_by_text("Call 2: final answer").wait_for()
    assert "Considering the above, return a final result." in dialog.locator('[data-call="answer"]').inner_text()
    screenshot(page, "chain-of-thought-inspector")
