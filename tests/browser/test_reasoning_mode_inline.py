"""In Chromium: the Reasoning control's "Inline (raw text)" keeps the model's text as it
came, tags and all, in the answer; nothing is stored as reasoning."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

QUICK = "Offline simulator"


def test_inline_keeps_the_raw_text_with_its_tags_in_the_answer(logged_in_page, server):
    page = logged_in_page
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label=QUICK)
    page.get_by_role("button", name="Controls").click()
    page.locator("#controls [name=reasoning_mode]").select_option("inline")
    page.get_by_label("Prompt").fill("What is 6*7?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    pk = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
    page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=60_000)
    out = server.shell(
        "import json\nfrom playground.models import Turn\n"
        f"t = Turn.objects.get(pk={pk})\n"
        "print(json.dumps({'reasoning': t.reasoning, 'content': t.content, 'params': t.params}))\n"
    )
    turn = json.loads(out.strip().splitlines()[-1])
    assert turn["params"]["reasoning_mode"] == "inline" and turn["params"]["show_reasoning"] is True
    assert turn["reasoning"] == ""
    assert turn["content"].startswith("<think>") and "</think>" in turn["content"]
    # The page shows the tags as text of the answer, and keeps the choice for the next turn.
    assert "</think>" in page.locator(f"#turn-{pk}").inner_text()
    assert page.locator("#controls [name=reasoning_mode]").input_value() == "inline"
