"""HTML fragments for the column sockets: a column's own target for new turns,
and blind labels while its comparison is blind and unrevealed."""

from __future__ import annotations

from django.template.loader import render_to_string

from playground.compare.metrics import metrics_context
from playground.compare.services import (
    blind_label_for,
    disguise,
)
from playground.conversations.fragments import branch_fragments
from playground.models import (
    ComparisonColumn,
    Conversation,
    Turn,
)
from playground.turns.services import branch


def render_column_exchange(conversation_id: int, user_turn_id: int, turn_id: int) -> str:
    """The new exchange, appended to this column's own list of turns."""
    turns = Turn.objects.select_related("model").in_bulk([user_turn_id, turn_id])
    disguise(list(turns.values()), blind_label_for(conversation_id))
    inner = "".join(
        render_to_string("chat/_turn.html", {"turn": turns[pk], "in_column": True}) for pk in (user_turn_id, turn_id)
    )
    return f'<div hx-swap-oob="beforeend:#turns-{conversation_id}">{inner}</div>'


def render_column_branch(conversation_id: int) -> list[str]:
    """The column's branch on show, replacing its turns (after an edit or a regeneration)."""
    turns = branch(Conversation.objects.get(pk=conversation_id))
    disguise(turns, blind_label_for(conversation_id))
    return branch_fragments(
        turns, f"turns-{conversation_id}",
        lambda turn: render_to_string("chat/_turn.html", {"turn": turn, "in_column": True}),
    )


def render_column_done(conversation_id: int, turn_id: int) -> str:
    """The finished turn (markdown rendered once) and the refreshed metrics panel."""
    turn = Turn.objects.select_related("model").get(pk=turn_id)
    disguise([turn], blind_label_for(conversation_id))
    html = render_to_string("chat/_turn.html", {"turn": turn, "oob": "outerHTML", "in_column": True})
    column = ComparisonColumn.objects.filter(conversation_id=conversation_id).select_related("comparison").first()
    if column is not None:
        # Screen readers hear the finished turn once, by the column's (blind) name.
        html += render_to_string("chat/_announce.html", {"turn": turn, "column": column.letter})
        ctx = metrics_context(column.comparison)
        html += render_to_string("compare/_metrics.html", {**ctx, "oob": True})
    return html
