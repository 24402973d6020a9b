"""A request to the OpenAI-compatible API, made with the official `openai` client,
appears in the sidebar's API folder and streams live on its page."""

from __future__ import annotations

import threading
import time

import pytest

pytestmark = pytest.mark.browser

LONG_THOUGHTS = "Offline simulator (long thoughts)"  # seconds of visible thinking
PROMPT = "Gateway: what is 19 times 21?"


def test_a_streaming_api_request_streams_live_in_the_api_folder(logged_in_page, server, screenshot):
    import openai

    token = server.manage("tokens", "create", "--user", server.user, "--name", "browser test").stdout.strip()
    client = openai.OpenAI(base_url=server.url("/v1"), api_key=token, max_retries=0, timeout=60)
    streamed: dict[str, list[str]] = {"reasoning": [], "content": []}
    failures: list[BaseException] = []

    def call() -> None:
        try:
            for chunk in client.chat.completions.create(
                model=LONG_THOUGHTS, messages=[{"role": "user", "content": PROMPT}], stream=True
            ):
                for choice in chunk.choices:
                    streamed["reasoning"].append((choice.delta.model_extra or {}).get("reasoning_content") or "")
                    streamed["content"].append(choice.delta.content or "")
        except BaseException as e:  # reported by the test thread
            failures.append(e)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    page = logged_in_page
    folder = page.locator("details.api-folder")
    deadline = time.monotonic() + 15
    while True:
        page.goto(server.url("/"))
        if folder.locator("a", has_text=PROMPT).count():  # the folder is closed: links hidden
            break
        assert time.monotonic() < deadline, "the API request never appeared in the sidebar"
        time.sleep(0.2)
    assert page.locator("#conversation-list").get_by_role("link", name=PROMPT).count() == 0
    folder.locator("summary").click()
    folder.get_by_role("link", name=PROMPT).click()

    answer = page.locator("article.turn.assistant").last
    reasoning = answer.locator(".reasoning.streaming")
    reasoning.wait_for()
    page.wait_for_function("el => el.textContent.length > 0", arg=reasoning.element_handle())
    before = len(reasoning.text_content() or "")
    time.sleep(0.5)
    assert answer.get_attribute("data-status") == "streaming"
    assert len(reasoning.text_content() or "") > before  # it grows on the page: live frames
    screenshot(page, "api-request-streaming")

    page.locator('article.turn.assistant[data-status="complete"]').wait_for(timeout=60_000)
    caller.join(timeout=30)
    assert not failures, failures
    assert "".join(streamed["reasoning"]) and "".join(streamed["content"])
    assert "".join(streamed["content"]).strip()[:20] in (answer.locator(".content").text_content() or "")


def test_a_token_made_on_the_settings_page_works_until_revoked_there(logged_in_page, server):
    import openai

    page = logged_in_page
    page.goto(server.url("/settings/"))
    page.get_by_label("Name of a new token").fill("from the browser")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("Token").input_value()
    assert secret.startswith("rp-")
    client = openai.OpenAI(base_url=server.url("/v1"), api_key=secret, max_retries=0, timeout=30)
    assert "Offline simulator" in {m.id for m in client.models.list()}

    page.get_by_role("link", name="Back to settings").click()
    row = page.locator("tr", has_text="from the browser")
    assert secret not in page.content()
    assert "never" not in (row.text_content() or "")  # its use was recorded
    row.get_by_role("button", name="Revoke token from the browser").click()
    page.get_by_text("revoked").first.wait_for()
    try:
        client.models.list()
    except openai.AuthenticationError:
        pass
    else:
        raise AssertionError("a revoked token still worked")
