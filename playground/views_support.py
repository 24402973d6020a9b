"""HTML fragments shared by the views and the consumer: the same partial renders
a turn for the page and for a websocket frame."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.html import escape

from playground.models import Turn


def append_fragment(turn_id: int, block: str, text: str) -> str:
    """Append escaped text to a turn's reasoning ("r") or content ("c") block.

    Built by hand rather than through a template: it is on the per-frame path.
    """
    return f'<div hx-swap-oob="beforeend:#t{turn_id}-{block}">{escape(text)}</div>'


def render_turn(turn: Turn, *, oob: str = "") -> str:
    return render_to_string("chat/_turn.html", {"turn": turn, "oob": oob})


def render_turn_oob(turn_id: int) -> str:
    turn = Turn.objects.select_related("model", "model__provider").get(pk=turn_id)
    return render_turn(turn, oob="outerHTML")


def render_new_exchange(user_turn_id: int, turn_id: int) -> str:
    turns = Turn.objects.select_related("model", "model__provider").filter(pk__in=[user_turn_id, turn_id])
    by_id = {t.pk: t for t in turns}
    inner = render_turn(by_id[user_turn_id]) + render_turn(by_id[turn_id])
    return f'<div hx-swap-oob="beforeend:#turns">{inner}</div>'
