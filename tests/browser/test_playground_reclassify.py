"""In Chromium: a model whose template opened `<think>` streams its thinking as if it
were the answer; at the `</think>` that text moves into the thought block, and only
what follows is the answer (no profile setting needed)."""

from __future__ import annotations

import re

import pytest

from reasoning.testing import FakeUpstream, Script, openai_chat_sse

pytestmark = pytest.mark.browser

THOUGHT = "The user asks for 17 times 23. Twenty times is 340, three times is 51."


def add_model(server, base_url: str) -> None:
    server.shell(
        "from playground.models import ModelProfile, Provider\n"
        "p, _ = Provider.objects.update_or_create(name='r1-template',"
        f" defaults={{'kind': 'openai', 'base_url': {base_url!r}}})\n"
        "ModelProfile.objects.update_or_create(provider=p, model_id='deepseek-r1-distill',"
        " defaults={'label': 'R1 without a reasoning parser', 'position': 95})\n"
    )


def test_a_stray_close_tag_moves_the_streamed_text_into_the_thought_block(logged_in_page, server, screenshot):
    page = logged_in_page
    chunks = openai_chat_sse(THOUGHT, "391", field="markup", open_tag=False, chunk_chars=12)
    close_at = next(i for i, c in enumerate(chunks) if b"</think>" in c or b"think>" in c)
    delays = [0.05] * len(chunks)
    delays[close_at] = 2.0  # time to see the thought shown as answer first
    delays[close_at + 1] = 2.0  # and, still streaming, moved into the thought block
    with FakeUpstream(Script(chunks=chunks, delays=delays)) as upstream:
        add_model(server, upstream.url + "/v1")
        page.goto(server.url("/"))
        page.get_by_label("Model").select_option(label="R1 without a reasoning parser")
        page.get_by_label("Prompt").fill("17*23?")
        page.get_by_role("button", name="Send").click()
        page.wait_for_url(re.compile(r"/c/\d+/$"))
        pk = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
        content = page.locator(f"#t{pk}-c")
        reasoning = page.locator(f"#t{pk}-r")

        page.wait_for_function("id => document.querySelector(`#t${id}-c`).textContent.includes('Twenty')", arg=pk)
        assert reasoning.text_content() == ""
        screenshot(page, "reclassify-before")

        # Live, before the turn ends: the text is in the thought block, the answer is empty.
        page.wait_for_function("id => document.querySelector(`#t${id}-r`).textContent.includes('Twenty')", arg=pk)
        assert page.locator(f"#turn-{pk}").get_attribute("data-status") == "streaming"
        assert "Twenty" not in content.text_content()

        page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=20_000)
    thought = page.locator(f"#turn-{pk} details.thought")
    thought.locator("summary").click()
    assert "Twenty times is 340" in reasoning.inner_text()
    assert content.inner_text().strip() == "391"
    screenshot(page, "reclassify-after")
