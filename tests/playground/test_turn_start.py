"""A prompt's start reads the conversation's row with its turns, in one query
(turns.services.conversation_turns): what other tabs changed since this socket
loaded the conversation (the branch on show, the title) is what the start sees."""

from __future__ import annotations

import pytest

from playground.models import Conversation, Turn
from playground.streaming.launch import Question, store
from playground.turns.services import start_exchange

pytestmark = pytest.mark.django_db


def test_a_prompt_continues_the_branch_another_tab_left_on_show(owner, scripted, scripted_model):
    conversation = Conversation.objects.create(owner=owner, model=scripted_model)
    first = start_exchange(conversation, "First?", scripted_model, {})
    Turn.objects.filter(pk=first.assistant_turn.pk).update(status="complete", content="one")
    second = start_exchange(conversation, "Second?", scripted_model, {})
    Turn.objects.filter(pk=second.assistant_turn.pk).update(status="complete", content="two")
    socket_copy = Conversation.objects.select_related("leaf").get(pk=conversation.pk)  # as a socket keeps it
    assert socket_copy.leaf == second.assistant_turn
    # Another tab edits the first prompt (a new branch, now on show) and renames it.
    edited = start_exchange(conversation, "First, again?", scripted_model, {}, parent=None,
                            above=[])  # a new root prompt: another branch
    Turn.objects.filter(pk=edited.assistant_turn.pk).update(status="complete", content="again")
    Conversation.objects.filter(pk=conversation.pk).update(title="Renamed elsewhere")

    exchange = store(Question(owner=owner, model=str(scripted_model.pk), text="Third?", conversation=socket_copy))

    assert exchange.user_turn.parent_id == edited.assistant_turn.pk
    assert exchange.request is not None, exchange.assistant_turn.error
    assert [m.content for m in exchange.request.messages] == ["First, again?", "again", "Third?"]
    assert socket_copy.title == "Renamed elsewhere"
    assert socket_copy.leaf_id == exchange.assistant_turn.pk
    socket_copy.refresh_from_db()
    assert socket_copy.leaf_id == exchange.assistant_turn.pk and socket_copy.title == "Renamed elsewhere"


def test_a_prompt_in_a_conversation_with_no_turn_reads_the_row_alone(owner, scripted_model):
    conversation = Conversation.objects.create(owner=owner, model=scripted_model)
    socket_copy = Conversation.objects.get(pk=conversation.pk)
    Conversation.objects.filter(pk=conversation.pk).update(title="Named elsewhere")
    exchange = store(Question(owner=owner, model=str(scripted_model.pk), text="Hello?", conversation=socket_copy))
    assert exchange.user_turn.parent_id is None
    assert Conversation.objects.get(pk=conversation.pk).title == "Named elsewhere"  # not named after the prompt
