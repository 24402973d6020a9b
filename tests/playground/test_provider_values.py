"""A bad value from a provider never wipes the turn: counts out of range or not
numbers, NUL characters and an overlong finish reason are checked where they
enter (reasoning.checked), and a final save that still fails keeps the text and
ends the turn with a clear error."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from reasoning.checked import MAX_TOKENS, checked_error, checked_event, token_count
from reasoning.errors import AuthError
from reasoning.events import ContentDelta, Finish, ReplayData, Usage
from reasoning.testing.upstream import FakeUpstream, Script
from tests.playground.test_faults import run_turn


def chunk(delta=None, finish=None, usage=None):
    body = {"id": "c1", "object": "chat.completion.chunk", "model": "fake-model", "choices": []}
    if delta is not None or finish is not None:
        body["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    if usage is not None:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n"


def stream(content, finish="stop", usage=None):
    return [
        chunk({"role": "assistant", "reasoning_content": "thinking\x00 hard"}),
        *(chunk({"content": piece}) for piece in content),
        chunk(finish=finish),
        chunk(usage=usage),
        "data: [DONE]\n\n",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, 12), (12.0, 12), ("12", 12), (-1, None), ("abc", None), (2**31, None), (1e999, None), (True, None),
     (None, None), (MAX_TOKENS, MAX_TOKENS), ([3], None)],
)
def test_token_counts_are_non_negative_integers_in_range(value, expected):
    assert token_count(value) == expected


def test_text_finish_reason_and_replay_lose_nul_and_are_bounded():
    assert checked_event(ContentDelta("a\x00b")) == ContentDelta("ab")
    assert checked_event(Finish("x" * 5000 + "\x00")) == Finish("x" * 32)
    assert checked_event(Finish("\x00")) == Finish(None)
    assert checked_event(ReplayData({"sig\x00": ["a\x00"]})) == ReplayData({"sig": ["a"]})
    assert checked_event(Usage(-5, "7", 2**40, 3.5)) == Usage(None, 7, None, None)  # type: ignore[arg-type]


def test_a_provider_error_is_bounded():
    error = checked_error(AuthError("bad\x00" + "m" * 10_000, status_code=9999))
    assert "\x00" not in error.message and len(error.message) == 4000 and error.status_code is None


pytestmark_db = pytest.mark.django_db(transaction=True)


@pytestmark_db
async def test_bad_provider_values_end_the_turn_complete_with_its_text(client, owner):
    usage = {"prompt_tokens": -3, "completion_tokens": "many", "total_tokens": 2**40,
             "completion_tokens_details": {"reasoning_tokens": 2**33}}
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=stream(["The an", "swer\x00 is 42."], finish="z" * 3000, usage=usage)))
        turn, page = await run_turn(client, owner, up.url + "/v1")
    assert turn.status == "complete", turn.error
    assert (turn.reasoning, turn.content) == ("thinking hard", "The answer is 42.")
    assert turn.finish_reason == "z" * 32
    assert (turn.prompt_tokens, turn.completion_tokens, turn.reasoning_tokens) == (None, None, None)
    assert page.status[turn.pk] == "complete"


@pytestmark_db
async def test_a_cost_beyond_its_column_is_left_out_and_the_turn_completes(client, owner):
    usage = {"prompt_tokens": 10, "completion_tokens": 2_000_000_000}
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=stream(["Forty", "-two."], usage=usage)))
        turn, _ = await run_turn(client, owner, up.url + "/v1", price_output=Decimal("999999.9999"))
    assert (turn.status, turn.content, turn.cost) == ("complete", "Forty-two.", None)
    assert turn.completion_tokens == 2_000_000_000


@pytestmark_db
async def test_a_final_save_that_still_fails_keeps_the_text_with_a_clear_error(client, owner, monkeypatch):
    from django.db import DataError

    from playground.streaming import run

    real = run._update_turn

    def refuse_final(turn_id, fields, final):
        if final:  # as PostgreSQL does with a value it cannot store
            raise DataError("value out of range for type integer")
        real(turn_id, fields, final)

    monkeypatch.setattr(run, "_update_turn", refuse_final)
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=stream(["Forty", "-two."])))
        turn, page = await run_turn(client, owner, up.url + "/v1")
    assert turn.status == "error"
    assert turn.content == "Forty-two."
    assert "could not be saved" in turn.error["message"]
    assert "Forty-two." in page.done[turn.pk] and "could not be saved" in page.done[turn.pk]


@pytestmark_db
async def test_a_provider_that_never_stops_talking_is_cut_off_and_the_text_kept(client, owner, settings, scripted):
    import json as _json

    from channels.db import database_sync_to_async

    from playground.models import Conversation, ModelProfile, Provider
    from reasoning.events import ContentDelta, Finish
    from tests.playground.stream_page import Page, saved, started_turn_id
    from tests.playground.test_streams import socket

    settings.MAX_TURN_CHARS = 1000
    scripted.enqueue([*(ContentDelta("x" * 100) for _ in range(50)), Finish("stop")])
    provider = await database_sync_to_async(Provider.objects.create)(name="s", kind="scripted")
    model = await database_sync_to_async(ModelProfile.objects.create)(provider=provider, model_id="s", label="S")
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    comm = await socket(client, owner, conv)
    await comm.send_to(text_data=_json.dumps({"action": "send", "prompt": "Go", "model": model.pk}))
    page = Page()
    turn_id = await started_turn_id(comm, page)
    await page.read_until_done(comm, turn_id)
    await comm.disconnect()
    turn = await saved(turn_id)
    assert turn.status == "error" and turn.error["kind"] == "too_long"
    assert 1000 < len(turn.content) <= 1100
