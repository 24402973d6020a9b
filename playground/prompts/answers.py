"""A turn's structured answer: its text checked against the schema it was asked for."""

from __future__ import annotations

from playground.models import Turn
from playground.turns.services import answer_schema
from reasoning.structured import StructuredAnswer, validate


def structured_answer(turn: Turn) -> StructuredAnswer | None:
    """None when the turn was asked for no schema or is still streaming.

    Computed from the stored text on demand rather than stored: the text is the
    record, and a check that cannot drift from it needs no migration when the
    validator improves."""
    schema = answer_schema(turn.params or {})
    if schema is None or turn.role != Turn.Role.ASSISTANT or turn.status == Turn.Status.STREAMING:
        return None
    return validate(turn.content, schema)
