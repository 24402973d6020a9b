"""Small defects of issue 10: retry_after in `ask --json`, an unknown reasoning-token
count shown as unknown (never 0), a budget of 0 refused at the form."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.template.loader import render_to_string

from playground.models import Conversation, Turn
from playground.turns.services import BadInput, clean_params
from reasoning.errors import RateLimited

pytestmark = pytest.mark.django_db(transaction=True)


def test_ask_json_reports_retry_after_for_a_429(scripted, scripted_model, owner):
    scripted.enqueue([RateLimited("Rate limit reached", retry_after=7.0)])
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("ask", "--json", "--model", "Scripted", "--user", "olivia", "Hi", stdout=out)
    assert caught.value.returncode == 1
    error = json.loads(out.getvalue())["error"]
    assert (error["kind"], error["status_code"], error["retry_after"]) == ("rate_limited", 429, 7.0)


def _turn(scripted_model, owner, **fields) -> Turn:
    conversation = Conversation.objects.create(owner=owner)
    return Turn.objects.create(
        conversation=conversation, role="assistant", model=scripted_model, status="complete", **fields
    )


def test_an_unknown_reasoning_token_count_shows_as_unknown_not_zero(scripted_model, owner):
    turn = _turn(scripted_model, owner, reasoning="I thought.", content="A.", prompt_tokens=5, completion_tokens=40)
    html = render_to_string("chat/_turn.html", {"turn": turn})
    assert 'data-metric="tokens">5 in · unknown reasoning · unknown answer' in html
    assert turn.answer_tokens is None  # 40 holds both; how they split is not known


def test_a_turn_without_reasoning_counts_all_its_tokens_as_answer(scripted_model, owner):
    turn = _turn(scripted_model, owner, content="A.", prompt_tokens=5, completion_tokens=40)
    html = render_to_string("chat/_turn.html", {"turn": turn})
    assert 'data-metric="tokens">5 in · 0 reasoning · 40 answer' in html


@pytest.mark.parametrize("budget", ["0", "-5"])
def test_a_budget_of_zero_is_refused_at_the_form(scripted_model, budget):
    with pytest.raises(BadInput, match="budget"):
        clean_params({"thinking": "on", "budget_tokens": budget}, scripted_model)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--thinking", "off", "--effort", "high"], "but Thinking is Off"),
        (["--effort", "none"], "Effort none is not available"),
    ],
)
def test_impossible_combinations_exit_2_with_the_simulator_too(simulator_model, admin_user, args, message):
    with pytest.raises(CommandError) as caught:
        call_command("ask", "--model", "Offline simulator", *args, "Hi", stdout=io.StringIO(), stderr=io.StringIO())
    assert caught.value.returncode == 2
    assert message in str(caught.value)
    assert not Conversation.objects.exists()
