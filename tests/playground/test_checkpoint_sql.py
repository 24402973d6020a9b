"""A streaming turn's checkpoint through the statement compiled once
(playground.streaming.checkpoint, issue 23.1) writes what `QuerySet.update` writes,
only to a turn still streaming, on the test database."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models.functions import Now
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from playground.models import Conversation, Turn
from playground.streaming import checkpoint

pytestmark = pytest.mark.django_db(transaction=True)

COLUMNS = ("reasoning", "content", "first_reasoning_ms", "first_content_ms", "worker", "steps", "status")


def streaming_turn(owner) -> Turn:
    conv = Conversation.objects.create(owner=owner)
    return Turn.objects.create(conversation=conv, role="assistant", status="streaming",
                               heartbeat_at=timezone.now() - timedelta(hours=1))


def fields(text: str, steps: list | None = None) -> dict:
    out = {"reasoning": "r: " + text, "content": "c: " + text, "first_reasoning_ms": 12, "first_content_ms": None,
           "heartbeat_at": Now(), "worker": "host:1:abc"}
    if steps is not None:
        out["steps"] = steps
    return out


@pytest.mark.parametrize("steps", [None, [{"calls": [{"id": "c1", "args": {"q": "ü \"x\""}}], "text": "t"}]])
def test_a_checkpoint_writes_what_the_orm_update_writes(owner, steps):
    ours, orms = streaming_turn(owner), streaming_turn(owner)
    text = 'quotes " and \' and é 中 \n and %s %(x)s'
    assert checkpoint.checkpoint(ours.pk, fields(text, steps)) == 1
    assert checkpoint._orm_update(orms.pk, fields(text, steps)) == 1
    ours.refresh_from_db()
    orms.refresh_from_db()
    assert [getattr(ours, c) for c in COLUMNS] == [getattr(orms, c) for c in COLUMNS]
    assert ours.reasoning == "r: " + text
    # The database's clock, not a value from this process: both rows were just stamped.
    assert abs((ours.heartbeat_at - orms.heartbeat_at).total_seconds()) < 5
    assert ours.heartbeat_at > timezone.now() - timedelta(minutes=5)
    if connection.vendor == "sqlite":  # the compiled statement was the one used, not the ORM's fallback
        assert all(compiled is not None for compiled in checkpoint._streaming_turn._compiled.values())


def test_the_statement_is_compiled_once_per_set_of_fields(owner, monkeypatch):
    turn = streaming_turn(owner)
    checkpoint.checkpoint(turn.pk, fields("one"))
    compiles = []
    real = checkpoint._streaming_turn._compile
    monkeypatch.setattr(checkpoint._streaming_turn, "_compile", lambda *a: compiles.append(a) or real(*a))
    with CaptureQueriesContext(connection) as queries:
        for n in range(5):
            checkpoint.checkpoint(turn.pk, fields(f"text {n}"))
    assert compiles == []
    assert len(queries) == 5
    turn.refresh_from_db()
    assert turn.reasoning == "r: text 4"


def test_only_a_turn_still_streaming_is_checkpointed(owner):
    turn = streaming_turn(owner)
    Turn.objects.filter(pk=turn.pk).update(status="interrupted", reasoning="kept by the sweep")
    assert checkpoint.checkpoint(turn.pk, fields("late")) == 0
    turn.refresh_from_db()
    assert (turn.status, turn.reasoning) == ("interrupted", "kept by the sweep")


def final(text: str, **more) -> dict:
    return {**fields(text), "status": "complete", "error": None, "finish_reason": "stop", "replay": {"id": "r1"},
            "prompt_tokens": 3, "completion_tokens": 5, "reasoning_tokens": None, "cost": Decimal("0.012345"),
            "thinking_ms": 40, "duration_ms": 900, "steps": [], **more}


FINAL_COLUMNS = (*COLUMNS, "error", "finish_reason", "replay", "prompt_tokens", "completion_tokens",
                 "reasoning_tokens", "cost", "thinking_ms", "duration_ms")


@pytest.mark.parametrize("more", [{}, {"status": "error", "error": {"kind": "x", "message": "é \"q\""},
                                       "cost": None}])
def test_the_final_save_writes_what_the_orm_update_writes_whatever_the_status(owner, more):
    ours, orms = streaming_turn(owner), streaming_turn(owner)
    # A sweep marked both interrupted while this process was paused: the final save writes anyway.
    Turn.objects.filter(pk__in=[ours.pk, orms.pk]).update(status="interrupted")
    text = 'quotes " and \' and é 中 \n and %s %(x)s'
    assert checkpoint.final_save(ours.pk, final(text, **more)) == 1
    assert checkpoint._orm_update(orms.pk, final(text, **more), streaming_only=False) == 1
    ours.refresh_from_db()
    orms.refresh_from_db()
    assert [getattr(ours, c) for c in FINAL_COLUMNS] == [getattr(orms, c) for c in FINAL_COLUMNS]
    assert ours.status == more.get("status", "complete") and ours.replay == {"id": "r1"}
    assert abs((ours.heartbeat_at - orms.heartbeat_at).total_seconds()) < 5
    with CaptureQueriesContext(connection) as queries:
        checkpoint.final_save(ours.pk, final("again", **more))
    assert len(queries) == 1 and "status" not in queries[0]["sql"].split("WHERE", 1)[1]
