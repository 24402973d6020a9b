"""Conversations as training data: JSONL rows from a filter, in one of five formats.

A row is one branch of a conversation up to a complete assistant turn (the
"answer"), so a conversation with regenerated answers yields one row per answer.
The context before the answer is the effective system prompt (the prompt's, then
the user's own) and the earlier turns' text; earlier answers never carry their
reasoning, as they were never sent back to the model either. Formats of the answer:

    final            {"role": "assistant", "content": answer}  (OpenAI chat fine-tuning)
    reasoning_field  the same with the reasoning in `reasoning_content` (DeepSeek) or
                     `reasoning` (Together), chosen by `reasoning_field`
    think_inline     content "<think>\\n{reasoning}\\n</think>\\n\\n{answer}" (R1-style distillation)
    cot              Kiln's two-message chain of thought, as reasoning.cot sends it: the
                     user input, the thinking instructions as their own user message, the
                     reasoning as an assistant message, "Considering the above, return a
                     final result.", then the answer
    dpo              preference pairs {"prompt": [...], "chosen": [answer], "rejected":
                     [answer]} (TRL's conversational form); each answer in the style of
                     `dpo_reasoning` (final, reasoning_field or think_inline)

A tool-using answer (a turn with steps) is its steps whole, in OpenAI's messages
format: each earlier step an assistant message with its `tool_calls` (and, but for
`final`, its reasoning in the chosen field or `<think>` tags), followed by one
`{"role": "tool", "tool_call_id", "content"}` per result; then the answer. The row
gains `tools` (the functions offered, from the request as sent) when they are known.
Earlier tool-using turns in the context go in the same way, without reasoning. A
DPO answer is the whole sequence too: chosen and rejected each keep their steps.

DPO pairs come from comparison votes (the winner of a round over every other column;
only the first round, where every column answered the same context) and from thumbs
(an answer rated up over a sibling rated down: same prompt, same context). The filter
applies to the chosen answer.

Every format but `final` needs reasoning: a row without it is skipped, or with
`missing_reasoning="fail"` the export stops (Kiln's hard fail) before anything is
kept. Every row carries its provenance under "metadata". The `Report` counts the
rows written and the rows skipped, by reason.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from playground.models import Comparison, Rating, Turn, Vote
from playground.turns import blind
from reasoning.cot import DEFAULT_THINKING_INSTRUCTIONS, FINAL_ANSWER_PROMPT

FORMATS = ("final", "reasoning_field", "think_inline", "cot", "dpo")
REASONING_FIELDS = ("reasoning_content", "reasoning")
ANSWER_STYLES = ("final", "reasoning_field", "think_inline")
RATINGS = ("up", "down", "rated", "unrated")
VERDICTS = ("won", "lost", "tie", "all_bad")
MISSING = ("skip", "fail")


class MissingReasoning(Exception):
    """An answer with no reasoning in an export that was told to refuse it."""


@dataclass(frozen=True)
class DatasetFilter:
    """Which answers an export takes. Empty fields do not filter."""

    owner: Any = None  # a user; None: every user's (the command line)
    models: Sequence[str] = ()  # model labels
    prompts: Sequence[str] = ()  # prompt names
    since: dt.date | None = None  # answered on or after
    until: dt.date | None = None  # answered on or before
    rating: str | None = None  # one of RATINGS
    conversations: Sequence[int] = ()
    comparison: int | None = None
    verdict: str | None = None  # one of VERDICTS: how a comparison vote judged the answer
    blind_only: bool = False  # votes cast while the labels were hidden


@dataclass(frozen=True)
class ExportOptions:
    format: str = "final"
    reasoning_field: str = "reasoning_content"
    missing_reasoning: str = "skip"
    dpo_reasoning: str = "final"  # the style of DPO answers, one of ANSWER_STYLES

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("format", self.format, FORMATS),
            ("reasoning_field", self.reasoning_field, REASONING_FIELDS),
            ("missing_reasoning", self.missing_reasoning, MISSING),
            ("dpo_reasoning", self.dpo_reasoning, ANSWER_STYLES),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")

    @property
    def answer_style(self) -> str:
        return self.dpo_reasoning if self.format == "dpo" else self.format


@dataclass
class Report:
    written: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        skipped = sum(self.skipped.values())
        why = "; ".join(f"{n} {reason}" for reason, n in self.skipped.most_common())
        return f"{self.written} row(s) written, {skipped} skipped" + (f" ({why})" if why else "") + "."

    def as_dict(self) -> dict[str, Any]:
        return {"written": self.written, "skipped": dict(self.skipped)}


# ---- which answers -----------------------------------------------------------------------------


def answers(flt: DatasetFilter) -> QuerySet[Turn]:
    turns = Turn.objects.filter(role=Turn.Role.ASSISTANT, status=Turn.Status.COMPLETE).select_related(
        "conversation", "rating"
    )
    if flt.owner is not None:
        turns = turns.filter(conversation__owner=flt.owner)
    if flt.models:
        turns = turns.filter(model_label__in=list(flt.models))
    if flt.prompts:
        turns = turns.filter(params__prompt_name__in=list(flt.prompts))
    if flt.since:
        turns = turns.filter(created_at__date__gte=flt.since)
    if flt.until:
        turns = turns.filter(created_at__date__lte=flt.until)
    if flt.rating == "up":
        turns = turns.filter(rating__value=Rating.Value.UP)
    elif flt.rating == "down":
        turns = turns.filter(rating__value=Rating.Value.DOWN)
    elif flt.rating == "rated":
        turns = turns.filter(rating__isnull=False)
    elif flt.rating == "unrated":
        turns = turns.filter(rating__isnull=True)
    if flt.conversations:
        turns = turns.filter(conversation_id__in=list(flt.conversations))
    if flt.comparison is not None:
        turns = turns.filter(conversation__comparison_column__comparison_id=flt.comparison)
    return blind.without_hidden_columns(turns).order_by("conversation_id", "created_at", "pk")


@dataclass(frozen=True)
class Verdict:
    comparison: int
    round: int
    outcome: str  # one of VERDICTS
    blind: bool
    others: tuple[int, ...]  # the other columns' answers in that round


def verdicts(flt: DatasetFilter) -> dict[int, list[Verdict]]:
    """How comparison votes judged each answer: turn id -> verdicts."""
    comparisons = Comparison.objects.filter(votes__isnull=False).distinct()
    if flt.owner is not None:
        comparisons = comparisons.filter(owner=flt.owner)
    if flt.comparison is not None:
        comparisons = comparisons.filter(pk=flt.comparison)
    out: dict[int, list[Verdict]] = {}
    for comparison in comparisons.prefetch_related("votes", "columns__conversation__turns"):
        rounds = {column.pk: _answers_by_round(column.conversation) for column in comparison.columns.all()}
        for vote in comparison.votes.all():
            if flt.blind_only and not vote.blind:
                continue
            in_round = {c: turns[vote.round - 1] for c, turns in rounds.items() if len(turns) >= vote.round}
            for column_id, turn in in_round.items():
                if vote.outcome == Vote.Outcome.BEST:
                    outcome = "won" if vote.winner_id == column_id else "lost"
                else:
                    outcome = str(vote.outcome)
                others = tuple(t.pk for c, t in in_round.items() if c != column_id)
                out.setdefault(turn.pk, []).append(Verdict(comparison.pk, vote.round, outcome, vote.blind, others))
    return out


def _answers_by_round(conversation: Any) -> list[Turn]:
    """A column's answers in round order: its branch from the root to its leaf."""
    turns = {t.pk: t for t in conversation.turns.all()}
    node = turns.get(conversation.leaf_id) if conversation.leaf_id else None
    chain: list[Turn] = []
    while node is not None:
        chain.append(node)
        node = turns.get(node.parent_id) if node.parent_id else None
    return [t for t in reversed(chain) if t.role == Turn.Role.ASSISTANT]


# ---- shaping rows --------------------------------------------------------------------------------


def _chain(turn: Turn, cache: dict[int, dict[int, Turn]]) -> list[Turn]:
    """The branch from the root to `turn`, oldest first."""
    by_id = cache.get(turn.conversation_id)
    if by_id is None:
        by_id = cache[turn.conversation_id] = {t.pk: t for t in turn.conversation.turns.all()}
    chain = [turn]
    while chain[-1].parent_id in by_id:
        chain.append(by_id[chain[-1].parent_id])
    chain.reverse()
    return chain


def system_of(turn: Turn) -> str:
    p = turn.params or {}
    return "\n\n".join(s for s in (p.get("prompt_system"), p.get("system")) if s and s.strip())


def context_messages(chain: list[Turn]) -> list[dict[str, Any]]:
    """The system prompt and the turns before the answer, text only (an earlier tool
    loop as its calls and results, without reasoning: none went back to the model)."""
    answer = chain[-1]
    messages: list[dict[str, Any]] = []
    if system := system_of(answer):
        messages.append({"role": "system", "content": system})
    for t in chain[:-1]:
        if t.role == Turn.Role.ASSISTANT and _steps(t):
            messages += answer_messages(t, "final", "reasoning_content")
        elif t.content.strip():
            messages.append({"role": t.role, "content": t.content})
    return messages


def _steps(turn: Turn) -> list[dict[str, Any]]:
    steps = getattr(turn, "steps", None) or []
    return [s for s in steps if isinstance(s, dict)]


def _step_message(reasoning: str, content: str, style: str, reasoning_field: str) -> dict[str, Any]:
    if style == "think_inline":
        return {"role": "assistant", "content": f"<think>\n{reasoning}\n</think>\n\n{content}"}
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if style == "reasoning_field":
        message[reasoning_field] = reasoning
    return message


def answer_message(turn: Turn, style: str, reasoning_field: str) -> dict[str, Any]:
    return _step_message(turn.reasoning, turn.content, style, reasoning_field)


def answer_messages(turn: Turn, style: str, reasoning_field: str) -> list[dict[str, Any]]:
    """The answer as messages: one for a plain turn; a tool loop's steps whole, each
    step's calls (OpenAI `tool_calls`) followed by their results (`role: tool`)."""
    steps = _steps(turn)
    if not steps:
        return [answer_message(turn, style, reasoning_field)]
    out: list[dict[str, Any]] = []
    for step in steps[:-1] if not steps[-1].get("tool_calls") else steps:
        calls = [c for c in step.get("tool_calls") or () if isinstance(c, dict)]
        message = _step_message(str(step.get("reasoning") or ""), str(step.get("content") or ""), style,
                                reasoning_field)
        if calls:
            message["content"] = message["content"] or None  # OpenAI's shape for a step that only calls
            message["tool_calls"] = [
                {"id": c.get("id"), "type": "function",
                 "function": {"name": c.get("name"), "arguments": c.get("arguments") or "{}"}}
                for c in calls
            ]
        out.append(message)
        out += [{"role": "tool", "tool_call_id": c.get("id"), "content": str(c["result"])}
                for c in calls if c.get("result") is not None]
    if not steps[-1].get("tool_calls"):
        out.append(answer_message(turn, style, reasoning_field))
    return out


def tools_offered(turn: Turn) -> list[dict[str, Any]] | None:
    """The functions the answer's model was offered, in OpenAI's `tools` shape, from
    the request as sent (None when it is not in that shape)."""
    body = (turn.sent or {}).get("body")
    tools = body.get("tools") if isinstance(body, dict) else None
    if isinstance(tools, list) and tools and all(isinstance(t, dict) and t.get("type") == "function" for t in tools):
        return tools
    return None


def has_reasoning(turn: Turn) -> bool:
    """Reasoning in the answer or in any step of its loop."""
    return bool(turn.reasoning.strip()) or any(str(s.get("reasoning") or "").strip() for s in _steps(turn))


def provenance(turn: Turn) -> dict[str, Any]:
    rating = getattr(turn, "rating", None) if _has_rating(turn) else None
    return {
        "conversation": turn.conversation_id,
        "turn": turn.pk,
        "model": turn.model_label,
        "prompt": (turn.params or {}).get("prompt_name"),
        "created_at": turn.created_at.isoformat(),
        "rating": rating.value if rating else None,
        "reasoning_tokens": turn.reasoning_tokens,
        "reasoning_tokens_estimated": turn.reasoning_tokens_estimated,
        "completion_tokens": turn.completion_tokens,
    }


def _has_rating(turn: Turn) -> bool:
    try:
        turn.rating  # noqa: B018
    except Rating.DoesNotExist:
        return False
    return True


def sft_row(chain: list[Turn], options: ExportOptions) -> dict[str, Any]:
    answer = chain[-1]
    messages = context_messages(chain)
    if options.format == "cot":
        instructions = ((answer.params or {}).get("thinking_instructions") or "").strip()
        messages += [
            {"role": "user", "content": instructions or DEFAULT_THINKING_INSTRUCTIONS},
            {"role": "assistant", "content": answer.reasoning},
            {"role": "user", "content": FINAL_ANSWER_PROMPT},
            {"role": "assistant", "content": answer.content},
        ]
    else:
        messages += answer_messages(answer, options.format, options.reasoning_field)
    row: dict[str, Any] = {"messages": messages, "metadata": provenance(answer)}
    if _steps(answer) and (tools := tools_offered(answer)) is not None:
        row["tools"] = tools
    return row


# ---- the export -------------------------------------------------------------------------------------


def rows(
    flt: DatasetFilter, options: ExportOptions, report: Report, progress: Callable[[int, int], None] | None = None
) -> Iterator[dict[str, Any]]:
    """The rows of the export, counting what is written and skipped in `report`.

    Raises MissingReasoning (with `missing_reasoning="fail"`) at the first answer
    without reasoning; callers that write a file delete what they wrote."""
    candidates = list(answers(flt))
    judged = verdicts(flt) if flt.verdict or options.format == "dpo" else {}
    if flt.verdict:
        candidates = [t for t in candidates if any(v.outcome == flt.verdict for v in judged.get(t.pk, []))]
    needs_reasoning = options.answer_style != "final" or options.format == "cot"
    cache: dict[int, dict[int, Turn]] = {}

    def usable(turn: Turn) -> bool:
        if needs_reasoning and not has_reasoning(turn):
            if options.missing_reasoning == "fail":
                raise MissingReasoning(
                    f"turn {turn.pk} (conversation {turn.conversation_id}) has no reasoning. "
                    "Thinking data is required for this format: every row needs reasoning "
                    "or chain-of-thought output (or export with --missing-reasoning skip)."
                )
            report.skipped["no reasoning"] += 1
            return False
        return True

    if options.format != "dpo":
        for i, turn in enumerate(candidates, 1):
            if usable(turn):
                report.written += 1
                yield sft_row(_chain(turn, cache), options)
            if progress:
                progress(i, len(candidates))
        return

    by_id = {t.pk: t for t in Turn.objects.filter(pk__in=_pair_members(candidates, judged)).select_related(
        "conversation", "rating"
    )}
    paired: set[tuple[int, int]] = set()
    for i, chosen in enumerate(candidates, 1):
        for rejected_id, source in _pairs_for(chosen, judged, report):
            if (chosen.pk, rejected_id) in paired:
                continue  # a vote and thumbs that agree make one pair
            paired.add((chosen.pk, rejected_id))
            rejected = by_id.get(rejected_id)
            if rejected is None or rejected.status != Turn.Status.COMPLETE:
                report.skipped["rejected answer not complete"] += 1
                continue
            if not (usable(chosen) and usable(rejected)):
                continue
            report.written += 1
            yield dpo_row(_chain(chosen, cache), rejected, options, source)
        if progress:
            progress(i, len(candidates))


def _pair_members(candidates: list[Turn], judged: dict[int, list[Verdict]]) -> set[int]:
    ids: set[int] = set()
    for turn in candidates:
        for verdict in judged.get(turn.pk, []):
            ids.update(verdict.others)
    parents = [t.parent_id for t in candidates if t.parent_id]
    ids.update(Turn.objects.filter(parent_id__in=parents, role=Turn.Role.ASSISTANT).values_list("pk", flat=True))
    return ids


def _pairs_for(chosen: Turn, judged: dict[int, list[Verdict]], report: Report) -> Iterator[tuple[int, dict[str, Any]]]:
    for verdict in judged.get(chosen.pk, []):
        if verdict.outcome != "won":
            continue
        if verdict.round > 1:
            # Each column continues its own history: from round 2 on, the losers
            # answered a different context, so the pair would not share a prompt.
            report.skipped["later comparison round (contexts differ)"] += len(verdict.others)
            continue
        for other in verdict.others:
            yield other, {"source": "vote", "comparison": verdict.comparison, "round": verdict.round,
                          "blind": verdict.blind}
    rating = getattr(chosen, "rating", None) if _has_rating(chosen) else None
    if rating is not None and rating.value == Rating.Value.UP and chosen.parent_id:
        down = Rating.objects.filter(
            turn__parent_id=chosen.parent_id, value=Rating.Value.DOWN, turn__status=Turn.Status.COMPLETE
        ).values_list("turn_id", flat=True)
        for other in down:
            yield other, {"source": "rating"}


def dpo_row(chain: list[Turn], rejected: Turn, options: ExportOptions, source: dict[str, Any]) -> dict[str, Any]:
    chosen = chain[-1]
    style, field_name = options.dpo_reasoning, options.reasoning_field
    return {
        "prompt": context_messages(chain),
        "chosen": answer_messages(chosen, style, field_name),
        "rejected": answer_messages(rejected, style, field_name),
        "metadata": {**source, "chosen": provenance(chosen), "rejected": provenance(rejected)},
    }


def lines(
    flt: DatasetFilter, options: ExportOptions, report: Report, progress: Callable[[int, int], None] | None = None
) -> Iterator[str]:
    for row in rows(flt, options, report, progress):
        yield json.dumps(row, ensure_ascii=False) + "\n"
