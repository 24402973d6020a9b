"""A sweep's result: one point per level, each measure a mean with its 95 % interval.

The score is averaged over the *graded* runs only (an ungraded run, a judge that
failed, counts in `runs` but not in `graded` and not in the mean). Tokens, seconds and
cost are averaged over the runs that answered (status complete). Intervals are
Student's t over the repeats (reasoning.stats), the score's clipped to the grader's
scale. `cost` is None when the model has no price (or a run reported no usage).

The *pick*: the cheapest level whose mean score lies within the best level's interval
(the best being the highest mean score): a level that statistically does as well for
less. Cheapest by mean cost when every level has one, else by reasoning tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playground.models import Turn
from playground.sweeps.models import Sweep, SweepRun
from reasoning.grading import scale_of
from reasoning.stats import Estimate, estimate

JSON_FIELDS = ("level", "runs", "graded", "score", "score_low", "score_high", "reasoning_tokens",
               "answer_tokens", "seconds", "cost")


@dataclass
class Point:
    level: str
    runs: int  # runs of this level (any state)
    done: int  # runs finished (answered, failed or stopped)
    graded: int
    score: Estimate
    reasoning_score: Estimate
    reasoning_tokens: Estimate
    answer_tokens: Estimate
    seconds: Estimate
    cost: Estimate
    run_rows: list[SweepRun] = field(default_factory=list)
    pick: bool = False  # the cheapest level within the best's interval
    best: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "runs": self.runs,
            "graded": self.graded,
            "score": self.score.mean,
            "score_low": self.score.low,
            "score_high": self.score.high,
            "reasoning_tokens": self.reasoning_tokens.mean,
            "answer_tokens": self.answer_tokens.mean,
            "seconds": self.seconds.mean,
            "cost": self.cost.mean,
        }


def points(sweep: Sweep, runs: list[SweepRun] | None = None) -> list[Point]:
    if runs is None:
        runs = list(sweep.runs.select_related("turn", "judge_turn"))
    clip = scale_of(sweep.grader)
    out = []
    for level in sweep.levels:
        mine = [r for r in runs if r.level == level]
        answered = [r.turn for r in mine if r.turn is not None and r.turn.status == Turn.Status.COMPLETE]
        graded = [r.score for r in mine if r.score is not None]
        costs = [t.cost for t in answered]
        out.append(Point(
            level=level,
            runs=len(mine),
            done=sum(r.state in (SweepRun.State.DONE, SweepRun.State.STOPPED) for r in mine),
            graded=len(graded),
            score=estimate(graded, clip),
            reasoning_score=estimate([r.reasoning_score for r in mine if r.reasoning_score is not None], clip),
            reasoning_tokens=estimate([n for t in answered if (n := reasoning_tokens(t)) is not None]),
            answer_tokens=estimate([t.answer_tokens for t in answered if t.answer_tokens is not None]),
            seconds=estimate([t.duration_ms / 1000 for t in answered if t.duration_ms is not None]),
            # One run without a cost makes the level's cost unknown rather than too low.
            cost=estimate([float(c) for c in costs if c is not None]) if costs and None not in costs else estimate([]),
            run_rows=mine,
        ))
    mark_pick(out)
    return out


def reasoning_tokens(turn: Turn) -> int | None:
    """Reported reasoning tokens; 0 for a turn with no reasoning at all; None when it
    reasoned but the provider did not say how much (Ollama): unknown is not zero."""
    if turn.reasoning_tokens is not None:
        return turn.reasoning_tokens
    return 0 if not turn.reasoning and turn.completion_tokens is not None else None


def mark_pick(pts: list[Point]) -> None:
    scored = [p for p in pts if p.score.mean is not None]
    if not scored:
        return
    best = max(scored, key=lambda p: p.score.mean or 0)
    best.best = True
    floor = best.score.low if best.score.low is not None else best.score.mean
    assert floor is not None
    within = [p for p in scored if (p.score.mean or 0) >= floor]
    by_cost = all(p.cost.mean is not None for p in within)

    def price(p: Point) -> float:
        value = p.cost.mean if by_cost else p.reasoning_tokens.mean
        return float("inf") if value is None else value

    min(within, key=price).pick = True


def progress(sweep: Sweep) -> dict[str, int]:
    states = list(sweep.runs.values_list("state", flat=True))
    return {
        "total": len(states),
        "done": sum(s in (SweepRun.State.DONE, SweepRun.State.STOPPED) for s in states),
        "running": sum(s == SweepRun.State.RUNNING for s in states),
    }


def as_json(sweep: Sweep, url: str) -> dict[str, Any]:
    return {"id": sweep.pk, "url": url, "points": [p.as_json() for p in points(sweep)]}
