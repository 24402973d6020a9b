"""Graders of a final answer and the mean ± 95 % interval over repeats, with known numbers."""

from __future__ import annotations

import math

import pytest

from reasoning.grading import BadGrader, check_grader, grade_answer, judge_prompt, last_number, parse_verdict
from reasoning.stats import estimate, t_quantile


def grade(grader, answer):
    return grade_answer(check_grader(grader), answer).score


def test_expected_answers():
    assert grade({"kind": "exact", "expected": "391"}, "  **391** ") == 1.0
    assert grade({"kind": "exact", "expected": "391"}, "It is 391") == 0.0
    assert grade({"kind": "contains", "expected": "Paris"}, "The capital is **paris**.") == 1.0
    assert grade({"kind": "contains", "expected": "Paris"}, "Lyon") == 0.0
    assert grade({"kind": "regex", "pattern": r"\b391\b"}, "17*23 = 391.") == 1.0
    assert grade({"kind": "regex", "pattern": r"\b391\b"}, "3910") == 0.0
    number = {"kind": "number", "expected": 3.14159, "tolerance": 0.01}
    assert grade(number, "About 3.14") == 1.0
    assert grade(number, "17 and then 3.2") == 0.0  # the LAST number is the answer
    assert grade(number, "no idea") == 0.0  # no number: a wrong answer, not ungraded
    assert last_number("a total of 1,234.5 units") == 1234.5
    assert last_number("−7") == -7


def test_schema():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert grade({"kind": "schema", "schema": schema}, '{"n": 391}') == 1.0
    assert grade({"kind": "schema", "schema": schema}, '{"n": "391"}') == 0.0
    assert grade({"kind": "schema", "schema": schema}, "391") == 0.0


def test_graders_that_cannot_work_are_refused():
    for bad in (
        {"kind": "regex", "pattern": "("}, {"kind": "exact"}, {"kind": "number", "expected": "x"},
        {"kind": "schema", "schema": {"type": 7}}, {"kind": "judge", "judge": "j"}, {"kind": "vibes"},
    ):
        with pytest.raises(BadGrader):
            check_grader(bad)


def test_the_judge_prompt_holds_the_answer_and_never_the_reasoning_unless_asked():
    text = judge_prompt("What is 17*23?", "391", "Correct arithmetic.", "1-10")
    assert "What is 17*23?" in text and "391" in text and "SCORE" in text
    assert "reasoning" not in text.lower()
    both = judge_prompt("What is 17*23?", "391", "Sound steps.", "pass-fail", reasoning="17*20=340, 17*3=51")
    assert "17*20=340" in both and "VERDICT" in both


def test_verdicts():
    assert parse_verdict("Good work.\nSCORE: 8", "1-10").score == 8.0
    assert parse_verdict("SCORE: 3 … on reflection SCORE: **7**/10", "1-10").score == 7.0  # the last one
    assert parse_verdict("VERDICT: PASS", "pass-fail").score == 1.0
    assert parse_verdict("verdict: fail", "pass-fail").score == 0.0
    # Unreadable or out of range: ungraded (None), never 0.
    assert parse_verdict("I'd say it's fine", "1-10").score is None
    assert parse_verdict("SCORE: 11", "1-10").score is None
    assert parse_verdict("SCORE: 8", "pass-fail").score is None


def test_mean_and_t_interval_with_known_numbers():
    e = estimate([1, 2, 3, 4, 5])
    # mean 3, s = sqrt(2.5) = 1.5811, s/sqrt(5) = 0.70711, t(0.975, 4) = 2.776 -> ± 1.96294
    assert e.mean == 3 and e.sd == pytest.approx(math.sqrt(2.5))
    assert e.low == pytest.approx(3 - 1.96294, abs=1e-4) and e.high == pytest.approx(3 + 1.96294, abs=1e-4)
    three = estimate([0.0, 1.0, 1.0])  # pass, pass, fail: mean 2/3, s = 0.57735, t(2) = 4.303
    assert three.mean == pytest.approx(2 / 3)
    assert three.high - three.mean == pytest.approx(4.303 * 0.57735 / math.sqrt(3), abs=1e-4)
    clipped = estimate([0.0, 1.0, 1.0], clip=(0.0, 1.0))
    assert (clipped.low, clipped.high) == (0.0, 1.0)
    assert estimate([5.0]).low is None and estimate([]).mean is None
    assert estimate([2.0, 2.0, 2.0]).low == estimate([2.0, 2.0, 2.0]).high == 2.0
    assert t_quantile(1) == 12.706 and t_quantile(100) == 1.96
