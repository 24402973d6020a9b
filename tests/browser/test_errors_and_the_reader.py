"""Issue 21.6 and 21.7 in Chromium. Errors a person can act on: a sentence and what to
do, the provider's words under "Details", a 429 that counts down and retries by itself,
no rating on an error turn. The thought block respects its reader: scrolled in, it
stays open when the answer starts and on Stop; a stopped turn says what it used."""

from __future__ import annotations

import re

import pytest

from reasoning.testing import FakeUpstream, Script, openai_chat_sse
from tests.browser.conftest import log_in
from tests.browser.test_compare_page import LONG, add_openai_model

pytestmark = pytest.mark.browser


def ask(page, server, label: str, prompt: str) -> int:
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label=label)
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_label("Prompt").press("Enter")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    return int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))


def test_a_bad_key_says_where_keys_are_set_with_the_providers_words_under_details(page, server):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, server, server.admin, server.admin_password)
    refusal = {"error": {"message": "Incorrect API key provided: sk-te****", "type": "invalid_request_error"}}
    with FakeUpstream(Script.error(401, refusal)) as upstream:
        add_openai_model(server, "bad-key", "Bad key upstream", upstream.url + "/v1")
        pk = ask(page, server, "Bad key upstream", "Hello?")
        page.wait_for_selector(f'#turn-{pk}[data-status="error"]')
    box = page.locator(f"#turn-{pk} .turn-error")
    assert box.locator("strong").inner_text() == "The provider refused the API key."
    link = box.get_by_role("link", name="Open bad-key's key settings")
    assert re.search(r"/admin/playground/provider/\d+/change/$", link.get_attribute("href"))
    assert box.locator(".provider-text").is_hidden()
    box.get_by_text("Details").click()
    assert "Incorrect API key provided" in box.locator(".provider-text").inner_text()
    assert "HTTP 401" in box.locator(".technical").inner_text()
    assert page.locator(f"#turn-{pk} .rating").count() == 0  # nothing to rate
    assert page.locator(f"#turn-{pk} .retry-now").count() == 0  # the same key would fail again
    assert errors == []


def test_a_rate_limited_turn_counts_down_and_retries_by_itself(logged_in_page, server):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    limited = Script.error(429, {"error": {"message": "Rate limit reached for requests"}}, headers={"retry-after": "3"})
    with FakeUpstream(Script(chunks=openai_chat_sse("Six sevens.", "42"))) as upstream:
        upstream.enqueue(limited)
        add_openai_model(server, "limited-once", "Limited once", upstream.url + "/v1")
        pk = ask(page, server, "Limited once", "What is 6*7?")
        page.wait_for_selector(f'#turn-{pk}[data-status="error"]')
        retry = page.locator(f"#turn-{pk} .retry")
        assert re.fullmatch(r"Retrying in [23] s…", retry.locator(".retry-text").inner_text())
        assert "rate-limiting" in page.locator(f"#turn-{pk} .turn-error").inner_text()
        # No click: the countdown ends in a second request and an answer.
        page.wait_for_function(
            "() => [...document.querySelectorAll('article.turn.assistant')].some(t => t.dataset.status === 'complete')",
            timeout=15_000,
        )
        assert len(upstream.requests) == 2
    assert "42" in page.locator("article.turn.assistant[data-status=complete] .content").inner_text()
    assert errors == []


def test_a_thought_the_reader_scrolled_in_stays_open_on_stop_and_says_what_it_used(logged_in_page, server):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    pk = ask(page, server, LONG, "Think about 17*23")
    thought = page.locator(f"#turn-{pk} details.thought")
    page.wait_for_function(f"() => document.getElementById('t{pk}-r').textContent.length > 400")
    assert thought.evaluate("d => d.open")
    page.locator(f"#t{pk}-r").hover()
    page.mouse.wheel(0, -200)  # the reader scrolls up inside the thought
    page.get_by_role("button", name="Stop generating (Esc)").first.click()
    # The stop's round trip and the turn's final save: 10 s was too short under pytest -n 4 on a loaded machine.
    page.wait_for_selector(f'#turn-{pk}[data-status="stopped"]', timeout=30_000)
    thought = page.locator(f"#turn-{pk} details.thought")
    assert thought.evaluate("d => d.open"), "the block closed on its reader"
    label = thought.locator("summary").inner_text()
    assert label.startswith("Thought for") and re.search(r"~[\d,]+ reasoning tokens \(estimated\)", label), label
    line = page.locator(f"#turn-{pk} .metrics-line").inner_text()
    assert re.search(r"[\d,]+ tokens", line) and not line.startswith("0 tokens"), line
    assert errors == []


def test_an_answer_with_no_reasoning_never_says_thought_for(logged_in_page, server):
    page = logged_in_page
    with FakeUpstream(Script(chunks=openai_chat_sse("", "Just the answer, " * 40, chunk_chars=8), rate=60)) as up:
        add_openai_model(server, "no-thoughts", "No thoughts upstream", up.url + "/v1")
        pk = ask(page, server, "No thoughts upstream", "Hi")
        page.wait_for_function(f"() => document.getElementById('t{pk}-c').textContent.length > 20")
        page.wait_for_timeout(1200)  # a tick of the live label
        thought = page.locator(f"#turn-{pk} details.thought")
        assert thought.count() == 0 or thought.is_hidden()
        page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=20_000)
    assert "Thought for" not in page.locator(f"#turn-{pk}").inner_text()
