"""Grading a final answer: against an expected answer, a JSON Schema, or a judge's verdict.

A grader is a small dict, stored with a sweep:

    {"kind": "exact",    "expected": "391"}                 trimmed, case-insensitive equality
    {"kind": "contains", "expected": "391"}                 the answer contains it (case-insensitive)
    {"kind": "regex",    "pattern": r"\\b391\\b"}           re.search, case-sensitive as written
    {"kind": "number",   "expected": 391, "tolerance": 0.5} the answer's LAST number within ±tolerance
    {"kind": "schema",   "schema": {...}}                   the answer is JSON matching the schema
    {"kind": "judge",    "judge": <model label or id>, "rubric": "...",
                         "scale": "1-10" | "pass-fail", "judge_reasoning": false}

The first five give 1.0 (pass) or 0.0 (fail). A judge gives its score on its scale
(1–10, or 1/0 for pass/fail). `Grade.score` None means *ungraded*: the grader could not
say (a judge that failed, a score that could not be read). An ungraded run is left out
of the mean, never counted as 0: a flaky judge must not look like a bad model.

The judge sees the prompt and the final answer only (`judge_prompt`): never the graded
model's reasoning, unless the sweep asks for "judge the reasoning too", which is a
second, separate judgement (`judge_prompt(..., reasoning=...)`) with its own score.
Only the final answer is graded by the expected-answer graders too (promptfoo's default).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reasoning.structured import check_schema, validate

KINDS = ("exact", "contains", "regex", "number", "schema", "judge")
SCALES = ("1-10", "pass-fail")
# A number as people write it: -1,234.5, 3.2e-4, 12.
_NUMBER = re.compile(r"[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")


class BadGrader(ValueError):
    """A grader that cannot work (no expected text, a regex that does not compile, …)."""


@dataclass(frozen=True)
class Grade:
    score: float | None  # None: ungraded
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def graded(self) -> bool:
        return self.score is not None


def check_grader(grader: Mapping[str, Any]) -> dict[str, Any]:
    """The grader normalised, or BadGrader saying what is wrong."""
    kind = grader.get("kind")
    if kind not in KINDS:
        raise BadGrader(f"grader kind must be one of {', '.join(KINDS)}, not {kind!r}")
    out: dict[str, Any] = {"kind": kind}
    if kind in ("exact", "contains"):
        expected = str(grader.get("expected") or "").strip()
        if not expected:
            raise BadGrader("give the expected answer")
        out["expected"] = expected
    elif kind == "regex":
        pattern = str(grader.get("pattern") or "")
        if not pattern:
            raise BadGrader("give a regular expression")
        try:
            re.compile(pattern)
        except re.error as e:
            raise BadGrader(f"the regular expression does not compile: {e}") from None
        out["pattern"] = pattern
    elif kind == "number":
        try:
            number = float(grader["expected"])
            tolerance = float(grader.get("tolerance") or 0)
        except (KeyError, TypeError, ValueError):
            raise BadGrader("give the expected number (and a tolerance, 0 by default)") from None
        if not math.isfinite(number) or not math.isfinite(tolerance) or tolerance < 0:
            raise BadGrader("the expected number and the tolerance must be finite, the tolerance ≥ 0")
        out["expected"], out["tolerance"] = number, tolerance
    elif kind == "schema":
        schema = grader.get("schema")
        if problems := check_schema(schema):
            raise BadGrader(f"not a usable JSON Schema: {'; '.join(problems)}")
        out["schema"] = schema
    else:
        rubric = str(grader.get("rubric") or "").strip()
        if not rubric:
            raise BadGrader("give the judge a rubric")
        if grader.get("judge") in (None, ""):
            raise BadGrader("choose the judge model")
        scale = grader.get("scale") or "1-10"
        if scale not in SCALES:
            raise BadGrader(f"scale must be one of {', '.join(SCALES)}")
        out.update(judge=grader["judge"], rubric=rubric, scale=scale,
                   judge_reasoning=bool(grader.get("judge_reasoning")))
    return out


def scale_of(grader: Mapping[str, Any]) -> tuple[float, float]:
    """The lowest and highest score the grader gives (intervals are clipped to it)."""
    if grader.get("kind") == "judge" and grader.get("scale", "1-10") == "1-10":
        return (1.0, 10.0)
    return (0.0, 1.0)


def last_number(text: str) -> float | None:
    """The last number in `text` (a final answer usually ends with it), or None."""
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", "").replace("−", "-"))
    except ValueError:
        return None


def _plain(text: str) -> str:
    # Markdown emphasis around an answer ("**391**") is not part of it.
    return re.sub(r"[*_`]+", "", text).strip().casefold()


def grade_answer(grader: Mapping[str, Any], answer: str) -> Grade:
    """Grade a final answer with a non-judge grader."""
    kind = grader["kind"]
    if kind == "exact":
        ok = _plain(answer) == _plain(grader["expected"])
        return Grade(float(ok), "matches exactly" if ok else "does not match")
    if kind == "contains":
        ok = _plain(grader["expected"]) in _plain(answer)
        return Grade(float(ok), "contains the expected answer" if ok else "does not contain the expected answer")
    if kind == "regex":
        ok = re.search(grader["pattern"], answer) is not None
        return Grade(float(ok), "matches the pattern" if ok else "does not match the pattern")
    if kind == "number":
        value = last_number(answer)
        if value is None:
            return Grade(0.0, "no number in the answer")
        ok = abs(value - grader["expected"]) <= grader["tolerance"]
        return Grade(float(ok), f"{value:g} is {'within' if ok else 'outside'} ±{grader['tolerance']:g} of "
                                f"{grader['expected']:g}", {"value": value})
    if kind == "schema":
        checked = validate(answer.strip(), grader["schema"])
        return Grade(float(checked.valid), "matches the schema" if checked.valid else "; ".join(checked.errors))
    raise BadGrader(f"{kind} is graded by a judge model, not here")


# ---- the judge ---------------------------------------------------------------------------


def judge_prompt(prompt: str, answer: str, rubric: str, scale: str, reasoning: str | None = None) -> str:
    """What the judge is asked. It holds the prompt and the final answer; the graded
    model's reasoning only when `reasoning` is given (the separate reasoning judgement)."""
    if scale == "pass-fail":
        verdict = 'End with a last line "VERDICT: PASS" or "VERDICT: FAIL".'
    else:
        verdict = 'End with a last line "SCORE: N", N a whole number from 1 (worst) to 10 (best).'
    parts = [
        "You are grading an answer to a prompt, following a rubric. Be strict and consistent.",
        f"## Rubric\n{rubric}",
        f"## Prompt\n{prompt}",
    ]
    if reasoning is not None:
        parts.append(
            "## The model's reasoning (grade THIS: is it sound, relevant and free of errors?)\n" + reasoning
        )
        parts.append(f"## The model's final answer (for context)\n{answer}")
    else:
        parts.append(f"## The answer to grade\n{answer}")
    parts.append(verdict)
    return "\n\n".join(parts)


_SCORE = re.compile(r"SCORE\s*[:=]\s*\**\s*(\d+(?:\.\d+)?)\s*(?:/\s*10)?", re.IGNORECASE)
_VERDICT = re.compile(r"VERDICT\s*[:=]\s*\**\s*(PASS|FAIL)\b", re.IGNORECASE)


def parse_verdict(text: str, scale: str) -> Grade:
    """The judge's score from its answer: the LAST "SCORE: N" (or "VERDICT: PASS/FAIL").
    Missing or out of range is ungraded, never 0."""
    if scale == "pass-fail":
        found = _VERDICT.findall(text)
        if not found:
            return Grade(None, "the judge gave no VERDICT line")
        passed = found[-1].upper() == "PASS"
        return Grade(float(passed), "the judge says pass" if passed else "the judge says fail")
    scores = _SCORE.findall(text)
    if not scores:
        return Grade(None, "the judge gave no SCORE line")
    score = float(scores[-1])
    if not 1 <= score <= 10:
        return Grade(None, f"the judge's score {score:g} is not between 1 and 10")
    return Grade(score, f"the judge gives {score:g}/10")
