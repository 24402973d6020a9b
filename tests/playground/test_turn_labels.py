"""A stopped or interrupted turn says so, with the time it really thought."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template.loader import render_to_string

from playground.models import Conversation, Turn
from playground.templatetags.playground import thought_label

pytestmark = pytest.mark.django_db


def answer(owner, **fields):
    conv = Conversation.objects.create(owner=owner)
    user = Turn.objects.create(conversation=conv, role="user", content="Why?")
    return Turn.objects.create(conversation=conv, parent=user, role="assistant", model_label="M", **fields)


def test_an_interrupted_turn_reports_how_long_it_was_seen_thinking(owner):
    turn = answer(owner, reasoning="Hmm, let me see", status=Turn.Status.INTERRUPTED)
    Turn.objects.filter(pk=turn.pk).update(heartbeat_at=turn.created_at + timedelta(seconds=4.2))
    turn.refresh_from_db()
    assert thought_label(turn) == "Thought for 4.2 s · ~4 reasoning tokens (estimated) (interrupted)"


def test_a_stopped_turn_says_so_with_its_thinking_time(owner):
    turn = answer(owner, reasoning="Hmm", status=Turn.Status.STOPPED, thinking_ms=3100, reasoning_tokens=50)
    assert thought_label(turn) == "Thought for 3.1 s · 50 reasoning tokens (stopped)"


def test_no_copy_answer_for_an_empty_answer(owner):
    stopped = answer(owner, reasoning="Hmm", status=Turn.Status.STOPPED, thinking_ms=3100)
    html = render_to_string("chat/_turn.html", {"turn": stopped})
    assert 'aria-label="Copy reasoning"' in html and 'aria-label="Copy answer"' not in html
    done = answer(owner, reasoning="Hmm", content="42", status=Turn.Status.COMPLETE, thinking_ms=10)
    assert 'aria-label="Copy answer"' in render_to_string("chat/_turn.html", {"turn": done})
