"""In Chromium (issue 20.1): the replay policy switched for the next message in one
click, the inspector's notes and carriers for that request, and the turn resent with
the other policy as a new branch. The model is DeepSeek's reasoner at a loopback
fake; what it received is read back from the fake."""

from __future__ import annotations

import re

import pytest

from reasoning.testing import FakeUpstream, Script, openai_chat_sse

pytestmark = pytest.mark.browser

FIRST_THOUGHT = "Paris is the capital; nothing to compute."


def add_model(server, base_url: str) -> None:
    server.shell(
        "from playground.models import ModelProfile, Provider\n"
        "p, _ = Provider.objects.update_or_create(name='deepseek-fake',"
        f" defaults={{'kind': 'openai', 'base_url': {base_url!r}}})\n"
        "ModelProfile.objects.update_or_create(provider=p, model_id='deepseek-reasoner',"
        " defaults={'label': 'DeepSeek reasoner (fake)', 'position': 98})\n"
    )


def last_answer(page):
    turn = page.locator("article.turn.assistant").last
    pk = int(turn.get_attribute("data-turn"))
    page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=20_000)
    return pk


def open_inspector(page, pk: int):
    page.get_by_role("button", name=f"Request sent for turn {pk}").click()
    dialog = page.locator("dialog.inspector[open]")
    dialog.wait_for()
    return dialog


def test_switch_the_policy_see_the_notes_and_resend_with_the_other(logged_in_page, server, screenshot):
    page = logged_in_page
    with FakeUpstream() as upstream:
        upstream.enqueue(
            Script(chunks=openai_chat_sse(FIRST_THOUGHT, "Paris.")),
            Script(chunks=openai_chat_sse("They asked again.", "Still Paris.")),
            Script(chunks=openai_chat_sse("Asked a third time.", "Paris, again.")),
        )
        add_model(server, upstream.url + "/v1")
        page.goto(server.url("/"))
        page.get_by_label("Model").select_option(label="DeepSeek reasoner (fake)")
        switch = page.locator("#replay-switch")
        assert "Default (strip)" in switch.inner_text()  # the family's default, named
        page.get_by_label("Prompt").fill("Capital of France?")
        page.get_by_role("button", name="Send").click()
        page.wait_for_url(re.compile(r"/c/\d+/$"))
        last_answer(page)

        # One click: the next message keeps earlier reasoning.
        with page.expect_response(lambda r: r.url.endswith("/replay")):
            page.locator("#replay-switch label", has_text="Preserved").click()
        assert page.locator('#replay-switch input[value="preserved"]').is_checked()
        page.get_by_label("Prompt").fill("Sure?")
        page.get_by_role("button", name="Send").click()
        page.wait_for_function("() => document.querySelectorAll('article.turn.assistant').length === 2")
        second = last_answer(page)
        sent = upstream.requests[1].json["messages"]
        assert sent[1]["reasoning_content"] == FIRST_THOUGHT

        dialog = open_inspector(page, second)
        assert dialog.locator("li[data-note=kept_reasoning]").count() == 1
        assert "in reasoning_content" in dialog.locator("ul.carried").inner_text()
        assert "Sent with preserved" in dialog.locator(".resend").inner_text()
        screenshot(page, "replay-inspector")

        # Resent with strip: a sibling of the answer, its reasoning left out.
        dialog.get_by_role("button", name="Resend with strip").click()
        page.wait_for_function("() => document.querySelector('.siblings .sibling-pos')?.textContent === '2/2'",
                               timeout=20_000)
        third = last_answer(page)
        assert third != second
        assert upstream.requests[2].json["messages"][1]["reasoning_content"] == ""
        dialog = open_inspector(page, third)
        assert dialog.locator("li[data-note=stripped_reasoning]").count() == 1
        assert "No reasoning went back with this request." in dialog.inner_text()
