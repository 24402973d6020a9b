"""A chat turn built in Python (playground.conversations.turn_html) is the template's
render, byte for byte, for every kind of turn it builds; for the kinds it leaves to
the template it says so (None), and `render_turn` gives the template's render."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.template.loader import render_to_string

from playground.conversations import fragments
from playground.conversations.turn_html import announce_html, totals_html, turn_html
from playground.models import Conversation, Rating, Turn
from playground.templatetags.playground import CHUNKED_FROM_CHARS

pytestmark = pytest.mark.django_db

NASTY = "<script>alert('x')</script> & \"quoted\" ‹ › \u2028 line\nnext line\r\nthird"
MARKDOWN = (
    "# Title\n\nSome **bold**, *em*, `code`, (17*23) + 4*12, $x^2$ and \\(y\\).\n\n"
    "```python\nprint('<b>')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
    "[link](https://example.com/?q=<x>) ![img](https://example.com/i.png) <b>raw</b>\n"
)


def template_render(turn: Turn, oob: str = "", kept: set[str] | None = None) -> str:
    return render_to_string("chat/_turn.html", {"turn": turn, "oob": oob, "kept": kept or set()})


@pytest.fixture
def conversation(owner, scripted_model):
    return Conversation.objects.create(owner=owner, model=scripted_model)


def answer(conversation, scripted_model, *, parent: Turn | None = None, **fields: Any) -> Turn:
    parent = parent or Turn.objects.create(conversation=conversation, role="user", content="Q?")
    defaults: dict[str, Any] = {"status": "complete", "model": scripted_model, "model_label": "Scripted"}
    turn = Turn.objects.create(conversation=conversation, role="assistant", parent=parent, **{**defaults, **fields})
    return Turn.objects.select_related("model", "model__provider").get(pk=turn.pk)


def assert_same(turn: Turn, kept: set[str] | None = None) -> None:
    fragments.annotate_siblings([turn])
    for oob in ("", "outerHTML"):
        built = turn_html(turn, oob, kept or frozenset())
        assert built is not None, "left to the template"
        assert built == template_render(turn, oob, kept)
        assert fragments.render_turn(turn, oob=oob, kept=kept) == built


FINISHED: dict[str, dict[str, Any]] = {
    "plain": {"content": "Four."},
    "reasoning and usage": {
        "reasoning": "Two and two.", "content": "Four.", "prompt_tokens": 1234, "completion_tokens": 56,
        "reasoning_tokens": 20, "duration_ms": 12_345, "first_reasoning_ms": 40, "first_content_ms": 900,
        "thinking_ms": 850, "cost": Decimal("0.012345"), "finish_reason": "stop",
    },
    "markdown and markup": {"reasoning": MARKDOWN, "content": MARKDOWN + NASTY},
    "estimated reasoning count": {"reasoning": "hm", "content": "ok", "reasoning_tokens": 3,
                                  "reasoning_tokens_estimated": True, "completion_tokens": 9, "prompt_tokens": 2},
    "reasoning count unknown": {"reasoning": "hm", "content": "ok", "completion_tokens": 9, "prompt_tokens": 2},
    "no reasoning, no answer count": {"content": "ok", "prompt_tokens": 2},
    "a dollar or more": {"content": "ok", "cost": Decimal("1234.5"), "duration_ms": 75_000},
    "free": {"content": "ok", "cost": Decimal("0"), "duration_ms": 5},
    "stopped": {"status": "stopped", "reasoning": "half a thought", "content": "half", "finish_reason": "cancelled"},
    "stopped while thinking": {"status": "stopped", "reasoning": "half a thought", "finish_reason": "cancelled"},
    "interrupted": {"status": "interrupted", "reasoning": "a", "content": "b"},
    "length with an answer": {"content": "cut", "finish_reason": "length", "completion_tokens": 100},
    "length while thinking": {"reasoning": "long", "finish_reason": "length"},
    "no content at all": {"content": ""},
    "controls": {"content": "ok", "params": {"prompt_name": "Tutor <3", "thinking": "on", "effort": "high",
                                            "budget_tokens": 20_000, "max_tokens": 4096, "temperature": 0.7,
                                            "system": "Be brief."}},
    "effort only": {"content": "ok", "params": {"effort": "low", "temperature": 0}},
    "reasoning not shown (setting)": {"content": "ok", "reasoning_tokens": 12, "thinking_ms": 300,
                                      "params": {"show_reasoning": False}},
    "reasoning not shown, with its text": {"content": "ok", "reasoning": "kept anyway",
                                           "params": {"show_reasoning": False}},
    "model deleted": {"content": "ok", "model": None, "model_label": ""},
    "long blocks (chunked)": {"reasoning": "A step.\n\n" * (CHUNKED_FROM_CHARS // 9),
                              "content": "Para <i>.\n\n" * (CHUNKED_FROM_CHARS // 10)},
}


@pytest.mark.parametrize("fields", FINISHED.values(), ids=FINISHED.keys())
def test_a_finished_answer_is_the_templates(conversation, scripted_model, fields):
    assert_same(answer(conversation, scripted_model, **fields))


@pytest.mark.parametrize("kept", [{"r"}, {"c"}, {"r", "c"}])
def test_blocks_the_page_keeps(conversation, scripted_model, kept):
    assert_same(answer(conversation, scripted_model, reasoning="r" * 10, content="c" * 10), kept)


def test_the_provider_hides_its_reasoning(conversation, scripted_model):
    scripted_model.reasoning = "hidden"
    scripted_model.save()
    assert_same(answer(conversation, scripted_model, content="ok", reasoning_tokens=64, thinking_ms=1200))
    assert_same(answer(conversation, scripted_model, content="ok"))
    assert_same(answer(conversation, scripted_model, status="streaming", content=""))


@pytest.mark.parametrize("value, note", [(1, ""), (-1, 'too "long" <really>'), (1, "ok")])
def test_a_rated_answer(conversation, scripted_model, value, note):
    turn = answer(conversation, scripted_model, content="ok")
    Rating.objects.create(turn=turn, value=value, note=note)
    assert_same(Turn.objects.select_related("model", "model__provider").get(pk=turn.pk))


STREAMING: dict[str, dict[str, Any]] = {
    "empty": {},
    "thinking": {"reasoning": NASTY},
    "answering": {"reasoning": "done thinking", "content": NASTY, "first_content_ms": 1234},
    "answer only": {"content": "straight"},
    "with controls": {"params": {"effort": "high", "show_reasoning": False}},
}


@pytest.mark.parametrize("fields", STREAMING.values(), ids=STREAMING.keys())
def test_a_streaming_answer_is_the_templates(conversation, scripted_model, fields):
    assert_same(answer(conversation, scripted_model, status="streaming", **fields))


def test_branches_of_a_prompt_and_of_an_answer(conversation, scripted_model):
    root = Turn.objects.create(conversation=conversation, role="user", content=NASTY)
    first = answer(conversation, scripted_model, parent=root, content="one")
    second = answer(conversation, scripted_model, parent=root, content="two")
    third = answer(conversation, scripted_model, parent=root, status="streaming")
    for turn in (root, first, second, third):
        assert_same(turn)
    prompts = [Turn.objects.create(conversation=conversation, role="user", parent=first, content=f"again {n}")
               for n in range(2)]
    for turn in prompts:
        assert_same(turn)


def test_a_system_turn_is_the_templates(conversation, scripted_model):
    system = Turn.objects.create(conversation=conversation, role="system", content="Be brief.")
    assert_same(system)


LEFT_TO_THE_TEMPLATE: dict[str, dict[str, Any]] = {
    "an error": {"status": "error", "error": {"kind": "rate_limited", "message": "slow down", "retry_after": 3}},
    "tool steps": {"steps": [{"reasoning": "r", "content": "", "tool_calls": [
        {"id": "c1", "name": "add", "arguments": "{}", "result": "2", "status": "done"}]}], "content": "2"},
    "a structured answer": {"content": '{"a": 1}', "params": {"answer_schema": {"type": "object"}}},
    "awaiting a person": {"status": "awaiting_tool"},
}


@pytest.mark.parametrize("fields", LEFT_TO_THE_TEMPLATE.values(), ids=LEFT_TO_THE_TEMPLATE.keys())
def test_what_it_does_not_build_the_template_renders(conversation, scripted_model, fields):
    turn = answer(conversation, scripted_model, **fields)
    fragments.annotate_siblings([turn])
    assert turn_html(turn) is None
    assert fragments.render_turn(turn, oob="outerHTML") == template_render(turn, "outerHTML")


def test_a_compare_columns_voted_answer_is_the_templates_too(conversation, scripted_model):
    turn = answer(conversation, scripted_model, content="ok")
    turn.voted_on = True  # type: ignore[attr-defined]
    fragments.annotate_siblings([turn])
    assert turn_html(turn) is None


@pytest.mark.parametrize("sums", [
    {"tokens": 0, "reasoning": 0, "cost": None, "ms": 0},
    {"tokens": 12_345, "reasoning": 0, "cost": None, "ms": 900},
    {"tokens": 12, "reasoning": 5, "cost": Decimal("0.0125"), "ms": 61_000},
    {"tokens": 0, "reasoning": 0, "cost": Decimal("0"), "ms": 3},
])
def test_the_totals_are_the_templates(sums):
    assert totals_html(sums) == render_to_string("chat/_totals.html", {"totals": sums, "oob": True})


@pytest.mark.parametrize("fields", [
    {"content": "Four."}, {"content": NASTY * 10}, {"content": ""}, {"status": "stopped", "content": "x"},
    {"status": "error", "content": ""}, {"status": "interrupted", "content": "y"}, {"model_label": ""},
])
def test_the_announcement_is_the_templates(conversation, scripted_model, fields):
    turn = answer(conversation, scripted_model, **fields)
    assert announce_html(turn) == render_to_string("chat/_announce.html", {"turn": turn})


def test_the_finished_turns_rows_are_the_orms(conversation, scripted_model, django_assert_num_queries):
    """The statement a finished turn's render reads is compiled once; its rows are
    what the ORM would give (the cost a Decimal, the rating's time a datetime)."""
    first = answer(conversation, scripted_model, content="a", cost=Decimal("0.012345"), prompt_tokens=3)
    second = answer(conversation, scripted_model, parent=first, content="b", cost=Decimal("1.5"))
    Rating.objects.create(turn=second, value=-1, note="meh")
    for _ in range(2):
        with django_assert_num_queries(1):
            rows = fragments.finished_rows(conversation.pk)
        assert rows == list(fragments.finished_query(conversation.pk))
        assert [type(v) for v in rows[-1]] == [type(v) for v in list(fragments.finished_query(conversation.pk))[-1]]
    assert isinstance(rows[1][6], Decimal) and rows[-1][9] == -1
    assert fragments.finished_rows(conversation.pk + 1000) == []
