"""Dataset export: every format written by `manage.py dataset`, each line parsed back
and checked, filters, skipped and refused rows, and DPO pairs from a blind comparison."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from playground.conversations.datasets import DatasetFilter, ExportOptions, Report, rows
from playground.models import Comparison, ComparisonColumn, Conversation, Rating, Turn, Vote
from reasoning.cot import DEFAULT_THINKING_INSTRUCTIONS, FINAL_ANSWER_PROMPT

pytestmark = pytest.mark.django_db


def answer(conv: Conversation, parent: Turn, content: str, reasoning: str = "", **fields) -> Turn:
    fields.setdefault("model_label", "Scripted")
    return Turn.objects.create(conversation=conv, parent=parent, role="assistant", content=content,
                               reasoning=reasoning, **fields)


def ask(conv: Conversation, parent: Turn | None, content: str) -> Turn:
    return Turn.objects.create(conversation=conv, parent=parent, role="user", content=content)


@pytest.fixture
def maths(owner):
    """Q1 → A1 (reasoned) → Q2 → A2 (chain-of-thought prompt) | A2b (no reasoning, rated down) | stopped."""
    conv = Conversation.objects.create(owner=owner, title="Maths")
    q1 = ask(conv, None, "2+2?")
    a1 = answer(conv, q1, "4", "2 and 2 is 4", reasoning_tokens=5, completion_tokens=6)
    q2 = ask(conv, a1, "times 3?")
    a2 = answer(conv, q2, "12", "4*3 = 12", params={
        "system": "Be brief.", "prompt_id": 1, "prompt_name": "Plan, then answer",
        "prompt_system": "You plan.", "thinking_instructions": "Plan first.",
    })
    a2b = answer(conv, q2, "13", "", model_label="Other")
    answer(conv, q2, "1", "oops", status=Turn.Status.STOPPED)
    Rating.objects.create(turn=a2, value=1, note="right")
    Rating.objects.create(turn=a2b, value=-1, note="wrong")
    return conv, {"a1": a1, "a2": a2, "a2b": a2b}


def export(tmp_path: Path, *args: str) -> tuple[list[dict], str]:
    path = tmp_path / "out.jsonl"
    err = io.StringIO()
    call_command("dataset", *args, "--out", str(path), stdout=io.StringIO(), stderr=err)
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()], err.getvalue()


def test_final_answers_only_in_openai_chat_format(tmp_path, maths):
    conv, t = maths
    lines, counts = export(tmp_path, "--format", "final")
    assert [line["metadata"]["turn"] for line in lines] == [t["a1"].pk, t["a2"].pk, t["a2b"].pk]
    assert lines[0]["messages"] == [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    assert lines[1]["messages"] == [
        {"role": "system", "content": "You plan.\n\nBe brief."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},  # earlier reasoning never in the context
        {"role": "user", "content": "times 3?"},
        {"role": "assistant", "content": "12"},
    ]
    assert set(lines[1]) == {"messages", "metadata"}
    assert lines[1]["metadata"] == {
        "conversation": conv.pk, "turn": t["a2"].pk, "model": "Scripted", "prompt": "Plan, then answer",
        "created_at": t["a2"].created_at.isoformat(), "rating": 1, "reasoning_tokens": None,
        "reasoning_tokens_estimated": False, "completion_tokens": None,
    }
    assert "3 row(s) written, 0 skipped." in counts


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_as_a_field_skips_answers_without_it(tmp_path, maths, field):
    lines, counts = export(tmp_path, "--format", "reasoning_field", "--reasoning-field", field)
    assert [line["messages"][-1] for line in lines] == [
        {"role": "assistant", "content": "4", field: "2 and 2 is 4"},
        {"role": "assistant", "content": "12", field: "4*3 = 12"},
    ]
    assert all(field not in m for line in lines for m in line["messages"][:-1])
    assert "2 row(s) written, 1 skipped (1 no reasoning)." in counts


def test_think_inline_puts_r1_tags_before_the_answer(tmp_path, maths):
    lines, _ = export(tmp_path, "--format", "think_inline")
    assert [line["messages"][-1]["content"] for line in lines] == [
        "<think>\n2 and 2 is 4\n</think>\n\n4",
        "<think>\n4*3 = 12\n</think>\n\n12",
    ]


def test_cot_is_the_two_message_form_the_flow_sends(tmp_path, maths):
    lines, _ = export(tmp_path, "--format", "cot")
    first, second = lines
    assert first["messages"] == [
        {"role": "user", "content": "2+2?"},
        {"role": "user", "content": DEFAULT_THINKING_INSTRUCTIONS},
        {"role": "assistant", "content": "2 and 2 is 4"},
        {"role": "user", "content": FINAL_ANSWER_PROMPT},
        {"role": "assistant", "content": "4"},
    ]
    assert second["messages"][-4:] == [
        {"role": "user", "content": "Plan first."},  # the prompt's own instructions
        {"role": "assistant", "content": "4*3 = 12"},
        {"role": "user", "content": FINAL_ANSWER_PROMPT},
        {"role": "assistant", "content": "12"},
    ]


def test_a_refused_export_names_the_answer_and_leaves_no_file(tmp_path, maths):
    _, t = maths
    path = tmp_path / "out.jsonl"
    with pytest.raises(CommandError) as caught:
        call_command("dataset", "--format", "think_inline", "--missing-reasoning", "fail", "--out", str(path),
                     stdout=io.StringIO(), stderr=io.StringIO())
    assert caught.value.returncode == 1
    assert f"turn {t['a2b'].pk}" in str(caught.value) and "Thinking data is required" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_filters_by_model_prompt_rating_conversation_and_dates(tmp_path, maths, owner, stranger):
    conv, t = maths
    other = Conversation.objects.create(owner=stranger)
    answer(other, ask(other, None, "hi"), "hello", "greeting")

    def turns(*args: str) -> list[int]:
        return [line["metadata"]["turn"] for line in export(tmp_path, *args)[0]]

    assert turns("--model", "Other") == [t["a2b"].pk]
    assert turns("--prompt", "Plan, then answer") == [t["a2"].pk]
    assert turns("--rating", "down") == [t["a2b"].pk]
    assert turns("--rating", "unrated", "--user", "olivia") == [t["a1"].pk]
    assert turns("--conversation", str(conv.pk), "--model", "Scripted") == [t["a1"].pk, t["a2"].pk]
    today = timezone.now().date()
    assert turns("--until", str(today - dt.timedelta(days=1))) == []
    assert len(turns("--since", str(today))) == 4
    assert len(turns("--user", "sam")) == 1


def test_dpo_pairs_from_thumbs_on_sibling_answers(tmp_path, maths):
    _, t = maths
    lines, counts = export(tmp_path, "--format", "dpo")
    assert len(lines) == 1
    pair = lines[0]
    assert pair["prompt"][-1] == {"role": "user", "content": "times 3?"}
    assert pair["chosen"] == [{"role": "assistant", "content": "12"}]
    assert pair["rejected"] == [{"role": "assistant", "content": "13"}]
    assert pair["metadata"]["source"] == "rating"
    assert (pair["metadata"]["chosen"]["turn"], pair["metadata"]["rejected"]["turn"]) == (t["a2"].pk, t["a2b"].pk)
    assert "1 row(s) written" in counts


def test_dpo_with_reasoning_skips_pairs_whose_rejected_answer_has_none(tmp_path, maths):
    lines, counts = export(tmp_path, "--format", "dpo", "--dpo-reasoning", "think_inline")
    assert lines == []
    assert "0 row(s) written, 1 skipped (1 no reasoning)." in counts


@pytest.fixture
def blind_comparison(owner):
    """Three blind columns; round 1 won by B; round 2 a tie."""
    # Voted on, so revealed (as the vote view does): a hidden column is in no dataset.
    comparison = Comparison.objects.create(owner=owner, blind=True, title="Primes", revealed_at=timezone.now())
    turns = {}
    for position, (label, first, second) in enumerate(
        [("Alpha", "2, 3, 5", "7"), ("Beta", "2, 3, 5, 7", "11"), ("Gamma", "1, 2, 3", "4")]
    ):
        conv = Conversation.objects.create(owner=owner, title=f"col {position}")
        q1 = ask(conv, None, "First primes?")
        a1 = answer(conv, q1, first, f"{label} thinks about primes", model_label=label)
        q2 = ask(conv, a1, "Next one?")
        a2 = answer(conv, q2, second, f"{label} goes on", model_label=label)
        conv.leaf = a2
        conv.save()
        column = ComparisonColumn.objects.create(comparison=comparison, conversation=conv, position=position,
                                                 entrant=label)
        turns[label] = (column, a1, a2)
    Vote.objects.create(comparison=comparison, round=1, outcome="best", winner=turns["Beta"][0], blind=True)
    Vote.objects.create(comparison=comparison, round=2, outcome="tie", blind=True)
    return comparison, turns


def test_dpo_pairs_from_a_blind_comparison_vote(tmp_path, blind_comparison):
    comparison, turns = blind_comparison
    lines, counts = export(tmp_path, "--format", "dpo", "--dpo-reasoning", "reasoning_field",
                           "--comparison", str(comparison.pk), "--blind-only")
    assert len(lines) == 2 and "2 row(s) written, 0 skipped." in counts
    for pair in lines:
        assert pair["prompt"] == [{"role": "user", "content": "First primes?"}]
        assert pair["chosen"] == [
            {"role": "assistant", "content": "2, 3, 5, 7", "reasoning_content": "Beta thinks about primes"}
        ]
        meta = pair["metadata"]
        assert (meta["source"], meta["comparison"], meta["round"], meta["blind"]) == ("vote", comparison.pk, 1, True)
        assert meta["chosen"]["turn"] == turns["Beta"][1].pk
    assert sorted(pair["rejected"][0]["content"] for pair in lines) == ["1, 2, 3", "2, 3, 5"]
    assert {pair["metadata"]["rejected"]["model"] for pair in lines} == {"Alpha", "Gamma"}


def test_verdict_filters_sft_rows_by_the_vote(tmp_path, blind_comparison):
    _, turns = blind_comparison
    won = [line["metadata"]["turn"] for line in export(tmp_path, "--verdict", "won")[0]]
    tie = [line["metadata"]["turn"] for line in export(tmp_path, "--verdict", "tie")[0]]
    lost = [line["metadata"]["turn"] for line in export(tmp_path, "--verdict", "lost")[0]]
    assert won == [turns["Beta"][1].pk]
    assert sorted(tie) == sorted(t[2].pk for t in turns.values())
    assert sorted(lost) == sorted([turns["Alpha"][1].pk, turns["Gamma"][1].pk])


def test_a_later_rounds_vote_makes_no_pair_and_says_why(blind_comparison):
    comparison, turns = blind_comparison
    Vote.objects.filter(round=2).update(outcome="best", winner=turns["Alpha"][0])
    report = Report()
    out = list(rows(DatasetFilter(comparison=comparison.pk), ExportOptions(format="dpo"), report))
    assert len(out) == 2  # round 1 only
    assert report.skipped == {"later comparison round (contexts differ)": 2}


def test_progress_is_reported_per_answer(maths):
    seen: list[tuple[int, int]] = []
    list(rows(DatasetFilter(), ExportOptions(), Report(), lambda done, total: seen.append((done, total))))
    assert seen == [(1, 3), (2, 3), (3, 3)]
