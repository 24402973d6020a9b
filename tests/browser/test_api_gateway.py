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
