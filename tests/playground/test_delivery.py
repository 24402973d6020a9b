"""What every socket watching a conversation is owed, whichever screen it serves
(chat or a comparison column) and whichever way the turn was started (the socket,
a view over HTTP, a comparison): the turn announced, its end learned even when
"turn.done" is lost, and no message over the transport's limit."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async

from playground.models import Comparison, Conversation, Turn
from playground.streaming import run as runs
from playground.streaming.run import RUNS
from playground.turns.services import start_exchange
from reasoning.events import ContentDelta, Finish, ReasoningDelta
from tests.playground.stream_page import layer_losing, open_socket

pytestmark = pytest.mark.django_db(transaction=True)

DAPHNE_LIMIT = 1024 * 1024  # autobahn's default maxMessagePayloadSize


async def finish_runs(within=10.0):
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(within):
        while tasks := [r.task for r in list(RUNS.values()) if r.task and r.task.get_loop() is loop]:
            await asyncio.gather(*tasks, return_exceptions=True)


async def receive_until(comm, predicate, timeout=5.0):  # noqa: ASYNC109 (the communicator's own timeout)
    """Messages up to and including the first one `predicate` accepts."""
    received = []
    while True:
        message = await comm.receive_from(timeout=timeout)
        received.append(message)
        if predicate(message):
            return received


def final_render_of(turn_id):
    return lambda m: f'id="turn-{turn_id}"' in m and 'hx-swap-oob="outerHTML"' in m


async def a_comparison(async_client, owner, models):
    await async_client.aforce_login(owner)
    data = {"prompt": "Why?", **{f"col{i}-model": str(m.pk) for i, m in enumerate(models)}}
    response = await async_client.post("/compare/new/", data)
    assert response.status_code == 302, response.content.decode()[:500]
    await finish_runs()
    pk = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    comparison = await Comparison.objects.aget(pk=pk)
    return pk, [c.conversation_id async for c in comparison.columns.order_by("position")]


@pytest.fixture
def two_models(scripted_model):
    from playground.models import ModelProfile

    second = ModelProfile.objects.create(provider=scripted_model.provider, model_id="scripted-2", label="Second")
    return [scripted_model, second]


@database_sync_to_async
def newest_assistant_turn(conversation_id):
    return Turn.objects.filter(conversation_id=conversation_id, role="assistant").latest("pk").pk


# ---- a comparison column is owed what a chat socket gets ------------------------------------


async def test_a_compare_column_whose_turn_done_is_lost_still_learns_its_turn_ended(
    client, async_client, owner, scripted, two_models, monkeypatch, settings
):
    settings.STREAM_STALE_AFTER = 1.0  # the watchdog looks every 0.5 s
    pk, conversations = await a_comparison(async_client, owner, two_models)
    monkeypatch.setattr(runs, "get_channel_layer", layer_losing("turn.done"))  # a full channel drops it
    comm = await open_socket(client, owner, f"/ws/compare/{conversations[0]}/")
    scripted.enqueue([ReasoningDelta("hm"), ContentDelta("ok"), Finish("stop")], delay=0.01)
    await async_client.post(f"/compare/{pk}/send", {"prompt": "Again?"})
    turn_id = await newest_assistant_turn(conversations[0])
    started = time.monotonic()
    received = await receive_until(comm, final_render_of(turn_id), timeout=5)
    assert time.monotonic() - started < 3
    assert "compare-metrics" in "".join(received)
    await comm.disconnect()


async def test_a_compare_columns_final_render_over_a_mebibyte_goes_out_in_pieces_that_fit(
    client, async_client, owner, scripted, two_models
):
    pk, conversations = await a_comparison(async_client, owner, two_models)
    comm = await open_socket(client, owner, f"/ws/compare/{conversations[0]}/")
    paragraph = "lorem ipsum dolor sit amet " * 40 + "\n\n"
    long_answer = paragraph * 1300  # ≈ 1.4 MB of text, more once rendered
    scripted.enqueue([ContentDelta(long_answer), Finish("stop")])
    await async_client.post(f"/compare/{pk}/send", {"prompt": "At length?"})
    turn_id = await newest_assistant_turn(conversations[0])
    received = await receive_until(comm, lambda m: "compare-metrics" in m, timeout=20)
    # Whatever came before the metrics, the blocks' pieces may still follow it.
    while not await comm.receive_nothing(timeout=0.3):
        received.append(await comm.receive_from())
    await comm.disconnect()
    sizes = [len(m.encode()) for m in received]
    assert max(sizes) <= DAPHNE_LIMIT, [(n, m[:200]) for n, m in zip(sizes, received, strict=True)]
    assert any(final_render_of(turn_id)(m) for m in received)
    assert sum(m.count("lorem ipsum") for m in received) >= long_answer.count("lorem ipsum")


# ---- a turn started over HTTP reaches the sockets already open ---------------------------------


@database_sync_to_async
def answered_conversation(owner, model):
    conversation = Conversation.objects.create(owner=owner, model=model)
    exchange = start_exchange(conversation, "What is 17*23?", model, {})
    Turn.objects.filter(pk=exchange.assistant_turn.pk).update(status="complete", content="391")
    return conversation, exchange.user_turn.pk, exchange.assistant_turn.pk


async def test_a_regenerate_over_http_shows_on_a_socket_already_open(
    client, async_client, owner, scripted, scripted_model
):
    conversation, prompt_id, first_answer = await answered_conversation(owner, scripted_model)
    comm = await open_socket(client, owner, f"/ws/conversations/{conversation.pk}/")
    await async_client.aforce_login(owner)
    response = await async_client.post(f"/turns/{first_answer}/regenerate", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "HX-Redirect" not in response.headers  # in place
    second_answer = await newest_assistant_turn(conversation.pk)
    assert second_answer != first_answer
    received = await receive_until(comm, final_render_of(second_answer))
    shown = received[0]
    # The branch on show changed: the page gets it whole, the earlier answer gone.
    assert f'id="turn-{prompt_id}"' in shown and f'id="turn-{second_answer}"' in shown
    assert f'id="turn-{first_answer}"' not in shown
    await finish_runs()
    await comm.disconnect()


async def test_an_edit_over_http_shows_on_a_socket_already_open(client, async_client, owner, scripted, scripted_model):
    conversation, prompt_id, first_answer = await answered_conversation(owner, scripted_model)
    comm = await open_socket(client, owner, f"/ws/conversations/{conversation.pk}/")
    await async_client.aforce_login(owner)
    response = await async_client.post(
        f"/turns/{prompt_id}/edit", {"prompt": "What is 17*25?", "model": scripted_model.pk}
    )
    assert response.status_code == 302
    new_answer = await newest_assistant_turn(conversation.pk)
    received = await receive_until(comm, final_render_of(new_answer))
    shown = received[0]
    assert "What is 17*25?" in shown and f'id="turn-{new_answer}"' in shown
    assert f'id="turn-{first_answer}"' not in shown and f'id="turn-{prompt_id}"' not in shown
    await finish_runs()
    await comm.disconnect()


async def test_a_regenerate_in_a_compare_columns_conversation_shows_in_that_column(
    client, async_client, owner, scripted, two_models
):
    _, conversations = await a_comparison(async_client, owner, two_models)
    first_answer = await newest_assistant_turn(conversations[1])
    comm = await open_socket(client, owner, f"/ws/compare/{conversations[1]}/")
    # Its own route: the chat's Regenerate would take a model from the request.
    response = await async_client.post(
        f"/turns/{first_answer}/regenerate-in-column", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "HX-Redirect" not in response.headers  # in place
    assert response.content == b""  # no refusal
    second_answer = await newest_assistant_turn(conversations[1])
    received = await receive_until(comm, final_render_of(second_answer))
    assert f"#turns-{conversations[1]}" in received[0] and f'id="turn-{first_answer}"' not in received[0]
    await finish_runs()
    await comm.disconnect()
