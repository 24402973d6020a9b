"""Issue "playground" part 3, in Chromium: each finished turn shows its timings,
tokens and speed; the header shows the conversation's totals; both come from the
database, so a reload shows the same figures."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser


def metrics(page, pk: int) -> dict[str, str]:
    return page.locator(f"#turn-{pk} .metrics dd").evaluate_all(
        "els => Object.fromEntries(els.map(e => [e.dataset.metric, e.textContent.trim()]))"
    )


def test_metrics_and_totals_are_shown_when_a_turn_ends_and_after_a_reload(logged_in_page, server, screenshot):
    server.shell(
        "from playground.models import ModelProfile\n"
        "ModelProfile.objects.filter(model_id='simulator').update(price_input='3', price_output='15')\n"
    )
    page = logged_in_page
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label="Offline simulator")
    page.get_by_label("Prompt").fill("What is 21*2?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    pk = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
    page.wait_for_selector(f'#turn-{pk}[data-status="complete"]')
    page.wait_for_selector("#conv-totals [data-total=tokens]")  # swapped in with the finished turn

    out = server.shell(
        "import json\nfrom playground.models import Turn\n"
        f"t = Turn.objects.get(pk={pk})\n"
        "print(json.dumps([t.prompt_tokens, t.completion_tokens, t.reasoning_tokens, t.first_reasoning_ms,"
        " t.first_content_ms, t.thinking_ms, t.duration_ms, str(t.cost)]))\n"
    )
    prompt, completion, reasoning, first_r, first_c, _thinking, duration, cost = json.loads(
        out.strip().splitlines()[-1]
    )
    assert reasoning > 0 and first_r is not None and first_c >= first_r and duration >= first_c
    shown = metrics(page, pk)
    assert shown["tokens"] == f"{prompt:,} in · {reasoning:,} reasoning · {completion - reasoning:,} answer"
    assert shown["first-reasoning"].endswith(" s") and shown["first-content"].endswith(" s")
    assert shown["thinking"].endswith(" s") and shown["speed"].endswith("tok/s")
    assert shown["cost"].startswith("$") and float(shown["cost"][1:]) == pytest.approx(float(cost), abs=1e-4)
    totals = page.locator("#conv-totals").inner_text()
    assert f"{prompt + completion:,} tokens ({reasoning:,} reasoning)" in totals
    screenshot(page, "turn-metrics")

    page.reload()
    assert metrics(page, pk) == shown
    assert page.locator("#conv-totals").inner_text() == totals
    server.shell(
        "from playground.models import ModelProfile\n"
        "ModelProfile.objects.filter(model_id='simulator').update(price_input=None, price_output=None)\n"
    )
