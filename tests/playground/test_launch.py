"""One start path (playground.streaming.launch) behind every entry: the chat
socket, the views (new conversation, regenerate, edit), a comparison, `ask`, and
a plain message list as the API has it. Whatever fails once the turn is stored,
the turn ends the same way: an error with its reason, and "turn.done" to every
watcher of its conversation."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core.management import CommandError, call_command

from playground.models import Conversation, ModelProfile, Provider, Turn
from playground.streaming import launch as launching
from playground.streaming.launch import Question, launch
from playground.streaming.run import RUNS
from playground.turns.services import BadInput, start_exchange
from reasoning.events import ContentDelta, Finish, ReasoningDelta
from reasoning.request import Message
from tests.playground.stream_page import Page, started_turn_id
from tests.playground.test_streams import socket

pytestmark = pytest.mark.django_db(transaction=True)


class DoneRecorder:
    """Every "turn.done" sent to a conversation's group, through the real layer."""

    def __init__(self, monkeypatch):
        self.done: list[tuple[str, int]] = []
        real = get_channel_layer()
        recorder = self

        class Layer:
            def __getattr__(self, name):
                return getattr(real, name)

            async def group_send(self, group, message):
                if message["type"] == "turn.done":
                    recorder.done.append((group, message["turn"]))
                await real.group_send(group, message)

        monkeypatch.setattr(launching, "get_channel_layer", Layer)


@pytest.fixture
def broken_model(db):
    """A model whose request cannot even be built: its provider kind is unknown."""
    provider = Provider.objects.create(name="gone", kind="no-such-kind")
    return ModelProfile.objects.create(provider=provider, model_id="m", label="Gone")


async def finish_runs():
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(10):
        while tasks := [r.task for r in list(RUNS.values()) if r.task and r.task.get_loop() is loop]:
            await asyncio.gather(*tasks, return_exceptions=True)


@database_sync_to_async
def answered(owner, model):
    conversation = Conversation.objects.create(owner=owner, model=model)
    exchange = start_exchange(conversation, "First?", model, {})
    Turn.objects.filter(pk=exchange.assistant_turn.pk).update(status="complete", content="yes")
    return exchange


@database_sync_to_async
def newest_answer():
    return Turn.objects.filter(role="assistant").select_related("conversation").latest("pk")


# Each entry starts a turn with `model` through its own door; the newest answer is the turn.


async def via_socket(client, async_client, owner, model, good_model):
    conversation = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    comm = await socket(client, owner, conversation)
    page = Page()
    await comm.send_to(text_data=json.dumps({"action": "send", "prompt": "Why?", "model": model.pk}))
    turn_id = await started_turn_id(comm, page)
    await page.read_until_done(comm, turn_id, timeout=5)
    await comm.disconnect()
    assert page.status[turn_id] == "error"  # the socket that sent it shows the end


async def via_new_conversation(client, async_client, owner, model, good_model):
    await async_client.aforce_login(owner)
    response = await async_client.post("/c/new", {"prompt": "Why?", "model": model.pk})
    assert response.status_code == 302


async def via_regenerate(client, async_client, owner, model, good_model):
    exchange = await answered(owner, good_model)
    await async_client.aforce_login(owner)
    response = await async_client.post(
        f"/turns/{exchange.assistant_turn.pk}/regenerate", {"model": model.pk}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "HX-Redirect" not in response.headers  # in place


async def via_edit(client, async_client, owner, model, good_model):
    exchange = await answered(owner, good_model)
    await async_client.aforce_login(owner)
    response = await async_client.post(f"/turns/{exchange.user_turn.pk}/edit", {"prompt": "Then?", "model": model.pk})
    assert response.status_code == 302


async def via_comparison(client, async_client, owner, model, good_model):
    await async_client.aforce_login(owner)
    response = await async_client.post("/compare/new/", {"prompt": "Why?", "col0-model": good_model.pk,
                                                          "col1-model": model.pk})
    assert response.status_code == 302


async def via_messages(client, async_client, owner, model, good_model):
    history = (Message("user", "Hi"), Message("assistant", "Hello"))
    launched = await launch(Question(owner, model, "Why?", {"system": "Be brief."}, history=history), follow=True)
    assert launched.failed
    assert [p async for p in launched.deltas()] == []


ENTRIES = [via_socket, via_new_conversation, via_regenerate, via_edit, via_comparison, via_messages]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("failure", ["request cannot be built", "run cannot start"])
async def test_every_entry_ends_a_turn_that_cannot_start_the_same_way(
    client, async_client, owner, scripted, scripted_model, broken_model, entry, failure, monkeypatch
):
    recorder = DoneRecorder(monkeypatch)
    model, reason = broken_model, "no-such-kind"
    if failure == "run cannot start":

        def no_run(run):
            raise RuntimeError("the loop is shutting down")

        monkeypatch.setattr(launching, "begin", no_run)
        model, reason = scripted_model, "the loop is shutting down"
    await entry(client, async_client, owner, model, scripted_model)
    await finish_runs()
    turn = await newest_answer()
    assert turn.model_id == model.pk
    assert turn.status == "error"
    assert turn.error["kind"] == "bad_request" and reason in turn.error["message"]
    assert (turn.conversation.group_name, turn.pk) in recorder.done


async def test_an_announcement_that_cannot_be_sent_ends_the_turn_too(owner, scripted, scripted_model, monkeypatch):
    real = get_channel_layer()

    class Layer:
        def __getattr__(self, name):
            return getattr(real, name)

        async def group_send(self, group, message):
            if message["type"] == "turn.started":
                raise ConnectionError("the layer is down")
            await real.group_send(group, message)

    monkeypatch.setattr(launching, "get_channel_layer", Layer)
    scripted.enqueue([ReasoningDelta("x")] * 50, delay=0.02)
    launched = await launch(Question(owner=owner, model=scripted_model, text="Why?"))
    assert launched.failed
    turn = await Turn.objects.aget(pk=launched.turn_id)
    assert turn.status == "error" and "the layer is down" in turn.error["message"]
    assert not RUNS.get(launched.turn_id)


async def test_bad_input_stores_nothing(owner, scripted_model):
    for prompt in [
        Question(owner=owner, model=scripted_model, text="   "),
        Question(owner=owner, model=scripted_model, text="Hi", params={"effort": "max"}),
        Question(owner=owner, model=None, text="Hi"),
    ]:
        with pytest.raises(BadInput):
            await launch(prompt)
    assert await Conversation.objects.acount() == 0 and await Turn.objects.acount() == 0


async def test_a_message_list_is_stored_as_a_conversation_and_its_deltas_read_in_order(owner, scripted, scripted_model):
    scripted.enqueue([ReasoningDelta("Think "), ReasoningDelta("more."), ContentDelta("The "), ContentDelta("end."),
                      Finish("stop")], delay=0.01)
    history = (Message("user", "Hi"), Message("assistant", "Hello"))
    question = Question(owner, scripted_model, "Why?", {"system": "Be brief."}, history=history)
    launched = await launch(question, follow=True)
    pieces = [(p.block, p.text) async for p in launched.deltas()]
    turn = await launched.outcome()
    assert "".join(t for b, t in pieces if b == "r") == "Think more."
    assert "".join(t for b, t in pieces if b == "c") == "The end."
    assert [b for b, _ in pieces] == sorted((b for b, _ in pieces), key=lambda b: b == "c")
    assert turn.status == "complete"
    request = scripted.requests[-1]
    assert request.system == "Be brief."
    assert [(m.role, m.content) for m in request.messages] == [("user", "Hi"), ("assistant", "Hello"), ("user", "Why?")]


def test_ask_ends_a_turn_that_cannot_start_the_same_way(owner, broken_model):
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("ask", "--json", "--model", "Gone", "--user", "olivia", "Hi", stdout=out)
    assert caught.value.returncode == 1
    result = json.loads(out.getvalue())
    assert result["status"] == "error" and result["error"]["kind"] == "bad_request"
    assert "no-such-kind" in result["error"]["message"]


def test_a_turn_starts_with_a_bounded_number_of_queries(owner, scripted, scripted_model):
    """Store and render of a new exchange in a conversation with history: the
    request is built from the turns in hand and stored with the answer, so the
    run itself needs no query to start (it was 11 statements before, with the
    run's own read of the turn, of the branch again, and a write of `sent`)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from playground.conversations.fragments import render_new_exchange
    from playground.streaming.launch import store

    conversation = Conversation.objects.create(owner=owner, model=scripted_model)
    first = start_exchange(conversation, "First?", scripted_model, {})
    Turn.objects.filter(pk=first.assistant_turn.pk).update(status="complete", content="yes")
    socket_message = {"prompt": "Next?", "model": str(scripted_model.pk), "effort": "high"}
    with CaptureQueriesContext(connection) as queries:
        exchange = store(Question(owner=owner, model=socket_message["model"], text=socket_message["prompt"],
                                params=socket_message, conversation=conversation))
        render_new_exchange(exchange.user_turn, exchange.assistant_turn)
    sql = [q["sql"] for q in queries.captured_queries]
    data = [s for s in sql if s.split(None, 1)[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")]
    # The model with the run limits (and, on PostgreSQL, the conversation's row locked), the
    # conversation's turns with its row, the prompt and the answer in one insert, the leaf;
    # the render reads nothing (its siblings come from the turns read).
    assert len(data) <= 4, "\n".join(s[:100] for s in sql)
    assert len(sql) <= len(data) + 2, "\n".join(s[:100] for s in sql)  # one transaction, no savepoint
    assert exchange.request is not None and exchange.assistant_turn.sent["body"]
    assert Turn.objects.get(pk=exchange.assistant_turn.pk).sent == exchange.assistant_turn.sent


async def test_no_frame_reaches_the_group_before_the_turn_is_announced(owner, scripted, scripted_model, monkeypatch):
    """The provider request goes out before the exchange is rendered and announced;
    its frames wait, so no watcher sees text of a turn it was not yet shown."""
    conversation = await Conversation.objects.acreate(owner=owner)
    from playground.conversations import fragments

    def slow_render(*args):
        import time

        time.sleep(0.3)  # meanwhile the instant provider has answered
        return fragments.render_new_exchange(*args)

    scripted.enqueue([ReasoningDelta("a"), ContentDelta("b"), Finish("stop")])
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(conversation.group_name, channel)
    prompt = Question(owner=owner, model=scripted_model, text="Go", conversation=conversation)
    launched = await launch(prompt, render=slow_render)
    kinds = []
    async with asyncio.timeout(5):
        while not kinds or kinds[-1] != "turn.done":
            kinds.append((await layer.receive(channel))["type"])
    await layer.group_discard(conversation.group_name, channel)
    assert kinds[0] == "turn.started" and "turn.frame" in kinds, kinds
    assert len(scripted.requests) == 1 and launched.run is not None
