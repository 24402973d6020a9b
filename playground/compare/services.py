"""Side-by-side comparisons: one prompt, 2–6 columns streaming at once. This
module names columns and creates and sends; `metrics` reads a round, `views`
serves the screens, `fragments` renders for the column sockets.

Each column is an ordinary Conversation of the owner (so it keeps its own
history, without reasoning in its context, and can be continued at /c/<id>/),
linked to the Comparison by a ComparisonColumn. Sending a prompt stores one
exchange per column and starts one run per assistant turn; the page has one
socket per column (compare.consumer.ComparisonColumnConsumer) that receives
that column's frames through its conversation group. A column that fails
ends its own turn with its error; the others are not touched.

In a blind comparison the columns are shuffled and every label the page or a
socket renders is "Model A/B/…" until the owner votes or reveals.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from playground.models import (
    COLUMN_LETTERS,
    Comparison,
    ComparisonColumn,
    Conversation,
    ModelProfile,
    Turn,
)
from playground.naming import entrant_name as entrant_name  # re-exported: named here before
from playground.naming import settings_summary as settings_summary
from playground.turns.liveness import mark_interrupted
from playground.turns.services import (
    BadInput,
    Exchange,
    branch,
    check_prompt,
    check_run_limits,
    clean_params,
    enabled_models,
    start_exchange,
)

MIN_COLUMNS, MAX_COLUMNS = 2, len(COLUMN_LETTERS)
# The per-column controls of the setup form; "system" is shared by all columns.
CONTROLS = ("thinking", "effort", "budget_tokens", "temperature", "max_tokens", "prompt_id")

# ---- names -------------------------------------------------------------------------------


def blind_label_for(conversation_id: int) -> str:
    """ "Model B" while the column's comparison is blind and unrevealed, else ""."""
    column = ComparisonColumn.objects.filter(conversation_id=conversation_id).select_related("comparison").first()
    if column is None or not column.comparison.labels_hidden:
        return ""
    return column.blind_name


def disguise(turns: Sequence[Turn], blind_label: str) -> None:
    """Make the shared turn partial show "Model B" instead of the model, and not
    the controls either (efforts can give a model away). In memory only: these
    instances are rendered and dropped, never saved."""
    if not blind_label:
        return
    for turn in turns:
        if turn.role == Turn.Role.ASSISTANT:
            turn.model_label = blind_label
            turn.params = {}


# ---- creating and sending ------------------------------------------------------------------


def parse_columns(data: dict[str, Any]) -> list[tuple[ModelProfile, dict[str, Any]]]:
    """The columns of the setup form: `col<i>-model` and `col<i>-<control>`, i = 0…5.

    A slot with no model is no column. With `same_settings`, column 0's controls
    apply to every column."""
    models = {m.pk: m for m in enabled_models()}
    same = data.get("same_settings") in ("on", "1", "true")
    columns: list[tuple[ModelProfile, dict[str, Any]]] = []
    for i in range(MAX_COLUMNS):
        raw_model = data.get(f"col{i}-model")
        if not raw_model:
            continue
        try:
            model = models[int(raw_model)]
        except (ValueError, KeyError):
            raise BadInput(f"Column {i + 1}: choose an available model.") from None
        source = 0 if same else i
        raw = {name: data.get(f"col{source}-{name}") for name in CONTROLS}
        raw["system"] = data.get("system")
        try:
            params = clean_params(raw, model)
        except BadInput as e:
            raise BadInput(f"Column {i + 1} ({model.label}): {e}") from None
        columns.append((model, params))
    if not MIN_COLUMNS <= len(columns) <= MAX_COLUMNS:
        raise BadInput(f"Choose between {MIN_COLUMNS} and {MAX_COLUMNS} columns (a model for each).")
    return columns


def column_tools(data: dict[str, Any]) -> list[list[str]]:
    """Each column's tools (`col<i>-tools`: MCP servers or server:tool entries, comma-
    separated), in the order of `parse_columns`; with `same_settings`, column 0's."""
    from playground.conversations.tool_views import selection_from

    same = data.get("same_settings") in ("on", "1", "true")
    out = []
    for i in range(MAX_COLUMNS):
        if not data.get(f"col{i}-model"):
            continue
        try:
            out.append(selection_from({"tools_single": data.get(f"col{0 if same else i}-tools") or ""}))
        except BadInput as e:
            raise BadInput(f"Column {len(out) + 1}: {e}") from None
    return out


def create_comparison(owner: Any, data: dict[str, Any]) -> tuple[Comparison, list[Exchange]]:
    # Each column keeps its tools through the blind shuffle.
    columns = [(*column, tools) for column, tools in zip(parse_columns(data), column_tools(data), strict=True)]
    prompt = str(data.get("prompt", "")).strip()
    if not prompt:
        raise BadInput("The prompt is empty.")
    blind = data.get("blind") in ("on", "1", "true")
    if blind:
        # The order must not give the models away.
        random.SystemRandom().shuffle(columns)
    title = prompt.splitlines()[0][:80]
    with transaction.atomic():
        comparison = Comparison.objects.create(
            owner=owner, title=title, blind=blind, same_settings=data.get("same_settings") in ("on", "1", "true")
        )
        for position, (model, params, tools) in enumerate(columns):
            conversation = Conversation.objects.create(
                owner=owner, model=model, settings=params, tools=tools,
                title=f"{title[:60]} · compare {COLUMN_LETTERS[position]}",
            )
            ComparisonColumn.objects.create(
                comparison=comparison, conversation=conversation, position=position,
                model=model, params=params, entrant=entrant_name(model, params),
            )
        started = send_to_columns(comparison, prompt)
    return comparison, started


def send_to_columns(comparison: Comparison, prompt: str) -> list[Exchange]:
    """One new exchange per column, each continuing that column's own branch."""
    prompt = check_prompt(prompt)
    check_run_limits(comparison.owner_id, new_runs=comparison.columns.count())
    started = []
    with transaction.atomic():
        for column in comparison.columns.select_related("conversation", "model__provider"):
            if column.model is None:
                raise BadInput(f"The model of column {column.letter} no longer exists.")
            mark_interrupted(column.conversation)  # a turn a dead process left "streaming" does not block
            if column.conversation.turns.filter(status=Turn.Status.STREAMING).exists():
                raise BadInput(f"Column {column.letter} is still answering; wait or stop it first.")
            started.append(start_exchange(column.conversation, prompt, column.model, column.params))
    return started


# ---- regenerating a column's answer --------------------------------------------------------

LATEST_ONLY = "Only a column's latest answer can be regenerated: the columns answer the same prompts, round by round."
VOTED = (
    "This round has a vote, cast on the answers shown: they stay as they are. "
    "Send a follow-up, or start a new comparison, to compare again."
)


def column_of(conversation_id: int) -> ComparisonColumn | None:
    return ComparisonColumn.objects.filter(conversation_id=conversation_id).select_related("comparison").first()


def check_column_regeneration(column: ComparisonColumn, turn: Turn) -> None:
    """A column's answer is regenerated in place, as its latest answer only (an earlier
    one would leave the columns on different rounds), and not once its round has a
    vote: a vote is on the pair shown (as on LMArena), and a new answer under it would
    be one the voter never saw."""
    conversation = turn.conversation
    if turn.role != Turn.Role.ASSISTANT or conversation.leaf_id != turn.pk:
        raise BadInput(LATEST_ONLY)
    round_no = sum(1 for t in branch(conversation) if t.role == Turn.Role.ASSISTANT)
    if column.comparison.votes.filter(round=round_no).exists():
        raise BadInput(VOTED)


def in_columns_words(column: ComparisonColumn, turn: Turn, message: str) -> str:
    """A refusal as the column's page may show it: in a blind comparison the model's
    name (a disabled model is refused by name) becomes the column's "Model B"."""
    if not column.comparison.labels_hidden:
        return message
    for name in {turn.model_label, turn.model.label if turn.model else ""} - {""}:
        message = message.replace(name, column.blind_name)
    return message


def voted_rounds(comparison: Comparison) -> set[int]:
    return set(comparison.votes.values_list("round", flat=True))
