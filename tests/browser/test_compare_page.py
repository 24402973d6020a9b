"""Comparisons end to end: a real server, real sockets (one per column), Chromium.

Three columns stream at the same time (their text grows interleaved), a
follow-up continues each column's own history without reasoning, a column
whose upstream refuses or rate-limits shows its error while the others
finish, and a blind vote reveals the labels and moves the leaderboard.
"""

from __future__ import annotations

import itertools
import json
import re
import socket

import pytest
from playwright.sync_api import expect

from reasoning.testing.upstream import FakeUpstream, Script

pytestmark = pytest.mark.browser

QUICK = "Offline simulator"
LONG = "Offline simulator (long thoughts)"

# Logs, for every change inside a column's stream, the time and the column, so
# the test can tell concurrent streams from one-after-another.
RECORD_COLUMNS = """
window.__columnLog = [];
new MutationObserver((mutations) => {
  const now = performance.now();
  for (const m of mutations) {
    const node = m.target.nodeType === 1 ? m.target : m.target.parentElement;
    const column = node && node.closest && node.closest(".compare-column");
    if (column) window.__columnLog.push([now, column.dataset.column]);
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def add_openai_model(server, name: str, label: str, base_url: str) -> None:
    server.shell(
        "from playground.models import ModelProfile, Provider\n"
        f"p, _ = Provider.objects.update_or_create(name={name!r},"
        f" defaults={{'kind': 'openai', 'base_url': {base_url!r}}})\n"
        "p.set_api_key('sk-test-not-a-real-key'); p.save()\n"
        f"ModelProfile.objects.update_or_create(provider=p, model_id='fake-model', defaults={{'label': {label!r}}})\n"
    )


def stored(server, code: str):
    out = server.shell("import json\nfrom playground.models import *\n" + code)
    return json.loads(out.strip().splitlines()[-1])


def column_turns(server, comparison_id: int) -> list[list[dict]]:
    """Per column (in screen order), its assistant turns."""
    return stored(server, (
        f"c = Comparison.objects.get(pk={comparison_id})\n"
        "print(json.dumps([[{'pk': t.pk, 'status': t.status, 'content': t.content, 'reasoning': t.reasoning,"
        " 'sent': t.sent, 'error': t.error, 'model': t.model_label}"
        " for t in col.conversation.turns.filter(role='assistant').order_by('pk')]"
        " for col in c.columns.all()]))\n"
    ))


def start_comparison(page, server, models: list[str], prompt: str, *, blind: bool = False, efforts=None):
    page.goto(server.url("/compare/new/"))
    for i, label in enumerate(models):
        if i >= 2:
            page.get_by_role("button", name="+ Add column").click()
        page.locator(f'select[name="col{i}-model"]').select_option(label=label)
        if efforts and efforts[i]:
            page.locator(f'select[name="col{i}-effort"]').select_option(efforts[i])
    if blind:
        page.get_by_label("Blind: hide and shuffle the models until I vote").check()
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(re.compile(r"/compare/\d+/$"))
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def wait_all_done(page, n_turns: int, timeout: float = 60_000) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll("
        "'.compare-column article.turn.assistant:not([data-status=streaming])').length >= n",
        arg=n_turns,
        timeout=timeout,
    )


def test_three_columns_stream_at_once_then_a_follow_up_keeps_each_history(logged_in_page, server, screenshot):
    page = logged_in_page
    page.add_init_script(RECORD_COLUMNS)
    pk = start_comparison(page, server, [LONG, LONG, QUICK], "What is 17*23?", efforts=["low", "high", None])

    columns = page.locator(".compare-column")
    assert columns.count() == 3
    assert page.locator(".column-label").all_inner_texts() == [LONG, LONG, QUICK]
    assert page.locator(".column-head .summary").all_inner_texts() == ["effort low", "effort high"]

    # While they think, screenshot the side by side view.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.compare-column .reasoning')]"
        ".filter(r => r.textContent.length > 300).length >= 2"
    )
    screenshot(page, "compare-thinking")
    wait_all_done(page, 3)

    # Concurrency: each column's text kept growing while the others' did.
    log = page.evaluate("window.__columnLog")
    spans = {}
    for t, col in log:
        first, last = spans.get(col, (t, t))
        spans[col] = (min(first, t), max(last, t))
    assert set(spans) == {"A", "B", "C"}
    assert spans["A"][0] < spans["B"][1] and spans["B"][0] < spans["A"][1]  # A and B overlap
    switches = sum(1 for a, b in itertools.pairwise(log) if {a[1], b[1]} == {"A", "B"})
    assert switches >= 10, f"A and B alternated only {switches} times"

    for i in range(3):
        assert "391" in columns.nth(i).locator(".content").last.inner_text()
    # Metrics, timeline and charts for the round.
    page.wait_for_selector("#compare-metrics svg.timeline")
    rows = page.locator("table.metrics-table tbody tr")
    assert rows.count() == 3
    assert page.locator("#compare-metrics svg.timeline rect.thinking title").count() == 3
    # Time to first answer, total time, tokens, tokens/s; no cost chart: the simulator has no prices.
    assert page.locator("#compare-metrics svg.bars").count() == 4

    # A follow-up goes to every column; each continues its own history, reasoning left out.
    page.get_by_label("Follow-up prompt").fill("And what is (3+4)*2?")
    page.get_by_role("button", name="Send to all 3").click()
    page.wait_for_function("() => document.querySelectorAll('.compare-column article.turn.assistant').length === 6")
    expect(page.get_by_label("Follow-up prompt")).to_have_value("")  # cleared once the POST answered
    wait_all_done(page, 6)
    page.set_viewport_size({"width": 1440, "height": 1700})  # columns, metrics and charts in one picture
    screenshot(page, "compare")
    assert page.locator("#compare-metrics h2").inner_text().startswith("Round 2")

    history = column_turns(server, pk)
    for i, (first, second) in enumerate(history):
        assert "14" in second["content"]
        messages = second["sent"]["body"]["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        assert messages[1]["content"] == first["content"]  # this column's own answer
        assert first["reasoning"][:200] not in json.dumps(second["sent"])
        others = [h[0]["reasoning"][:200] for j, h in enumerate(history) if j != i]
        assert not any(o in json.dumps(second["sent"]) for o in others)
    assert [h[1]["sent"]["body"]["thinking"]["effort"] for h in history] == ["low", "high", None]

    # Any column can be continued as an ordinary conversation.
    link = columns.nth(2).get_by_role("link", name="Continue as chat →")
    link.click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    assert page.locator("article.turn.assistant").count() == 2


@pytest.fixture
def broken_providers(server):
    """Providers that fail, taken out of every model list again after the test
    (the server is shared with other tests)."""
    yield
    server.shell(
        "from playground.models import Provider\nProvider.objects.filter(name__in=['refused', 'limited']).delete()"
    )


@pytest.mark.usefixtures("brief_long_thoughts")
def test_a_failing_column_shows_its_error_and_the_others_finish(logged_in_page, server, screenshot, broken_providers):
    page = logged_in_page
    add_openai_model(server, "refused", "Refused upstream", f"http://127.0.0.1:{closed_port()}/v1")
    with FakeUpstream() as upstream:
        upstream.enqueue(Script.error(
            429, {"error": {"message": "Rate limit reached for requests", "type": "requests"}},
            headers={"retry-after": "7"},
        ))
        add_openai_model(server, "limited", "Rate-limited upstream", upstream.url + "/v1")
        pk = start_comparison(page, server, [LONG, "Refused upstream", "Rate-limited upstream", QUICK], "What is 6*7?")
        wait_all_done(page, 4)
        assert len(upstream.requests) == 1

    columns = page.locator(".compare-column")
    assert "42" in columns.nth(0).locator(".content").inner_text()
    assert "42" in columns.nth(3).locator(".content").inner_text()
    refused = columns.nth(1).locator(".turn-error").text_content()
    assert "could not be reached" in refused and "kind: unavailable" in refused
    limited = columns.nth(2).locator(".turn-error").text_content()
    assert "rate-limiting" in limited and "HTTP 429" in limited and "Rate limit reached" in limited
    assert [t[0]["status"] for t in column_turns(server, pk)] == ["complete", "error", "error", "complete"]
    pills = page.locator("table.metrics-table .status-pill.error")
    assert pills.count() == 2
    screenshot(page, "compare-failing-column")


def test_stop_one_column_then_the_rest(logged_in_page, server):
    page = logged_in_page
    pk = start_comparison(page, server, [LONG, LONG, LONG], "What is 12*12?")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.compare-column .reasoning')].every(r => r.textContent.length > 100)"
    )
    page.locator(".compare-column").nth(1).get_by_role("button", name="Stop generating").click()
    page.wait_for_selector('.compare-column[data-column="B"] article.turn.assistant[data-status="stopped"]')
    statuses = [t[0]["status"] for t in column_turns(server, pk)]
    assert statuses[1] == "stopped" and statuses[0] == statuses[2] == "streaming"

    page.get_by_role("button", name="Stop all").click()
    wait_all_done(page, 3, timeout=10_000)
    assert [t[0]["status"] for t in column_turns(server, pk)] == ["stopped"] * 3
    assert page.locator("#compare-notice").inner_text() == ""  # Stop all sent no (empty) prompt
    assert page.locator("article.turn.user").count() == 3


def leaderboard_rows(page) -> list[tuple[str, str, str]]:
    rows = page.locator("table.leaderboard tbody tr")
    return [
        # The entrant, its (raw) rating and the votes it took part in ("Battles").
        (rows.nth(i).locator("td.entrant").inner_text(), rows.nth(i).locator("td.rating").inner_text(),
         rows.nth(i).locator("td.battles").inner_text())
        for i in range(rows.count())
    ]


@pytest.mark.usefixtures("brief_long_thoughts")
def test_a_blind_vote_reveals_the_labels_and_moves_the_leaderboard(logged_in_page, server, screenshot):
    page = logged_in_page
    page.add_init_script(  # every socket message, to check no label went over the wire
        "window.__frames = [];"
        "window.addEventListener('htmx:wsBeforeMessage', e => window.__frames.push(e.detail.message));"
    )
    page.goto(server.url("/compare/leaderboard/?scope=mine"))
    before = leaderboard_rows(page)

    pk = start_comparison(page, server, [QUICK, LONG], "What is 9*9?", blind=True)
    wait_all_done(page, 2)
    page.wait_for_selector("form.vote")
    html = page.content()
    frames = "".join(page.evaluate("window.__frames"))
    assert frames  # the columns streamed through their sockets
    for text in (html, frames):
        assert QUICK not in text
    assert page.locator(".column-label").all_inner_texts() == ["Model A", "Model B"]
    assert page.get_by_role("link", name="Continue as chat →").count() == 0
    screenshot(page, "compare-blind")

    page.get_by_role("button", name="Model B is better").click()
    page.wait_for_selector(".voted")
    labels = page.locator(".column-label").all_inner_texts()
    assert sorted(labels) == sorted([QUICK, LONG])
    winner = labels[1]
    assert page.locator(".voted").inner_text() == f"Your vote: column B ({winner}) was better (voted blind)."
    assert page.locator(".badge").first.inner_text() == "Blind · revealed"
    page.locator("#compare-metrics").scroll_into_view_if_needed()
    screenshot(page, "compare-voted")
    assert stored(server, f"v = Vote.objects.get(comparison={pk}); print(json.dumps([v.blind, v.winner.letter]))") == [
        True, "B",
    ]
    # After a blind vote, one click to the next blind battle.
    page.get_by_role("link", name="New battle").click()
    page.wait_for_url(re.compile(r"/compare/new/\?blind=1$"))
    assert page.get_by_label("Blind: hide and shuffle the models until I vote").is_checked()

    page.goto(server.url("/compare/leaderboard/?scope=mine"))
    after = leaderboard_rows(page)
    votes = {name: int(v) for name, _, v in after}
    old_votes = {name: int(v) for name, _, v in before}
    assert votes[winner] == old_votes.get(winner, 0) + 1
    rating = {name: float(r) for name, r, _ in after}
    old_rating = {name: float(r) for name, r, _ in before}
    loser = next(label for label in labels if label != winner)
    assert rating[winner] - rating[loser] > old_rating.get(winner, 1000) - old_rating.get(loser, 1000)
    screenshot(page, "compare-leaderboard-one-vote")

    # Reopened from the list, the comparison still shows its columns, metrics and vote.
    page.goto(server.url("/compare/"))
    screenshot(page, "compare-list")
    page.get_by_role("link", name="What is 9*9?").first.click()
    page.wait_for_url(re.compile(rf"/compare/{pk}/$"))
    assert page.locator(".compare-column").count() == 2
    assert page.locator("table.metrics-table tbody tr").count() == 2
    assert "was better" in page.locator(".voted").inner_text()


@pytest.mark.usefixtures("brief_long_thoughts")
def test_the_setup_form_adds_columns_and_shares_settings(logged_in_page, server, screenshot):
    page = logged_in_page
    page.goto(server.url("/compare/new/"))
    slots = page.locator("fieldset.slot")
    add = page.get_by_role("button", name="+ Add column")
    assert [slots.nth(i).is_visible() for i in range(6)] == [True, True, False, False, False, False]
    for _ in range(4):
        add.click()
    assert all(slots.nth(i).is_visible() for i in range(6))
    assert add.is_hidden()
    page.get_by_role("button", name="Remove column 6").click()
    page.get_by_role("button", name="Remove column 5").click()
    assert slots.nth(5).is_hidden() and slots.nth(4).is_hidden() and add.is_visible()

    page.locator('select[name="col0-model"]').select_option(label=LONG)
    page.locator('select[name="col1-model"]').select_option(label=QUICK)
    page.locator('select[name="col2-model"]').select_option(label=LONG)
    page.locator('select[name="col3-model"]').select_option("")  # an empty slot is no column
    # Only the efforts the simulator takes (low, medium, high) can be chosen.
    efforts = page.locator('select[name="col1-effort"] option')
    enabled = [o.get_attribute("value") for o in efforts.all() if o.is_enabled()]
    assert enabled == ["default", "low", "medium", "high"]
    page.locator('select[name="col0-effort"]').select_option("high")
    page.locator('select[name="col2-effort"]').select_option("low")
    page.get_by_label("Prompt").fill("What is 2+2?")
    screenshot(page, "compare-new")

    page.get_by_label("Same settings for all columns").check()
    assert slots.nth(1).locator(".controls").is_hidden()
    assert slots.nth(1).get_by_text("Uses column A's settings.").is_visible()
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(re.compile(r"/compare/\d+/$"))
    pk = int(page.url.rstrip("/").rsplit("/", 1)[1])
    assert page.locator(".compare-column").count() == 3
    assert page.locator(".column-head .summary").all_inner_texts() == ["effort high"] * 3
    assert page.locator(".badge").inner_text() == "Same settings"
    params = stored(server, f"print(json.dumps([c.params for c in Comparison.objects.get(pk={pk}).columns.all()]))")
    assert params == [{"thinking": "default", "effort": "high"}] * 3
    wait_all_done(page, 3)
