"""Comparisons: one prompt to several columns, each an ordinary conversation."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from playground.asgi import application
from playground.models import Comparison, Conversation, ModelProfile, Turn, Vote
from playground.streaming.run import RUNS
from reasoning.errors import RateLimited
from reasoning.events import ContentDelta, Finish, ReasoningDelta, Usage
from tests.playground.stream_page import open_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def three_models(scripted_model):
    """Three scripted models with telling names (a blind page must not show them)."""
    second = ModelProfile.objects.create(
        provider=scripted_model.provider, model_id="scripted-2", label="Bravo Reasoner", efforts=["low", "high"],
        price_input=1, price_output=4,
    )
    third = ModelProfile.objects.create(
        provider=scripted_model.provider, model_id="scripted-3", label="Charlie Thinker", efforts=["high"]
    )
    scripted_model.label = "Alpha Sage"
    scripted_model.save()
    return [scripted_model, second, third]


def setup_form(models, prompt="Why is the sky blue?", **extra):
    data = {"prompt": prompt}
    for i, m in enumerate(models):
        data[f"col{i}-model"] = str(m.pk)
    data.update(extra)
    return data


async def finish_runs(within=5.0):
    """Wait until every run started on this test's loop has ended."""
    loop = asyncio.get_running_loop()

    def ours():
        return [r.task for r in list(RUNS.values()) if r.task and r.task.get_loop() is loop]

    async with asyncio.timeout(within):
        while tasks := ours():
            await asyncio.gather(*tasks, return_exceptions=True)


@database_sync_to_async
def columns_of(comparison_id):
    comparison = Comparison.objects.get(pk=comparison_id)
    out = []
    for column in comparison.columns.select_related("conversation"):
        turns = list(column.conversation.turns.filter(role="assistant").order_by("pk"))
        out.append((column, turns))
    return out


async def create(async_client, owner, data):
    await async_client.aforce_login(owner)
    response = await async_client.post("/compare/new/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    pk = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    return pk


async def test_it_sends_the_prompt_to_every_column_as_its_own_conversation(async_client, owner, scripted, three_models):
    pk = await create(async_client, owner, setup_form(three_models, **{"col1-effort": "high"}))
    await finish_runs()
    columns = await columns_of(pk)
    assert [c.letter for c, _ in columns] == ["A", "B", "C"]
    assert [c.entrant for c, _ in columns] == ["Alpha Sage", "Bravo Reasoner · effort high", "Charlie Thinker"]
    for column, turns in columns:
        conversation = await database_sync_to_async(Conversation.objects.get)(pk=column.conversation_id)
        assert conversation.owner_id == owner.pk
        assert [t.status for t in turns] == ["complete"]
        assert turns[0].content == "The answer." and turns[0].reasoning == "Let me think. Done."
    assert columns[1][1][0].params["effort"] == "high"
    assert len(scripted.requests) == 3
    assert [r.thinking.effort for r in scripted.requests] == [None, "high", None]


async def test_same_settings_apply_column_a_controls_to_all(async_client, owner, scripted, three_models):
    data = setup_form(three_models, same_settings="on", **{"col0-effort": "high", "col0-temperature": "0.5"})
    data["col1-effort"] = "low"  # ignored: column A's settings win
    pk = await create(async_client, owner, data)
    await finish_runs()
    columns = await columns_of(pk)
    assert [c.params for c, _ in columns] == [{"effort": "high", "temperature": 0.5}] * 3


async def test_it_refuses_fewer_than_two_columns_or_an_effort_a_model_lacks(async_client, owner, three_models):
    await async_client.aforce_login(owner)
    response = await async_client.post("/compare/new/", setup_form(three_models[:1]))
    assert response.status_code == 400
    assert "between 2 and 6 columns" in response.content.decode()
    response = await async_client.post("/compare/new/", setup_form(three_models, **{"col2-effort": "low"}))
    assert response.status_code == 400
    assert "is not available for Charlie Thinker" in response.content.decode()
    assert await Comparison.objects.acount() == 0
    assert await Conversation.objects.acount() == 0


async def test_a_follow_up_continues_each_column_with_its_own_history_and_no_reasoning(
    async_client, owner, scripted, three_models
):
    for letter in "ABC":
        scripted.enqueue([ReasoningDelta(f"secret thought {letter}"), ContentDelta(f"answer {letter}"), Finish("stop")])
    pk = await create(async_client, owner, setup_form(three_models))
    await finish_runs()
    response = await async_client.post(
        f"/compare/{pk}/send", {"prompt": "And at sunset?"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and response["HX-Trigger"] == "compareSent"
    await finish_runs()

    for _, turns in await columns_of(pk):
        assert len(turns) == 2
        first, second = turns
        body = second.sent["body"]
        assert body["messages"] == [
            {"role": "user", "content": "Why is the sky blue?"},
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": "And at sunset?"},
        ]
        assert first.content.startswith("answer ")
        assert "secret thought" not in json.dumps(second.sent)
    follow_ups = scripted.requests[3:]
    own = [[m.content for m in r.messages if m.role == "assistant"] for r in follow_ups]
    assert sorted(own) == [["answer A"], ["answer B"], ["answer C"]]


async def test_a_failing_column_shows_its_error_and_leaves_the_others(async_client, owner, scripted, three_models):
    slow = [ReasoningDelta("a"), ReasoningDelta("b"), ContentDelta("fine"), Usage(3, 5, 2), Finish("stop")]
    scripted.enqueue(slow, delay=0.05)
    scripted.enqueue([RateLimited("Too many requests", retry_after=7)])
    scripted.enqueue(slow, delay=0.05)
    pk = await create(async_client, owner, setup_form(three_models))
    await finish_runs()
    statuses = [(turns[0].status, turns[0].content) for _, turns in await columns_of(pk)]
    assert statuses == [("complete", "fine"), ("error", ""), ("complete", "fine")]
    page = (await async_client.get(f"/compare/{pk}/")).content.decode()
    assert "The provider is rate-limiting requests." in page and "Too many requests" in page
    assert 'data-retry-after="7"' in page and "kind: rate_limited · HTTP 429" in page
    assert page.count('class="status-pill error"') == 1


async def test_stop_all_stops_every_streaming_column(async_client, owner, scripted, three_models):
    for _ in range(3):
        scripted.enqueue([ReasoningDelta("x")] * 200, delay=0.05)
    pk = await create(async_client, owner, setup_form(three_models))
    await asyncio.sleep(0.2)
    response = await async_client.post(f"/compare/{pk}/stop", headers={"HX-Request": "true"})
    assert response.status_code == 204
    await finish_runs(within=2)
    for _, turns in await columns_of(pk):
        assert turns[0].status == "stopped"
        assert 0 < len(turns[0].reasoning) < 200


async def test_a_follow_up_waits_for_columns_still_answering(async_client, owner, scripted, three_models):
    scripted.enqueue([ReasoningDelta("x")] * 100, delay=0.05)
    pk = await create(async_client, owner, setup_form(three_models))
    response = await async_client.post(f"/compare/{pk}/send", {"prompt": "next"}, headers={"HX-Request": "true"})
    assert "Column A is still answering" in response.content.decode()
    await async_client.post(f"/compare/{pk}/stop")
    await finish_runs()
    assert await Turn.objects.filter(role="user").acount() == 3


async def test_strangers_get_404_for_every_comparison_page(async_client, owner, stranger, scripted, three_models):
    pk = await create(async_client, owner, setup_form(three_models))
    await finish_runs()
    await async_client.aforce_login(stranger)
    for method, path in [("get", ""), ("get", "metrics"), ("post", "send"), ("post", "stop"), ("post", "vote"),
                         ("post", "reveal"), ("post", "delete")]:
        response = await getattr(async_client, method)(f"/compare/{pk}/{path}", {"prompt": "x", "choice": "A"})
        assert response.status_code == 404, path
    assert await Vote.objects.acount() == 0


async def column_socket(client, user, conversation_id):
    return await open_socket(client, user, f"/ws/compare/{conversation_id}/")


async def test_blind_labels_stay_hidden_on_page_and_sockets_until_the_vote(
    client, async_client, owner, scripted, three_models
):
    names = ["Alpha Sage", "Bravo Reasoner", "Charlie Thinker"]
    pk = await create(async_client, owner, setup_form(three_models[:2], blind="on"))
    await finish_runs()
    columns = await columns_of(pk)
    page = (await async_client.get(f"/compare/{pk}/")).content.decode()
    assert "Model A" in page and "Model B" in page
    assert not any(name in page for name in names)
    listing = (await async_client.get("/compare/")).content.decode()
    assert "2 hidden models" in listing and not any(name in listing for name in names)

    # A follow-up while still blind: what the column sockets send names no model either.
    sockets = [await column_socket(client, owner, c.conversation_id) for c, _ in columns]
    await async_client.post(f"/compare/{pk}/send", {"prompt": "Again?"})
    await finish_runs()
    for comm in sockets:
        received = []
        while not any('hx-swap-oob="outerHTML"' in m and "compare-metrics" in m for m in received):
            received.append(await comm.receive_from(timeout=5))
        text = "".join(received)
        assert "Model A" in text or "Model B" in text
        assert not any(name in text for name in names)
        await comm.disconnect()

    # The disguise was for display only: the stored turns keep their model.
    assert await Turn.objects.filter(role="assistant", model_label__startswith="Model ").acount() == 0

    leaderboard = (await async_client.get("/compare/leaderboard/")).content.decode()
    assert "No votes yet" in leaderboard

    response = await async_client.post(f"/compare/{pk}/vote", {"choice": "B"})
    assert response.status_code == 302
    vote = await Vote.objects.select_related("winner").aget()
    assert vote.blind and vote.round == 2 and vote.winner.letter == "B"
    page = (await async_client.get(f"/compare/{pk}/")).content.decode()
    assert "Alpha Sage" in page and "Bravo Reasoner" in page and "Model A" not in page

    again = await async_client.post(f"/compare/{pk}/vote", {"choice": "A"})
    assert again.status_code == 409

    leaderboard = (await async_client.get("/compare/leaderboard/")).content.decode()
    winner = columns[1][0].entrant
    loser = columns[0][0].entrant
    assert leaderboard.index(winner) < leaderboard.index(loser)
    assert "1 vote" in leaderboard


async def test_a_vote_needs_every_column_to_have_answered(async_client, owner, scripted, three_models):
    scripted.enqueue([ReasoningDelta("x")] * 100, delay=0.05)
    pk = await create(async_client, owner, setup_form(three_models))
    response = await async_client.post(f"/compare/{pk}/vote", {"choice": "A"})
    assert response.status_code == 409
    await async_client.post(f"/compare/{pk}/stop")
    await finish_runs()
    response = await async_client.post(f"/compare/{pk}/vote", {"choice": "tie"}, headers={"HX-Request": "true"})
    assert response["HX-Redirect"] == f"/compare/{pk}/"
    vote = await Vote.objects.aget()
    assert vote.outcome == "tie" and vote.winner_id is None and not vote.blind


async def test_the_page_shows_metrics_charts_and_links_each_column_to_its_chat(
    async_client, owner, scripted, three_models
):
    scripted.enqueue([ReasoningDelta("hmm"), ContentDelta("42"), Usage(100, 50, 20), Finish("stop")], delay=0.02)
    pk = await create(async_client, owner, setup_form(three_models[:2]))
    await finish_runs()
    page = (await async_client.get(f"/compare/{pk}/")).content.decode()
    for column, turns in await columns_of(pk):
        assert f'href="/c/{column.conversation_id}/"' in page
        assert f'ws-connect="/ws/compare/{column.conversation_id}/"' in page
        assert f'id="turn-{turns[0].pk}"' in page
    assert '<svg class="chart timeline"' in page
    assert page.count('<svg class="chart bars"') == 5  # with cost: column B's model has prices
    assert "Which answer is better?" in page and "Both bad" in page
    # Column A reported 50 completion tokens, 20 of them reasoning.
    row = page.split('<tr data-column="A"', 1)[1].split("</tr>", 1)[0]
    assert "<td>20</td><td>30</td>" in row


async def test_comparisons_are_listed_and_deleted_with_their_conversations(async_client, owner, scripted, three_models):
    pk = await create(async_client, owner, setup_form(three_models, prompt="Listed prompt"))
    await finish_runs()
    listing = (await async_client.get("/compare/")).content.decode()
    assert "Listed prompt" in listing and "Alpha Sage vs Bravo Reasoner vs Charlie Thinker" in listing
    response = await async_client.post(f"/compare/{pk}/delete")
    assert response.status_code == 302
    assert await Comparison.objects.acount() == 0
    assert await Conversation.objects.acount() == 0


async def test_each_round_has_its_own_metrics_and_vote(async_client, owner, scripted, three_models):
    scripted.enqueue([ReasoningDelta("r1"), ContentDelta("first"), Usage(5, 11, 3), Finish("stop")])
    pk = await create(async_client, owner, setup_form(three_models[:2]))
    await finish_runs()
    scripted.enqueue([ReasoningDelta("r2"), ContentDelta("second"), Usage(9, 23, 7), Finish("stop")])
    await async_client.post(f"/compare/{pk}/send", {"prompt": "More?"})
    await finish_runs()

    latest = (await async_client.get(f"/compare/{pk}/metrics")).content.decode()
    assert "Round 2" in latest and "<td>7</td><td>16</td>" in latest
    first = (await async_client.get(f"/compare/{pk}/metrics?round=1")).content.decode()
    assert "Round 1" in first and "<td>3</td><td>8</td>" in first
    assert 'name="round" value="1"' in first

    await async_client.post(f"/compare/{pk}/vote", {"choice": "A", "round": "1"})
    await async_client.post(f"/compare/{pk}/vote", {"choice": "all_bad"})
    votes = [(v.round, v.outcome) async for v in Vote.objects.order_by("round")]
    assert votes == [(1, "best"), (2, "all_bad")]
    response = await async_client.post(f"/compare/{pk}/vote", {"choice": "A", "round": "3"})
    assert response.status_code == 400


async def test_a_strangers_column_socket_is_refused(client, async_client, owner, stranger, scripted, three_models):
    pk = await create(async_client, owner, setup_form(three_models[:2]))
    await finish_runs()
    column, _ = (await columns_of(pk))[0]
    await database_sync_to_async(client.force_login)(stranger)
    comm = WebsocketCommunicator(
        application,
        f"/ws/compare/{column.conversation_id}/",
        headers=[
            (b"origin", b"http://127.0.0.1"),
            (b"host", b"127.0.0.1"),
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        ],
    )
    connected, code = await comm.connect()
    assert not connected and code == 4403


async def test_the_leaderboard_filters_by_voter_and_by_blindness(async_client, owner, stranger, scripted, three_models):
    sighted = await create(async_client, owner, setup_form(three_models[:2]))
    await finish_runs()
    await async_client.post(f"/compare/{sighted}/vote", {"choice": "A"})  # Alpha Sage over Bravo, labels shown
    blind = await create(async_client, stranger, setup_form(three_models[1:], blind="on"))
    await finish_runs()
    columns = await columns_of(blind)
    charlie = next(c.letter for c, _ in columns if c.entrant == "Charlie Thinker")
    await async_client.post(f"/compare/{blind}/vote", {"choice": charlie})  # the stranger's blind vote

    def ranked(html):
        return re.findall(r'<td class="entrant">([^<]+)</td>', html)

    everyone = (await async_client.get("/compare/leaderboard/")).content.decode()
    assert "2 votes" in everyone and len(ranked(everyone)) == 3
    mine = (await async_client.get("/compare/leaderboard/?scope=mine")).content.decode()
    assert ranked(mine) == ["Charlie Thinker", "Bravo Reasoner"]  # the stranger is now logged in
    only_blind = (await async_client.get("/compare/leaderboard/?votes=blind")).content.decode()
    assert "1 vote" in only_blind and ranked(only_blind) == ["Charlie Thinker", "Bravo Reasoner"]
    await async_client.aforce_login(owner)
    mine = (await async_client.get("/compare/leaderboard/?scope=mine")).content.decode()
    assert ranked(mine) == ["Alpha Sage", "Bravo Reasoner"]


async def test_a_columns_answer_regenerates_only_through_its_comparison(async_client, owner, scripted, three_models):
    """The chat's Regenerate takes a model and controls from the request: for a column's
    answer it is refused (that would change what is compared, and a blind column's
    model would show); the comparison's own route keeps the column's model."""
    scripted.enqueue([ContentDelta("A1"), Finish("stop")])
    scripted.enqueue([ContentDelta("B1"), Finish("stop")])
    pk = await create(async_client, owner, setup_form(three_models[:2], blind="on"))
    await finish_runs()
    (column_a, [answer]), _ = await columns_of(pk)
    other = three_models[2].pk
    refused = await async_client.post(
        f"/turns/{answer.pk}/regenerate", {"model": other}, headers={"HX-Request": "true"}
    )
    assert "regenerate it from its column" in refused.content.decode()
    scripted.enqueue([ContentDelta("A2"), Finish("stop")])
    again = await async_client.post(f"/turns/{answer.pk}/regenerate-in-column", {"model": other})
    assert again.status_code == 200 and again.content == b""
    await finish_runs()
    (_, answers), _ = await columns_of(pk)
    assert len(answers) == 2 and answers[-1].model_id == column_a.conversation.model_id == answer.model_id
    assert answers[-1].content == "A2"
