"""What a comparison shows of a round: per column, its timings, tokens, speed and
cost (the table and the charts), and whether the round can be voted on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from playground.compare import charts
from playground.compare.services import (
    disguise,
    settings_summary,
)
from playground.models import (
    Comparison,
    ComparisonColumn,
    Turn,
)
from playground.turns.services import branch


@dataclass
class ColumnMetrics:
    letter: str
    label: str
    status: str
    first_reasoning_ms: int | None
    first_content_ms: int | None
    thinking_ms: int | None
    duration_ms: int | None
    reasoning_tokens: int | None
    answer_tokens: int | None
    tokens_per_second: float | None
    cost: Decimal | None
    reasoning_share: float | None = None  # of the output tokens
    reasoning_cost_share: float | None = None  # of the turn's cost
    reasoning_tokens_estimated: bool = False  # the provider reported none (reasoning.tokens)

    @classmethod
    def of(cls, letter: str, label: str, turn: Turn | None) -> ColumnMetrics:
        if turn is None:
            return cls(letter, label, "", None, None, None, None, None, None, None, None)
        starts = [t for t in (turn.first_reasoning_ms, turn.first_content_ms) if t is not None]
        tps = None
        if turn.completion_tokens and turn.duration_ms is not None and starts:
            seconds = (turn.duration_ms - min(starts)) / 1000
            tps = turn.completion_tokens / seconds if seconds > 0 else None
        return cls(
            letter, label, turn.status, turn.first_reasoning_ms, turn.first_content_ms,
            turn.thinking_ms, turn.duration_ms, turn.reasoning_tokens, turn.answer_tokens, tps, turn.cost,
            *reasoning_shares(turn), reasoning_tokens_estimated=turn.reasoning_tokens_estimated,
        )

    def lane(self) -> charts.Lane:
        note = {"error": "error", "stopped": "stopped", "interrupted": "interrupted"}.get(self.status, "")
        label = f"{self.letter} · {self.label}"
        return charts.Lane(
            label if len(label) <= 22 else label[:21] + "…",
            self.first_reasoning_ms, self.thinking_ms, self.first_content_ms,
            None if self.status == "streaming" else self.duration_ms, note,
        )


def reasoning_shares(turn: Turn) -> tuple[float | None, float | None]:
    """What thinking took of a turn: its share of the output tokens and of the cost.

    Reasoning tokens are billed as output tokens, at the model's output price."""
    if not turn.completion_tokens or turn.reasoning_tokens is None:
        return None, None
    tokens = turn.reasoning_tokens / turn.completion_tokens
    model = turn.model
    if not turn.cost or model is None or model.price_output is None:
        return tokens, None
    reasoning_cost = model.cost(0, turn.reasoning_tokens) or Decimal(0)
    return tokens, min(1.0, float(reasoning_cost / turn.cost))


@dataclass
class ColumnView:
    column: ComparisonColumn
    label: str  # what the page shows: the model's label, or "Model B"
    summary: str
    turns: list[Turn]
    resume: str

    @property
    def assistant_turns(self) -> list[Turn]:
        return [t for t in self.turns if t.role == Turn.Role.ASSISTANT]

    @property
    def streaming(self) -> bool:
        return any(t.is_streaming for t in self.turns)


def column_views(comparison: Comparison) -> list[ColumnView]:
    hidden = comparison.labels_hidden
    views = []
    for column in comparison.columns.select_related("conversation", "model"):
        turns = branch(column.conversation)
        disguise(turns, column.blind_name if hidden else "")
        label = column.blind_name if hidden else (column.model.label if column.model else column.entrant)
        views.append(ColumnView(
            column=column,
            label=label,
            summary="" if hidden else settings_summary(column.params),
            turns=turns,
            resume=",".join(f"{t.pk}:{len(t.reasoning)}:{len(t.content)}" for t in turns if t.is_streaming),
        ))
    return views


def rounds(views: Sequence[ColumnView]) -> int:
    return max((len(v.assistant_turns) for v in views), default=0)


def metrics_context(
    comparison: Comparison, views: Sequence[ColumnView] | None = None, round_no: int | None = None
) -> dict[str, Any]:
    """The metrics, charts and vote of one round (the n-th prompt), the latest by default."""
    views = views if views is not None else column_views(comparison)
    latest_round = rounds(views)
    n = round_no if round_no and 1 <= round_no <= latest_round else latest_round
    turns = [v.assistant_turns[n - 1] if len(v.assistant_turns) >= n > 0 else None for v in views]
    metrics = [ColumnMetrics.of(v.column.letter, v.label, t) for v, t in zip(views, turns, strict=True)]
    in_progress = any(m.status == "streaming" for m in metrics)
    vote = comparison.votes.filter(round=n).first() if n else None
    ctx: dict[str, Any] = {
        "comparison": comparison,
        "round": n,
        "rounds": range(1, latest_round + 1),
        "metrics": metrics,
        "in_progress": in_progress,
        "vote": vote,
        "vote_winner": next((v for v in views if vote and vote.winner_id == v.column.pk), None),
        "can_vote": n > 0 and not in_progress and vote is None,
        "columns": views,
        "two_columns": len(views) == 2,
    }
    if n:
        ctx["timeline"] = charts.timeline_svg([m.lane() for m in metrics])
        panels: list[tuple[str, list[list[tuple[float | None, str]]], str]] = [
            ("Time to first answer token (s)", [[(_s(m.first_content_ms), "bar")] for m in metrics], "{:.2f}"),
            ("Total time (s)", [[(_s(m.duration_ms), "bar")] for m in metrics], "{:.2f}"),
            ("Tokens: reasoning + answer", [
                [(m.reasoning_tokens, "thinking"), (m.answer_tokens, "answering")] for m in metrics
            ], "{:,.0f}"),
            ("Output tokens per second", [[(m.tokens_per_second, "bar")] for m in metrics], "{:.0f}"),
            ("Cost (USD)", [[(float(m.cost) if m.cost is not None else None, "bar")] for m in metrics], "${:.4f}"),
        ]
        # A measure no column reported (cost without prices) gets no chart, only "—" in the table.
        ctx["charts"] = [
            charts.bars_svg(title, [charts.Bar(m.letter, parts) for m, parts in zip(metrics, rows, strict=True)],
                            fmt=pattern.format)
            for title, rows, pattern in panels
            if any(value is not None for parts in rows for value, _ in parts)
        ]
    return ctx


def _s(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000
