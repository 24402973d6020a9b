"""A sweep from the chat, in Chromium: "Sweep efforts…" on an answer, the form filled from
it, live progress, the chart with one point per level, the table, a click through to a
run; axe finds nothing on the sweep pages in either theme or at phone width."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_accessibility import ask, assert_clean

pytestmark = pytest.mark.browser

SIMULATOR = "Offline simulator"
LEVELS = 4  # thinking off, low, medium, high: what the simulator can take


def test_a_sweep_from_the_chat(logged_in_page, server):
    page = logged_in_page
    page.goto(server.url("/"))
    ask(page, SIMULATOR, "What is 17*23?")
    page.get_by_role("link", name="Sweep efforts…").first.click()
    page.wait_for_url(re.compile(r"/sweeps/new/\?turn=\d+$"))
    assert page.get_by_label("Prompt", exact=True).input_value() == "What is 17*23?"
    assert page.locator('input[name="levels"]:checked').count() == LEVELS
    assert_clean(page, "sweep form")
    page.get_by_label("Repeats per level").fill("3")
    page.get_by_label("Grader").select_option("number")
    page.get_by_label("Expected answer or number").fill("391")
    page.get_by_role("button", name="Start the sweep").click()
    page.wait_for_url(re.compile(r"/sweeps/\d+/$"))

    # Progress while it runs (polled), then the finished result.
    assert page.locator("#sweep-progress").is_visible()
    page.wait_for_function(
        "() => { const t = document.querySelector('#sweep-progress-text');"
        " return t && t.dataset.done === t.dataset.total && t.dataset.total === '12'; }",
        timeout=60_000,
    )
    page.wait_for_selector("#sweep-results:not([hx-trigger])")
    assert page.locator('svg[data-x="reasoning_tokens"] g.point').count() == LEVELS
    assert page.locator("table.sweep-table tbody tr").count() == LEVELS
    assert page.locator("table.sweep-table .pick-badge").count() == 1
    scores = page.locator("table.sweep-table tbody tr td:nth-child(3)").all_inner_texts()
    assert scores == ["1.00"] * LEVELS  # the simulator works it out at every level
    assert_clean(page, "finished sweep")
    screenshot(page, "sweep")
    page.set_viewport_size({"width": 390, "height": 844})
    assert_clean(page, "sweep on a phone")
    screenshot(page, "sweep-phone")
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 1280, "height": 860})
    assert_clean(page, "sweep, dark theme")
    screenshot(page, "sweep-dark")

    page.get_by_role("link", name="Compare two levels' reasoning (thought diff) →").click()
    page.wait_for_selector(".thought-diff")
    assert_clean(page, "thought diff")
    page.go_back()

    run = page.locator("a.run-link").first
    href = run.get_attribute("href")
    run.click()
    page.wait_for_url(re.compile(r"/c/\d+/"))
    turn_id = href.split("#turn-")[1]
    page.wait_for_selector(f'article#turn-{turn_id}.assistant[data-status="complete"]')
    page.goto(server.url("/sweeps/"))
    assert_clean(page, "sweep list")


POOL = """
from playground.arena.models import ArenaEntrant
from playground.models import ModelProfile
for label, params in (("Offline simulator", {"effort": "low"}), ("Offline simulator", {"effort": "high"}),
                      ("Offline simulator (long thoughts)", {"effort": "medium"})):
    ArenaEntrant.objects.get_or_create(model=ModelProfile.objects.get(label=label), params=params)
"""


@pytest.mark.usefixtures("brief_long_thoughts")
def test_an_arena_battle(logged_in_page, server):
    from tests.browser.test_compare_page import wait_all_done

    server.shell(POOL)
    page = logged_in_page
    page.goto(server.url("/arena/"))
    assert page.get_by_text("3 entrants of 2 models").is_visible()
    assert_clean(page, "arena")
    page.get_by_label("Prompt", exact=True).fill("What is 12*12?")
    page.get_by_role("button", name="Battle").click()
    page.wait_for_url(re.compile(r"/compare/\d+/$"))
    assert page.locator(".compare-column").count() == 2
    assert "Offline simulator" not in page.locator("main").inner_text()  # blind
    wait_all_done(page, 2)
    page.wait_for_selector("form.vote")
    assert_clean(page, "arena battle, answered")
    page.get_by_role("button", name="Model A is better").click()
    page.wait_for_selector(".voted")
    assert "Offline simulator" in page.locator("main").inner_text()  # the vote reveals
    page.goto(server.url("/compare/leaderboard/?ranking=pool"))
    assert page.locator("#ranking-shown").get_attribute("data-ranking") == "pool"
    assert page.locator("table.leaderboard tbody tr").count() == 2
    assert_clean(page, "pool leaderboard")
