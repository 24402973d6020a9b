"""Issue 21.3 in Chromium: from a fresh install to a first answer from a new provider
without the Django admin. The sidebar link opens the Providers page (in the app's
layout); a preset fills the form; one action saves, tests and fetches the models (the
provider's own words when it fails); the models ticked are in the picker at once."""

from __future__ import annotations

import re

import pytest

from reasoning.testing import FakeUpstream, Script, openai_chat_sse
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_a_provider_added_in_the_app_answers_the_first_prompt(page, server):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, server, server.admin, server.admin_password)
    page.goto(server.url("/"))
    page.get_by_role("link", name="Providers & keys").click()
    page.wait_for_url(re.compile(r"/providers/$"))
    assert page.locator("nav.sidebar").is_visible()

    refusal = {"error": {"message": "Incorrect API key provided: sk-wr****", "type": "invalid_request_error"}}
    models = {"object": "list", "data": [{"id": "loop-reasoner"}, {"id": "loop-other"}]}
    with FakeUpstream() as upstream:
        upstream.enqueue(Script.error(401, refusal), Script.json(models),
                         Script(chunks=openai_chat_sse("Two and two.", "Four.")))
        page.get_by_label("Preset").select_option(label="Any OpenAI-compatible")
        assert page.get_by_label("API flavour").input_value() == "openai"
        page.get_by_label("Preset").select_option(label="Groq")
        assert page.get_by_label("Base URL").input_value() == "https://api.groq.com/openai/v1"
        assert page.get_by_label("Name").input_value() == "Groq"
        page.get_by_label("Preset").select_option(label="vLLM / SGLang")
        page.get_by_label("Name").fill("Loopback")
        page.get_by_label("Base URL").fill(upstream.url + "/v1")
        page.get_by_label("API key").fill("sk-wrong-key")
        page.get_by_role("button", name="Save, test and fetch models").click()
        problem = page.locator("#provider-problem")
        assert "Incorrect API key provided" in problem.inner_text()
        assert "sk-wrong-key" not in page.content()

        page.get_by_role("button", name="Test again").click()
        page.wait_for_selector("#provider-connected")
        assert "lists 2 models" in page.locator("#provider-connected").inner_text()
        card = page.locator('section[data-provider="Loopback"]')
        card.get_by_label("loop-reasoner").check()
        card.get_by_role("button", name="Save the models offered").click()
        page.wait_for_url(re.compile(r"/providers/$"))
        assert page.locator('section[data-provider="Loopback"]').get_by_label("loop-reasoner").is_checked()

        page.get_by_role("link", name="+ New chat").click()
        options = page.locator("#model option").all_inner_texts()
        assert "loop-reasoner" in options and "loop-other" not in options
        page.get_by_label("Model").select_option(label="loop-reasoner")
        page.get_by_label("Prompt").fill("What is 2+2?")
        page.get_by_label("Prompt").press("Enter")
        page.wait_for_url(re.compile(r"/c/\d+/$"))
        page.wait_for_selector("article.turn.assistant[data-status=complete]", timeout=20_000)
        assert page.locator("article.turn.assistant .content").inner_text().strip() == "Four."
        assert upstream.requests[0].headers.get("authorization") == "Bearer sk-wrong-key"
    assert errors == []


def test_the_providers_page_is_for_admins_only(logged_in_page, server):
    page = logged_in_page
    page.goto(server.url("/"))
    assert page.get_by_role("link", name="Providers & keys").count() == 0
    page.goto(server.url("/providers/"))
    assert "/providers/" not in page.url or page.locator("#provider-form").count() == 0
