"""The gateway's kept replay data (playground.api.replay_store): found by call id, only
for the token that received it, only for the calls as returned, only within its lifetime."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from playground.api.replay_store import attach, remember
from playground.api.tokens import create_token
from playground.models import Conversation, GatewayReplay, Turn
from reasoning.request import Message, ToolCall

pytestmark = pytest.mark.django_db

REPLAY = {"format": "anthropic", "content": [{"type": "thinking", "thinking": "Weather.", "signature": "sig-1"}]}
CALLS = (ToolCall("call_1", "get_weather", '{"city": "Paris"}'), ToolCall("call_2", "get_time", "{}"))


def answered_turn(owner, model) -> Turn:
    conversation = Conversation.objects.create(owner=owner)
    step = {
        "reasoning": "Weather.", "content": "", "replay": REPLAY, "source": model.source, "finish_reason": "tool_calls",
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments, "result": None} for c in CALLS],
    }
    return Turn.objects.create(
        conversation=conversation, role="assistant", status="complete", steps=[step], model=model
    )


def sent_back(calls=CALLS, reasoning: str = "") -> list[Message]:
    return [
        Message(role="user", content="Weather and time?"),
        Message(role="assistant", content="", reasoning=reasoning, tool_calls=tuple(calls)),
        *(Message(role="tool", content="ok", tool_call_id=c.id, name=c.name) for c in calls),
    ]


@pytest.fixture
def token(owner):
    return create_token(owner)[0]


def test_what_was_returned_comes_back_with_the_same_calls(owner, token, scripted_model):
    assert remember(token, answered_turn(owner, scripted_model), scripted_model.source) == 2
    assistant = attach(token, sent_back())[1]
    assert assistant.replay == REPLAY
    assert assistant.source == scripted_model.source
    assert assistant.reasoning == "Weather."  # restored when the client left it out


def test_the_clients_reasoning_text_is_kept_as_sent(owner, token, scripted_model):
    remember(token, answered_turn(owner, scripted_model), scripted_model.source)
    assert attach(token, sent_back(reasoning="Weather (as the client has it)."))[1].reasoning == (
        "Weather (as the client has it)."
    )


def test_arguments_sent_back_reserialised_still_match(owner, token, scripted_model):
    remember(token, answered_turn(owner, scripted_model), scripted_model.source)
    calls = (ToolCall("call_1", "get_weather", '{"city":"Paris"}'), CALLS[1])
    assert attach(token, sent_back(calls))[1].replay == REPLAY


@pytest.mark.parametrize(
    "calls",
    [
        (ToolCall("call_1", "get_weather", '{"city": "Oslo"}'), CALLS[1]),  # other arguments
        (ToolCall("call_1", "get_forecast", '{"city": "Paris"}'), CALLS[1]),  # another function
        (CALLS[0],),  # part of the step
        (*CALLS, ToolCall("call_3", "get_weather", "{}")),  # more than the step
    ],
    ids=["arguments", "name", "fewer", "more"],
)
def test_calls_that_differ_from_what_was_returned_get_nothing(owner, token, scripted_model, calls):
    remember(token, answered_turn(owner, scripted_model), scripted_model.source)
    assistant = attach(token, sent_back(calls))[1]
    assert assistant.replay is None and assistant.reasoning == ""


def test_another_token_gets_nothing_even_of_the_same_user(owner, stranger, token, scripted_model):
    remember(token, answered_turn(owner, scripted_model), scripted_model.source)
    for other in (create_token(stranger)[0], create_token(owner)[0]):
        assert attach(other, sent_back())[1].replay is None


def test_kept_data_expires_and_is_dropped(owner, token, scripted_model, settings):
    remember(token, answered_turn(owner, scripted_model), scripted_model.source)
    GatewayReplay.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert attach(token, sent_back())[1].replay is None
    settings.GATEWAY_REPLAY_TTL = 60
    turn = answered_turn(owner, scripted_model)
    turn.steps[0]["tool_calls"] = [{"id": "call_9", "name": "x", "arguments": "{}"}]
    remember(token, turn, scripted_model.source)  # dropping the expired rows on the way
    assert list(GatewayReplay.objects.values_list("call_id", flat=True)) == ["call_9"]
    [row] = GatewayReplay.objects.all()
    assert timedelta(seconds=50) < row.expires_at - timezone.now() <= timedelta(seconds=60)


def test_an_answer_without_calls_keeps_nothing(owner, token, scripted_model):
    turn = answered_turn(owner, scripted_model)
    turn.steps = []
    assert remember(token, turn, scripted_model.source) == 0
    assert not GatewayReplay.objects.exists()
