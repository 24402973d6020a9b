"""What a prompt's start reads with its model, and the exchange's one INSERT (issue
23.3: tests/playground/test_turn_queries.py counts the statements): the socket's
session check read as columns says what `session_is_current` says, in every case; the
run limits read as a column refuse what `check_run_limits` refuses, and store
nothing; the prompt and its answer stored in one statement get ids as the database
would give them (never one used before), the answer under its prompt, made the leaf.
Run on SQLite, and on PostgreSQL with DATABASE_URL set."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from playground.models import Conversation, Turn
from playground.security.sockets import SessionCheck, session_is_current
from playground.streaming.launch import NotAllowed, Question, store
from playground.turns.services import RunLimit, check_run_limits, model_by_id, runs_allowed, start_exchange
from tests.playground.test_socket_security import SESSION_CHANGES, logged_in_then_changed

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("change", SESSION_CHANGES)
def test_the_session_check_read_with_the_model_says_what_session_is_current_says(
    client, owner, stranger, scripted_model, change
):
    session = logged_in_then_changed(client, owner, change)
    scope = {"user": stranger if change == "other_user" else owner, "session": session}
    check = SessionCheck(scope)
    columns = check.columns()
    assert columns is not None
    with CaptureQueriesContext(connection) as queries:
        model = model_by_id(scripted_model.pk, **columns)
    assert len(queries.captured_queries) == 1
    assert check.verdict(model) is session_is_current(scope) is (change is None)


def test_a_prompt_from_a_session_that_ended_stores_nothing(client, owner, scripted_model):
    client.force_login(owner)
    key = client.cookies["sessionid"].value
    conversation = Conversation.objects.create(owner=owner)
    scope = {"user": owner, "session": type("Session", (), {"session_key": key})()}
    Session.objects.filter(session_key=key).delete()
    for model in (scripted_model.pk, 987654):  # a model that does not exist: still the session first
        with pytest.raises(NotAllowed):
            store(Question(owner=owner, model=model, text="Hi", conversation=conversation), SessionCheck(scope))
    assert not Turn.objects.exists()


def streaming_answers(owner, model, n):
    conversation = Conversation.objects.create(owner=owner)
    for _ in range(n):
        Turn.objects.create(conversation=conversation, role="assistant", status="streaming", model=model)


@pytest.mark.parametrize("limit", ["at_once", "a_minute"])
def test_the_run_limits_read_with_the_model_refuse_and_store_nothing(
    settings, owner, stranger, scripted, scripted_model, limit
):
    conversation = Conversation.objects.create(owner=owner)
    if limit == "at_once":
        settings.MAX_CONCURRENT_RUNS = 2
        streaming_answers(owner, scripted_model, 2)
        streaming_answers(stranger, scripted_model, 5)  # someone else's runs do not count
        message = "at most 2 run at once"
    else:
        settings.RUNS_PER_MINUTE = 2
        for _ in range(2):
            exchange = start_exchange(conversation, "again", scripted_model, {})
            Turn.objects.filter(pk=exchange.assistant_turn.pk).update(status="complete")
        old = Turn.objects.filter(conversation__owner=owner, role="assistant")
        message = "At most 2 answers a minute"
    before = Turn.objects.count()
    with pytest.raises(RunLimit, match=message):
        store(Question(owner=owner, model=scripted_model.pk, text="one more", conversation=conversation))
    assert Turn.objects.count() == before
    if limit == "a_minute":  # out of the window: allowed again
        old.update(created_at=timezone.now() - timedelta(minutes=2))
    else:
        Turn.objects.filter(status="streaming", conversation__owner=owner).update(status="complete")
    exchange = store(Question(owner=owner, model=scripted_model.pk, text="one more", conversation=conversation))
    assert exchange.assistant_turn.is_streaming, exchange.assistant_turn.error


def test_the_prompt_and_its_answer_take_ids_as_the_database_would(owner, scripted, scripted_model):
    conversation = Conversation.objects.create(owner=owner)
    first = start_exchange(conversation, "First?", scripted_model, {})
    Turn.objects.filter(pk=first.assistant_turn.pk).update(status="complete")
    # The newest rows deleted: their ids are not given again (SQLite's AUTOINCREMENT,
    # PostgreSQL's sequence).
    spare = Turn.objects.create(conversation=conversation, role="user", parent=first.assistant_turn)
    Turn.objects.filter(pk=spare.pk).delete()
    conversation.refresh_from_db()
    second = store(Question(owner=owner, model=scripted_model.pk, text="Second?", conversation=conversation))
    prompt, answer = second.user_turn, second.assistant_turn
    assert spare.pk < prompt.pk < answer.pk
    stored = {t.pk: t for t in Turn.objects.filter(pk__in=(prompt.pk, answer.pk))}
    assert stored[prompt.pk].parent_id == first.assistant_turn.pk and stored[prompt.pk].role == "user"
    assert stored[prompt.pk].content == "Second?"
    assert stored[answer.pk].parent_id == prompt.pk and stored[answer.pk].role == "assistant"
    assert stored[answer.pk].is_streaming and stored[answer.pk].model_id == scripted_model.pk
    assert stored[answer.pk].sent == answer.sent and answer.parent == prompt
    assert Conversation.objects.get(pk=conversation.pk).leaf_id == answer.pk
    # The next row the database numbers itself comes after them.
    after = Turn.objects.create(conversation=conversation, role="user", parent=answer)
    assert after.pk > answer.pk


@pytest.mark.parametrize(("at_once", "a_minute"), [(2, 100), (3, 100), (100, 2), (100, 3), (3, 3)])
def test_the_run_limits_column_counts_what_check_run_limits_counts(
    settings, owner, stranger, scripted_model, at_once, a_minute
):
    # Each count through its own index now (runs_allowed): only the owner's answers,
    # streaming whatever their age, and those of the last minute whatever their status.
    settings.MAX_CONCURRENT_RUNS, settings.RUNS_PER_MINUTE = at_once, a_minute
    long_ago = timezone.now() - timedelta(minutes=5)
    mine = Conversation.objects.create(owner=owner)
    theirs = Conversation.objects.create(owner=stranger)
    for conversation, role, status, created in [
        (mine, "assistant", "streaming", long_ago),  # counts at once, not in the minute
        (mine, "assistant", "streaming", None),  # counts in both
        (mine, "assistant", "complete", None),  # the minute only
        (mine, "assistant", "complete", long_ago),  # neither
        (mine, "user", "streaming", None),  # a prompt: neither
        (mine, "user", "complete", None),
        (theirs, "assistant", "streaming", None),  # someone else's: neither
        (theirs, "assistant", "complete", None),
        (theirs, "assistant", "streaming", long_ago),
    ]:
        turn = Turn.objects.create(conversation=conversation, role=role, status=status)
        if created is not None:
            Turn.objects.filter(pk=turn.pk).update(created_at=created)
    allowed = model_by_id(scripted_model.pk, runs_allowed=runs_allowed(owner.pk)).runs_allowed
    try:
        check_run_limits(owner.pk)
    except RunLimit:
        refused = True
    else:
        refused = False
    assert allowed is (not refused)
    # Two of the owner's answers streaming, two of the last minute; one more asked for.
    assert refused is (at_once < 2 + 1 or a_minute < 2 + 1)


@pytest.mark.parametrize("change", ["logged_out", "expired", "password", "disabled"])
def test_a_session_checked_before_is_refused_at_once_after_it_changed(client, owner, scripted_model, change):
    # The check keeps the decoded session and the user's auth hash for the text it read:
    # what it reads each time (the session's row, the password, is_active) still decides.
    client.force_login(owner)
    key = client.cookies["sessionid"].value
    check = SessionCheck({"user": owner, "session": type("Session", (), {"session_key": key})()})
    for _ in range(2):
        assert check.verdict(model_by_id(scripted_model.pk, **check.columns())) is True
    users = type(owner).objects.filter(pk=owner.pk)
    if change == "logged_out":
        Session.objects.filter(session_key=key).delete()
    elif change == "expired":
        Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    elif change == "password":
        users.update(password="pbkdf2_sha256$1$salt$another")
    else:
        users.update(is_active=False)
    assert check.verdict(model_by_id(scripted_model.pk, **check.columns())) is False
