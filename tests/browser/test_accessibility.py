"""Accessibility in Chromium: axe-core (vendored, test-only) finds nothing on any
screen, a finished turn is announced once through a polite live region, and a
skip link leads past the navigation to the main landmark."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from tests.browser.conftest import log_in
from tests.browser.test_compare_page import LONG, QUICK, start_comparison, wait_all_done

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"


def test_the_vendored_axe_is_the_pinned_one():
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256


def violations(page) -> list[dict]:
    """axe's violations on the page as it is now (WCAG 2.x A and AA, and best practices)."""
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text() + "\n;true")
    results = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations'],"
        " runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:8],
         "count": len(v["nodes"]), "summary": v["nodes"][0]["failureSummary"][:300]}
        for v in results["violations"]
    ]


def assert_clean(page, where: str) -> None:
    found = violations(page)
    assert found == [], f"{where}: " + json.dumps(found, indent=1)


def ask(page, model: str, prompt: str) -> None:
    """Start a chat from the new-chat page and wait until its answer is complete."""
    page.get_by_label("Model").select_option(label=model)
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_label("Prompt").press("Control+Enter")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    page.wait_for_selector('article.turn.assistant[data-status="complete"]', timeout=30_000)


def test_login_page(page, server):
    page.goto(server.url("/login/"))
    assert_clean(page, "login")


def test_chat_pages(logged_in_page, server):
    page = logged_in_page
    page.goto(server.url("/"))
    assert_clean(page, "new chat")
    ask(page, QUICK, "What is 3*3?")
    assert_clean(page, "chat with a finished turn")


def test_settings_page(logged_in_page, server):
    page = logged_in_page
    page.goto(server.url("/settings/"))
    assert_clean(page, "settings")


def test_compare_pages_new_live_voted_and_the_leaderboard(logged_in_page, server):
    page = logged_in_page
    page.goto(server.url("/compare/new/"))
    assert_clean(page, "new comparison")
    pk = start_comparison(page, server, [LONG, QUICK], "What is 12*12?", blind=True)
    page.wait_for_function("() => document.querySelector('.compare-column .reasoning').textContent.length > 50")
    assert_clean(page, "live comparison")
    wait_all_done(page, 2)
    page.wait_for_selector("form.vote")
    assert_clean(page, "blind comparison, answered")
    page.get_by_role("button", name="Model A is better").click()
    page.wait_for_selector(".voted")
    assert_clean(page, "voted comparison")
    page.get_by_text("Word diff of two answers").click()
    page.wait_for_selector(".diff-text")
    assert_clean(page, "word diff")
    page.goto(server.url("/compare/"))
    assert_clean(page, "comparison list")
    page.goto(server.url("/compare/leaderboard/"))
    assert_clean(page, "leaderboard")
    page.goto(server.url(f"/compare/{pk}/diff"))
    assert_clean(page, "word diff page")


@pytest.mark.usefixtures("brief_long_thoughts")
def test_compare_pages_in_the_dark_theme(logged_in_page, server):
    page = logged_in_page
    page.emulate_media(color_scheme="dark")
    start_comparison(page, server, [QUICK, LONG], "What is 11*11?", blind=True)
    wait_all_done(page, 2)
    page.wait_for_selector("form.vote")
    assert_clean(page, "dark blind comparison")
    page.get_by_role("button", name="Tie").click()
    page.wait_for_selector(".voted")
    assert_clean(page, "dark voted comparison")
    page.goto(server.url("/compare/leaderboard/"))
    assert_clean(page, "dark leaderboard")
    page.goto(server.url("/"))
    assert_clean(page, "dark chat")


def test_a_finished_turn_is_announced_once_not_each_fragment(logged_in_page, server):
    page = logged_in_page
    page.goto(server.url("/"))
    live = page.evaluate("() => [...document.querySelectorAll('[aria-live]')].map(e => e.id)")
    assert live == ["announcer"]  # the one polite region; the list of turns is not live
    page.add_init_script("""
      window.__announced = [];
      document.addEventListener('DOMContentLoaded', () => new MutationObserver(ms => {
        for (const m of ms) for (const n of m.addedNodes) window.__announced.push(n.textContent);
      }).observe(document.getElementById('announcer'), {childList: true}));
    """)
    ask(page, LONG, "What is 7*8?")
    page.wait_for_function("() => window.__announced.length > 0")
    announced = page.evaluate("window.__announced")
    assert len(announced) == 1
    assert announced[0].startswith(f"{LONG} answered: ") and "56" in announced[0]
    assert page.locator("#announcer").get_attribute("role") == "status"


@pytest.mark.usefixtures("brief_long_thoughts")
def test_a_blind_column_is_announced_by_its_blind_name(logged_in_page, server):
    page = logged_in_page
    start_comparison(page, server, [QUICK, LONG], "What is 2*21?", blind=True)
    wait_all_done(page, 2)
    page.wait_for_function("() => document.querySelectorAll('#announcer p').length === 2")
    texts = sorted(page.locator("#announcer p").all_inner_texts())
    assert [t.split(":")[0] for t in texts] == ["Model A answered in column A", "Model B answered in column B"]
    assert not any(QUICK in t for t in texts)


FIRST_STOP = """() => [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
  .find(e => e.tabIndex >= 0 && !e.disabled).className"""


def test_the_skip_link_is_the_first_tab_stop_and_leads_to_main(page, server):
    log_in(page, server)
    for path in ("/", "/compare/new/", "/compare/leaderboard/", "/settings/"):
        page.goto(server.url(path))
        assert page.evaluate(FIRST_STOP) == "skip-link", path
        assert page.locator("main#main").count() == 1, path
    page.keyboard.press("Tab")  # /settings/ focuses nothing on load: Tab lands on the skip link
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to main content"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("() => location.hash") == "#main"
    page.keyboard.press("Tab")  # the next stop is inside main, past the navigation
    assert page.evaluate("() => !!document.activeElement.closest('main')")
