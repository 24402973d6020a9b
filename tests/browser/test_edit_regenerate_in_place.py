"""Issue 21.9 in Chromium: editing a prompt and regenerating an answer happen in
place, like a send from the composer. The new branch streams into the page over its
socket, the ‹ n/m › switchers update, the scroll position and the composer's draft
stay, and the page is never loaded again (a window property set before the action is
still there after it). Stop works as for a send, an error shows in the turn and its
"Try again" is in place too; a refused edit or regeneration keeps what was typed."""

from __future__ import annotations

import re

import pytest

from reasoning.testing import FakeUpstream, Script, openai_chat_sse
from tests.browser.test_compare_page import LONG, QUICK, add_openai_model

pytestmark = pytest.mark.browser

BAD_SCHEMA = "{not json"


@pytest.fixture
def loads(logged_in_page) -> list[str]:
    """Every document the tab loads (a full navigation), after the test's setup."""
    seen: list[str] = []
    logged_in_page.on("load", lambda: seen.append(logged_in_page.url))
    return seen


def answers(page):
    return page.locator("article.turn.assistant")


def last_answer_id(page) -> int:
    return int(answers(page).last.get_attribute("data-turn"))


def wait_done(page, pk: int, status: str = "complete") -> None:
    page.wait_for_selector(f'#turn-{pk}[data-status="{status}"]', timeout=30_000)


def ask(page, prompt: str) -> int:
    """A prompt from the composer of the open conversation; returns its answer once done."""
    before = answers(page).count()
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_label("Prompt").press("Enter")
    page.wait_for_function(f"() => document.querySelectorAll('article.turn.assistant').length === {before + 1}")
    pk = last_answer_id(page)
    wait_done(page, pk)
    return pk


def start(page, server, prompts: list[str], model: str = QUICK) -> str:
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label=model)
    page.get_by_label("Prompt").fill(prompts[0])
    page.get_by_label("Prompt").press("Enter")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    wait_done(page, last_answer_id(page))
    for prompt in prompts[1:]:
        ask(page, prompt)
    return page.url


def choose_model(page, label: str) -> None:
    page.get_by_label("Model").select_option(label=label)
    page.wait_for_selector(f'#controls[data-model="{page.get_by_label("Model").input_value()}"]', state="attached")


def open_controls(page) -> None:
    if page.locator("#controls-panel").is_hidden():
        page.get_by_role("button", name="Controls").click()


def mark_the_page(page) -> None:
    page.evaluate("window.__samePage = true")  # gone if the page were loaded again


def test_regenerate_streams_in_place_keeping_the_scroll_and_the_draft(logged_in_page, server, errors, loads,
                                                                       screenshot):
    page = logged_in_page
    page.set_viewport_size({"width": 1000, "height": 560})
    url = start(page, server, ["What is 12*12?", "What is 7*8?", "What is 9*9?"])
    first = last_answer_id(page)
    first_text = page.locator(f"#t{first}-c").inner_text()
    page.get_by_label("Prompt").fill("a draft I have not sent")
    mark_the_page(page)
    loads.clear()
    choose_model(page, LONG)  # the regeneration runs on the composer's model: long enough to see it stream

    page.locator(f"#turn-{first}").get_by_role("button", name="Regenerate").click()
    page.wait_for_function(f"() => !document.getElementById('turn-{first}')")
    second = last_answer_id(page)
    # It streams in place: the thought grows in the page while the turn is still running.
    page.wait_for_function(f"() => (document.getElementById('t{second}-r') || {{}}).textContent?.length > 40")
    assert page.locator(f"#turn-{second}").get_attribute("data-status") == "streaming"
    assert page.locator("#send").inner_text() == "Stop"  # as for a send: Send is Stop while it runs
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0, "the page went back to its top"
    assert page.locator("article.turn.user").first.evaluate("el => el.getBoundingClientRect().bottom < 0")
    screenshot(page, "regenerate-in-place")
    wait_done(page, second)

    assert page.evaluate("window.__samePage") is True
    assert loads == [] and page.url == url
    assert page.get_by_label("Prompt").input_value() == "a draft I have not sent"
    assert page.locator(f"#turn-{second} .sibling-pos").inner_text() == "2/2"
    assert page.locator("article.turn.user").count() == 3  # the turns above stay on show
    # The switcher goes back to the first answer, unchanged.
    page.locator(f"#turn-{second}").get_by_role("button", name="Previous branch").click()
    page.wait_for_selector(f"#turn-{first}")
    assert page.locator(f"#t{first}-c").inner_text() == first_text
    assert page.locator(f"#turn-{first} .sibling-pos").inner_text() == "1/2"
    assert errors == []


def test_an_edit_streams_a_new_branch_in_place_and_stops_like_a_send(logged_in_page, server, errors, loads,
                                                                      screenshot):
    page = logged_in_page
    url = start(page, server, ["What is 12*12?", "And 12*13?"])
    original = int(page.locator("article.turn.user").last.get_attribute("data-turn"))
    choose_model(page, LONG)
    page.get_by_label("Prompt").fill("still here")
    mark_the_page(page)
    loads.clear()

    user = page.locator(f"#turn-{original}")
    user.locator(".bubble").hover()
    user.get_by_role("button", name="Edit this message and run it again").click()
    page.locator(f"#edit-prompt-{original}").fill("What is 13*13?")
    page.locator(f"#edit-{original}").get_by_role("button", name="Save & run").click()

    page.wait_for_function(f"() => !document.getElementById('turn-{original}')")
    edited = page.locator("article.turn.user").last
    assert edited.locator(".bubble").inner_text() == "What is 13*13?"
    assert edited.locator(".sibling-pos").inner_text() == "2/2"
    assert page.locator("article.turn.user").first.locator(".bubble").inner_text() == "What is 12*12?"
    answer = last_answer_id(page)
    page.wait_for_function(f"() => (document.getElementById('t{answer}-r') || {{}}).textContent?.length > 40")
    screenshot(page, "edit-in-place")
    assert page.evaluate("document.activeElement.id") == "prompt"  # not lost with the edit form
    # Esc stops it, as it stops a prompt sent from the composer.
    page.get_by_label("Prompt").press("Escape")
    wait_done(page, answer, "stopped")
    assert page.locator("#send").inner_text() == "Send"

    assert page.evaluate("window.__samePage") is True
    assert loads == [] and page.url == url
    assert page.get_by_label("Prompt").input_value() == "still here"
    page.reload()  # the new branch is the one on show
    assert page.locator("article.turn.user").last.locator(".bubble").inner_text() == "What is 13*13?"
    assert errors == []


def test_a_refused_edit_or_regeneration_keeps_everything_typed(logged_in_page, server, errors, loads):
    page = logged_in_page
    url = start(page, server, ["What is 12*12?"])
    prompt = int(page.locator("article.turn.user").get_attribute("data-turn"))
    first = last_answer_id(page)
    open_controls(page)
    page.locator("#controls [name=answer_schema]").fill(BAD_SCHEMA)
    mark_the_page(page)
    loads.clear()

    page.locator(f"#turn-{first}").get_by_role("button", name="Regenerate").click()
    page.wait_for_selector("#notice .error")
    assert "schema" in page.locator("#notice").inner_text()
    assert page.locator(f"#turn-{first}").count() == 1 and answers(page).count() == 1
    page.locator("#notice").evaluate("n => n.replaceChildren()")

    user = page.locator(f"#turn-{prompt}")
    user.locator(".bubble").hover()
    user.get_by_role("button", name="Edit this message and run it again").click()
    page.locator(f"#edit-prompt-{prompt}").fill("Keep this edit, please")
    page.locator(f"#edit-{prompt}").get_by_role("button", name="Save & run").click()
    page.wait_for_selector("#notice .error")
    assert "schema" in page.locator("#notice").inner_text()
    assert page.locator(f"#edit-{prompt}").is_visible()
    assert page.locator(f"#edit-prompt-{prompt}").input_value() == "Keep this edit, please"
    assert page.locator("#controls [name=answer_schema]").input_value() == BAD_SCHEMA
    assert page.locator("article.turn.user").count() == 1

    # Put right, the same edit goes: the refusal is cleared and the branch streams in place.
    page.locator("#controls [name=answer_schema]").fill("")
    page.locator(f"#edit-{prompt}").get_by_role("button", name="Save & run").click()
    page.wait_for_function(f"() => !document.getElementById('turn-{prompt}')")
    assert page.locator("article.turn.user .bubble").inner_text() == "Keep this edit, please"
    wait_done(page, last_answer_id(page))
    assert page.locator("#notice .error").count() == 0
    assert page.evaluate("window.__samePage") is True
    assert loads == [] and page.url == url
    assert errors == []


def test_a_regeneration_that_fails_shows_its_error_in_place_and_try_again_stays_too(logged_in_page, server, errors,
                                                                                     loads):
    page = logged_in_page
    failure = Script.error(500, {"error": {"message": "The server had an error while processing your request"}})
    with FakeUpstream(Script(chunks=openai_chat_sse("Six sevens.", "42"))) as upstream:
        upstream.enqueue(failure)
        add_openai_model(server, "flaky-once", "Flaky once", upstream.url + "/v1")
        url = start(page, server, ["What is 6*7?"])
        first = last_answer_id(page)
        choose_model(page, "Flaky once")
        page.get_by_label("Prompt").fill("my next question")
        mark_the_page(page)
        loads.clear()

        page.locator(f"#turn-{first}").get_by_role("button", name="Regenerate").click()
        page.wait_for_function(f"() => !document.getElementById('turn-{first}')")
        failed = last_answer_id(page)
        wait_done(page, failed, "error")
        assert "Try again" in page.locator(f"#turn-{failed} .turn-error").inner_text()
        assert page.locator(f"#turn-{failed} .sibling-pos").inner_text() == "2/2"
        assert page.locator("#send").inner_text() == "Send"

        page.locator(f"#turn-{failed}").get_by_role("button", name="Try again").click()
        page.wait_for_function(f"() => !document.getElementById('turn-{failed}')")
        retried = last_answer_id(page)
        wait_done(page, retried)
        assert len(upstream.requests) == 2
    assert "42" in page.locator(f"#t{retried}-c").inner_text()
    assert page.locator(f"#turn-{retried} .sibling-pos").inner_text() == "3/3"
    assert page.evaluate("window.__samePage") is True
    assert loads == [] and page.url == url
    assert page.get_by_label("Prompt").input_value() == "my next question"
    assert errors == []
