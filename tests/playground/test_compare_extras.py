"""Beyond the peers: each column's reasoning share, and a word diff of two answers."""

from __future__ import annotations

import re

import pytest

from reasoning.events import ContentDelta, Finish, ReasoningDelta, Usage
from tests.playground import test_compare
from tests.playground.test_compare import create, finish_runs, setup_form

pytestmark = pytest.mark.django_db(transaction=True)
three_models = test_compare.three_models  # the fixture; column B's model has prices (1 in, 4 out per M)


def row(page: str, letter: str) -> str:
    return page.split(f'<tr data-column="{letter}"', 1)[1].split("</tr>", 1)[0]


def metric(row_html: str, name: str) -> str:
    return re.search(rf'data-metric="{name}">([^<]*)<', row_html).group(1)


async def test_each_column_shows_the_reasoning_share_of_its_output_and_of_its_cost(
    async_client, owner, scripted, three_models
):
    for _ in range(2):
        scripted.enqueue([ReasoningDelta("hmm"), ContentDelta("42"), Usage(100, 40, 30), Finish("stop")])
    pk = await create(async_client, owner, setup_form(three_models[:2]))
    await finish_runs()
    page = (await async_client.get(f"/compare/{pk}/")).content.decode()
    a, b = row(page, "A"), row(page, "B")
    assert metric(a, "reasoning-share") == metric(b, "reasoning-share") == "75%"  # 30 of 40 output tokens
    assert metric(a, "reasoning-cost-share") == "—"  # no prices, no cost
    # B: cost (100·1 + 40·4)/1M, of which the 30 reasoning tokens cost 30·4/1M: 120/260.
    assert metric(b, "reasoning-cost-share") == "46%"


async def test_the_word_diff_shows_what_differs_between_two_answers(async_client, owner, scripted, three_models):
    scripted.enqueue([ContentDelta("So 17 × 23 is 391, the answer."), Finish("stop")])
    scripted.enqueue([ContentDelta("So 17 × 23 is 392, the answer."), Finish("stop")])
    pk = await create(async_client, owner, setup_form(three_models[:2], blind="on"))
    await finish_runs()
    page = (await async_client.get(f"/compare/{pk}/")).content.decode()
    assert f'hx-get="/compare/{pk}/diff?round=1"' in page

    fragment = (await async_client.get(f"/compare/{pk}/diff", {"a": "A", "b": "B"}, headers={"HX-Request": "true"}))
    html = fragment.content.decode()
    assert "<html" not in html
    text = html.split('class="diff-text"', 1)[1]
    assert set(re.findall(r"<(del|ins)>([^<]*)</", text)) in (
        {("del", "391"), ("ins", "392")}, {("del", "392"), ("ins", "391")},
    )
    assert "So 17 × 23 is " in html and ", the answer." in html
    assert "Model A" in html and "Alpha Sage" not in html and "Bravo Reasoner" not in html  # still blind
    assert "90% of the words in common" in html  # 9 of 10 (a punctuation mark counts as a word)

    full = (await async_client.get(f"/compare/{pk}/diff", {"a": "B", "b": "A", "part": "reasoning"})).content.decode()
    assert "<main" in full and "Round 1: word diff" in full


async def test_the_leaderboard_shows_intervals_ranks_and_the_side_term(async_client, owner, scripted, three_models):
    for choice in ("A", "A", "B"):
        pk = await create(async_client, owner, setup_form(three_models[:2]))
        await finish_runs()
        await async_client.post(f"/compare/{pk}/vote", {"choice": choice})
    page = (await async_client.get("/compare/leaderboard/")).content.decode()
    assert "Intervals and the position estimate need 10 votes; there are 3 so far." in page
    assert '<td class="interval">—</td>' in page
    for choice in ("A", "B", "A", "A", "B", "A", "A"):
        pk = await create(async_client, owner, setup_form(three_models[:2]))
        await finish_runs()
        await async_client.post(f"/compare/{pk}/vote", {"choice": choice})
    page = (await async_client.get("/compare/leaderboard/")).content.decode()
    rows = re.findall(r"<tr><td>(\d+)</td><td class=\"entrant\">([^<]+)</td><td class=\"rating\">(\d+)</td>"
                      r"<td class=\"interval\">(\d+) – (\d+)</td>", page)
    assert [name for _, name, *_ in rows] == ["Alpha Sage", "Bravo Reasoner"]
    for _, _, value, low, high in rows:
        assert int(low) <= int(value) <= int(high)
    assert [rank for rank, *_ in rows] == ["1", "1"]  # ten votes, 7 : 3, separate nobody
    # Alpha always stood left and won 7 of 10: the fit credits part of that to the side.
    assert "the left column wins" in page and "95% interval" in page
