"""In Chromium: a compare column's latest answer is regenerated in place (issue 21's
loose ends): the new answer streams into that column over its socket, with no page
load, the other columns untouched, and in a blind comparison under the column's
"Model A" (no model name reaches the page, not even in a refusal). Only the latest
answer of a column is offered (the columns stay on the same rounds), and not once its
round has a vote: a vote is on the pair shown, as on LMArena."""

from __future__ import annotations

import pytest

from playground.compare.services import LATEST_ONLY, VOTED
from tests.browser.test_compare_page import start_comparison, wait_all_done

pytestmark = pytest.mark.browser

REGEN = "Regen simulator"
OTHER = "Regen simulator (other)"

MODELS = (
    "from playground.models import ModelProfile, Provider\n"
    "p, _ = Provider.objects.get_or_create(name='regen-sim', defaults={'kind': 'simulator', 'base_url': ''})\n"
    f"for label, model_id, pos in (({REGEN!r}, 'simulator', 93), ({OTHER!r}, 'simulator-long', 94)):\n"
    "    ModelProfile.objects.update_or_create(provider=p, model_id=model_id, defaults={'label': label,"
    " 'reasoning': 'markup', 'markup': 'think', 'thinking_control': 'simulator', 'efforts': ['low', 'medium', 'high'],"
    " 'options': {'reasoning_tokens': 200, 'tokens_per_second': 400}, 'enabled': True, 'position': pos})\n"
)

# Which columns had a streaming answer appear in them, and that the page never loaded again.
RECORD = """
window.__streamedIn = new Set();
new MutationObserver(() => {
  document.querySelectorAll('.compare-column article.turn.assistant[data-status=streaming]')
    .forEach(t => window.__streamedIn.add(t.closest('.compare-column').dataset.column + ':' + t.dataset.turn));
}).observe(document, {childList: true, subtree: true});
"""


@pytest.fixture
def regen_models(server):
    server.shell(MODELS)
    yield
    server.shell("from playground.models import Provider\nProvider.objects.filter(name='regen-sim').delete()\n")


def answers(page, letter: str) -> list[str]:
    return page.locator(f'.compare-column[data-column="{letter}"] article.turn.assistant').evaluate_all(
        "ts => ts.map(t => t.dataset.turn)"
    )


def visible_regenerate(page, letter: str):
    return page.locator(f'.compare-column[data-column="{letter}"] button[aria-label="Regenerate"]:visible')


def post_regenerate(page, turn: str) -> str:
    """The regenerate request as the page's button sends it; what lands in the notice."""
    page.evaluate("() => { document.getElementById('compare-notice').innerHTML = ''; }")
    page.evaluate(f"() => htmx.ajax('POST', '/turns/{turn}/regenerate-in-column', {{target: '#compare-notice'}})")
    page.wait_for_selector("#compare-notice .error")
    return page.locator("#compare-notice").inner_text()


def test_a_blind_columns_answer_regenerates_in_place_until_its_round_has_a_vote(
    logged_in_page, server, regen_models
):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(RECORD)
    start_comparison(page, server, [REGEN, OTHER], "What is 5*5?", blind=True)
    wait_all_done(page, 2)
    page.evaluate("() => { window.__samePage = true; }")
    [a1], [b1] = answers(page, "A"), answers(page, "B")
    assert visible_regenerate(page, "A").count() == 1 and visible_regenerate(page, "B").count() == 1

    visible_regenerate(page, "A").click()
    page.wait_for_function(
        "old => { const ts = document.querySelectorAll('.compare-column[data-column=A] article.turn.assistant');"
        " return ts.length === 1 && ts[0].dataset.turn !== old && ts[0].dataset.status === 'complete'; }",
        arg=a1, timeout=60_000,
    )
    [a2] = answers(page, "A")
    assert page.evaluate("() => window.__samePage === true")  # in place: no page load
    streamed = page.evaluate("() => [...window.__streamedIn]")
    assert f"A:{a2}" in streamed, streamed  # it streamed into its own column
    assert answers(page, "B") == [b1] and not any(s.startswith("B:") and s != f"B:{b1}" for s in streamed)
    # Still blind: the column's label, no model's name anywhere on the page.
    column_a = page.locator('.compare-column[data-column="A"]')
    assert column_a.locator("article.turn.assistant .model").inner_text() == "Model A"
    assert column_a.locator("article.turn.user").count() == 1  # the prompt once, not again
    html = page.content()
    assert REGEN not in html and OTHER not in html
    assert page.locator("#compare-notice").inner_text() == ""

    # After a follow-up only the latest answer of each column is offered; the server agrees.
    page.get_by_label("Follow-up prompt").fill("And 6*6?")
    page.get_by_role("button", name="Send to all 2").click()
    wait_all_done(page, 4)
    assert visible_regenerate(page, "A").count() == 1
    assert visible_regenerate(page, "A").evaluate("b => b.closest('article').dataset.turn") == answers(page, "A")[-1]
    assert post_regenerate(page, a2) == LATEST_ONLY

    # A refusal that would name the model names the column instead.
    server.shell(f"from playground.models import ModelProfile\nModelProfile.objects.filter(label__in=[{REGEN!r},"
                 f" {OTHER!r}]).update(enabled=False)\n")
    try:
        refused = post_regenerate(page, answers(page, "A")[-1])
    finally:
        server.shell(f"from playground.models import ModelProfile\nModelProfile.objects.filter(label__in=[{REGEN!r},"
                     f" {OTHER!r}]).update(enabled=True)\n")
    assert refused == "Model A is disabled."

    # A vote is on the pair shown: once cast, that round's answers stay.
    page.get_by_role("button", name="Model B is better").click()
    page.wait_for_selector(".voted")
    assert visible_regenerate(page, "A").count() == 0 and visible_regenerate(page, "B").count() == 0
    assert post_regenerate(page, answers(page, "B")[-1]) == VOTED
    assert errors == []
