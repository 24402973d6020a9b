"""Compare columns in Chromium: whole answers after a follow-up, scrolling together,
the word diff, and a blind comparison's links naming no model."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import log_in
from tests.browser.test_compare_page import LONG, QUICK, start_comparison, wait_all_done

pytestmark = pytest.mark.browser

AT_BOTTOM = "s => s.scrollHeight - s.scrollTop - s.clientHeight < 3"


def follow_up(page, prompt: str, columns: int, answers: int) -> None:
    page.get_by_label("Follow-up prompt").fill(prompt)
    page.get_by_role("button", name=f"Send to all {columns}").click()
    wait_all_done(page, answers)


@pytest.mark.usefixtures("brief_long_thoughts")
def test_every_column_shows_its_whole_answer_after_follow_ups(logged_in_page, server):
    page = logged_in_page
    start_comparison(page, server, [LONG, QUICK], "What is 17*23?")
    wait_all_done(page, 2)
    follow_up(page, "And what is (3+4)*2?", 2, 4)
    follow_up(page, "And 2+2?", 2, 6)
    page.wait_for_timeout(300)
    for stream in page.locator(".column-stream").all():
        assert stream.evaluate(AT_BOTTOM), stream.evaluate("s => [s.scrollHeight, s.scrollTop, s.clientHeight]")
        # The last turn's tools row (its last line) lies inside the column's visible box.
        box, tools = stream.bounding_box(), stream.locator("article.turn.assistant .turn-tools").last.bounding_box()
        assert tools["y"] + tools["height"] <= box["y"] + box["height"] + 1


@pytest.mark.usefixtures("brief_long_thoughts")
def test_scrolling_one_column_moves_the_others_to_the_same_round(logged_in_page, server):
    page = logged_in_page
    start_comparison(page, server, [QUICK, LONG], "What is 9*9?")
    wait_all_done(page, 2)
    follow_up(page, "And 8*8?", 2, 4)
    follow_up(page, "And 7*7?", 2, 6)
    # Enough rounds below round 2 for A to scroll it to the top (the turn chrome is compact).
    follow_up(page, "And 6*6?", 2, 8)
    a, b = page.locator(".column-stream").nth(0), page.locator(".column-stream").nth(1)
    # Open B's long thought of round 1, so the columns' rounds sit at different heights.
    page.locator('.compare-column[data-column="B"] details.thought summary').first.click()

    def round_top(stream, n: int) -> float:
        return stream.evaluate(f"s => s.querySelectorAll('article.turn.user')[{n}].offsetTop - s.scrollTop")

    a.evaluate("s => s.scrollTo(0, s.querySelectorAll('article.turn.user')[1].offsetTop)")  # round 2 at A's top
    page.wait_for_timeout(200)
    assert abs(round_top(a, 1)) < 2
    assert abs(round_top(b, 1)) < 2, "B did not follow A to round 2"
    a.evaluate("s => s.scrollTo(0, 0)")
    page.wait_for_timeout(200)
    assert b.evaluate("s => s.scrollTop") < 2

    page.get_by_label("Scroll columns together").uncheck()
    a.evaluate("s => s.scrollTo(0, s.querySelectorAll('article.turn.user')[2].offsetTop)")
    page.wait_for_timeout(200)
    assert b.evaluate("s => s.scrollTop") < 2  # B stays where it was


@pytest.mark.usefixtures("brief_long_thoughts")
def test_the_word_diff_opens_under_the_metrics(logged_in_page, server, screenshot):
    page = logged_in_page
    start_comparison(page, server, [QUICK, LONG], "What is 6*7?")
    wait_all_done(page, 2)
    page.get_by_text("Word diff of two answers").click()
    diff = page.locator(".diff-text")
    diff.wait_for()
    assert "42" in diff.inner_text()
    page.locator(".diff-choice select[name=part]").select_option("reasoning")
    page.get_by_role("button", name="Show the differences").click()
    # The reasoning part is the thought diff: the two reasonings side by side, steps aligned.
    page.wait_for_function("() => document.querySelector('.thought-diff')?.innerText.length > 200")
    assert page.locator(".thought-diff del, .thought-diff ins").count() >= 1  # the two simulators think differently
    page.locator(".thought-diff").scroll_into_view_if_needed()
    screenshot(page, "compare-diff")


LINKS = """() => [...document.querySelectorAll('[href], [hx-get], [data-copy], form[action], [ws-connect]')]
  .map(e => e.getAttribute('href') || e.getAttribute('hx-get') || e.getAttribute('data-copy')
            || e.getAttribute('action') || e.getAttribute('ws-connect'))"""


@pytest.mark.usefixtures("brief_long_thoughts")
def test_no_link_of_a_blind_comparison_page_names_a_model(page, server):
    # A user of its own: their lists hold this comparison only, nothing other tests revealed.
    server.create_user("blinda", "blinda correct horse battery")
    log_in(page, server, "blinda", "blinda correct horse battery")
    pk = start_comparison(page, server, [QUICK, LONG], "What is 5*5?", blind=True)
    wait_all_done(page, 2)
    model_ids = ["simulator", "simulator-long"]
    names = [QUICK, LONG]
    assert not any(n in page.content() for n in names)
    assert not any(n in page.title() for n in names)
    urls = sorted({u for u in page.evaluate(LINKS) if u.startswith("/") and not u.startswith(("/static/", "/ws/"))})
    assert any("/raw" in u for u in urls) and any("/request" in u for u in urls)
    request = page.context.request
    checked = 0
    for url in urls:
        if url.startswith("/compare/leaderboard/"):
            continue  # everyone's votes so far; this comparison has none
        response = request.get(server.url(url))
        if response.status == 405:  # a POST-only action (vote, stop, delete): its page names nothing
            continue
        body = response.text()
        body = re.sub(r"<select\b.*?</select>", "", body, flags=re.S)  # a model picker lists every model
        assert not [n for n in names if n in body], url
        assert not [m for m in model_ids if f'"{m}"' in body], url
        checked += 1
    assert checked >= 8
    # The chat list shows the comparison once, as the comparison.
    page.goto(server.url("/"))
    items = page.locator("#conversation-list li")
    assert page.locator(f'#conversation-list a[href="/compare/{pk}/"]').count() == 1
    assert not any("compare A" in t or "compare B" in t for t in items.all_inner_texts())


SEED_VOTES = """
import random
from django.contrib.auth import get_user_model
from playground.models import Comparison, ComparisonColumn, Conversation, Vote
user = get_user_model().objects.get(username="board")
rng = random.Random(5)
strength = {"o3 · effort high": 3.0, "o3 · effort low": 1.8, "Claude · thinking on": 2.2, "Qwen3 · effort high": 1.0}
for n in range(60):
    pair = rng.sample(sorted(strength), 2)
    c = Comparison.objects.create(owner=user, title=f"seeded {n}", blind=True)
    cols = [ComparisonColumn.objects.create(comparison=c, position=i, entrant=e,
            conversation=Conversation.objects.create(owner=user, title="seeded")) for i, e in enumerate(pair)]
    left, right = strength[pair[0]] * 1.3, strength[pair[1]]  # the reader favours the left a little
    winner = cols[0] if rng.random() < left / (left + right) else cols[1]
    Vote.objects.create(comparison=c, round=1, outcome="best", winner=winner, blind=True)
"""


def test_the_leaderboard_shows_intervals_ranks_and_the_position_term(page, server, screenshot):
    server.create_user("board", "board correct horse battery")
    server.shell(SEED_VOTES)
    log_in(page, server, "board", "board correct horse battery")
    page.goto(server.url("/compare/leaderboard/?scope=mine"))
    rows = page.locator("table.leaderboard tbody tr")
    assert rows.count() == 4
    assert rows.first.locator("td").nth(1).inner_text() == "o3 · effort high"
    for i in range(4):
        low, high = (int(x) for x in rows.nth(i).locator("td.interval").inner_text().split(" – "))
        assert low <= int(rows.nth(i).locator("td.rating").inner_text()) <= high
    assert "the left column wins" in page.locator("#position-term").inner_text()
    screenshot(page, "compare-leaderboard")


@pytest.mark.usefixtures("brief_long_thoughts")
def test_a_blind_comparison_on_a_phone_in_the_dark(phone_page, server, screenshot):
    from tests.browser.test_accessibility import assert_clean

    page = phone_page
    start_comparison(page, server, [QUICK, LONG], "What is 13*3?", blind=True)
    wait_all_done(page, 2)
    # One column fills the width; the next is a swipe away.
    width = page.locator(".compare-column").first.bounding_box()["width"]
    assert 300 <= width <= 390
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert_clean(page, "phone, dark, blind comparison")
    screenshot(page, "compare-phone-dark")
