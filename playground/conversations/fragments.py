"""HTML fragments shared by the views and the consumer: the same partial renders
a turn for the page and for a websocket frame."""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connections, router
from django.db.models import QuerySet, Sum
from django.template.loader import render_to_string

from playground.conversations.turn_html import announce_html, totals_html, turn_html
from playground.models import Conversation, ModelProfile, Rating, Turn
from playground.streaming.messages import split_turn
from playground.turns import offer
from playground.turns.services import answer_schema, branch


def annotate_siblings(turns: Iterable[Turn], rows: Iterable[tuple[int, int | None, str]] | None = None) -> None:
    """Give each turn its place among its siblings (same parent, same role), for
    the ‹ 2/3 › branch switcher: `sibling_index` (1-based), `sibling_count`,
    `prev_sibling` and `next_sibling` (ids or None). `rows`: the conversation's
    (pk, parent_id, role), oldest first, if already read."""
    turns = list(turns)
    if not turns:
        return
    if rows is None and all(hasattr(t, "sibling_ids") for t in turns):
        # Known by whoever just stored them (turns.services.start_exchange), oldest first.
        rows = [(pk, t.parent_id, t.role) for t in turns for pk in t.sibling_ids]  # type: ignore[attr-defined]
    if rows is None:
        rows = (
            Turn.objects.filter(conversation_id=turns[0].conversation_id)
            .order_by("created_at", "pk")
            .values_list("pk", "parent_id", "role")
        )
    groups: dict[tuple[int | None, str], list[int]] = {}
    for pk, parent_id, role in rows:
        groups.setdefault((parent_id, role), []).append(pk)
    for t in turns:
        ids = groups.get((t.parent_id, t.role), [t.pk])
        i = ids.index(t.pk) if t.pk in ids else 0
        t.sibling_index = i + 1  # type: ignore[attr-defined]
        t.sibling_count = len(ids)  # type: ignore[attr-defined]
        t.prev_sibling = ids[i - 1] if i > 0 else None  # type: ignore[attr-defined]
        t.next_sibling = ids[i + 1] if i + 1 < len(ids) else None  # type: ignore[attr-defined]


def totals(conversation: Conversation) -> dict[str, Any]:
    """What the whole conversation (every branch) has cost so far."""
    agg = conversation.turns.filter(role=Turn.Role.ASSISTANT).aggregate(
        prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"),
        reasoning=Sum("reasoning_tokens"), cost=Sum("cost"), ms=Sum("duration_ms"),
    )
    return _totals_of(agg["prompt"], agg["completion"], agg["reasoning"], agg["cost"], agg["ms"])


def _totals_of(prompt: Any, completion: Any, reasoning: Any, cost: Any, ms: Any) -> dict[str, Any]:
    return {"tokens": (prompt or 0) + (completion or 0), "reasoning": reasoning or 0, "cost": cost, "ms": ms or 0}


_FINISHED_COLUMNS = ("pk", "parent_id", "role", "prompt_tokens", "completion_tokens", "reasoning_tokens",
                     "cost", "duration_ms", "rating__pk", "rating__value", "rating__note", "rating__updated_at")
_ANY_CONVERSATION = 918273645  # the statement's one parameter while it is compiled
# connection -> (the statement, its compiler, the compiler's converters by column)
_finished_statements: weakref.WeakKeyDictionary[Any, tuple[str, Any, dict[int, Any]]] = weakref.WeakKeyDictionary()


def finished_query(conversation_id: int) -> QuerySet[Turn, tuple[Any, ...]]:
    return (Turn.objects.filter(conversation_id=conversation_id).order_by("created_at", "pk")
            .values_list(*_FINISHED_COLUMNS))


def finished_rows(conversation_id: int) -> list[tuple[Any, ...]]:
    """`finished_query`'s rows, by the ORM's own statement and conversions, compiled
    once per connection: building and compiling the query took ~0.6 ms of the
    finished turn's render, the statement itself ~0.04 ms (issue 23.3). A connection
    belongs to one thread, so each thread compiles its own."""
    connection = connections[router.db_for_read(Turn)]
    known = _finished_statements.get(connection)
    if known is None:
        compiler = finished_query(_ANY_CONVERSATION).query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        if list(params) != [_ANY_CONVERSATION]:  # not the statement expected: no shortcut
            return list(finished_query(conversation_id))
        columns = [selected[0] for selected in compiler.select[: compiler.col_count]]
        known = _finished_statements[connection] = (sql, compiler, compiler.get_converters(columns))
    sql, compiler, converters = known
    with connection.cursor() as cursor:
        cursor.execute(sql, [conversation_id])
        rows = cursor.fetchall()
    if not converters:
        return [tuple(row) for row in rows]
    return [tuple(row) for row in compiler.apply_converters(rows, converters)]


def _finished_context(turn: Turn) -> dict[str, Any]:
    """What a finished turn's render needs besides the turn, in one query over its
    conversation's turns: its siblings (annotated on it), its rating (cached on it)
    and the conversation's totals (summed here as `totals` sums them)."""
    rows = finished_rows(turn.conversation_id)
    annotate_siblings([turn], [row[:3] for row in rows])
    rating = None
    for row in rows:
        if row[0] == turn.pk and row[8] is not None:
            rating = Rating(pk=row[8], turn=turn, value=row[9], note=row[10], updated_at=row[11])
    Turn.rating.related.set_cached_value(turn, rating)  # None: it has none (no query to say so)
    answers = [row for row in rows if row[2] == Turn.Role.ASSISTANT]

    def total(i: int) -> Any:
        values = [row[i] for row in answers if row[i] is not None]
        return sum(values) if values else None  # SUM of no values is NULL

    return _totals_of(total(3), total(4), total(5), total(6), total(7))


# A finished block at least this long, whose text the page already shows exactly, is
# left as the page streamed and rendered it (static/js/stream_markdown.js) rather than
# sent again as HTML: parsing, swapping and laying out a 30k-token thought's render in
# one task froze a throttled page for 300-450 ms (issue 23.5), and the end of a turn
# should change nothing visible (issue 21). A shorter block is rendered here again,
# cheaply, with what only the server adds (Pygments highlighting).
KEEP_STREAMED_CHARS = 8000


def streamed_blocks_to_keep(turn: Turn, shown: tuple[int, int] | None) -> set[str]:
    """Which of a finished turn's blocks ("r", "c") the page may keep as it shows them:
    long, rendered as markdown when finished, and shown whole (`shown`: the lengths the
    page's socket delivered, TurnFollower.shown)."""
    if shown is None or turn.steps:
        return set()
    kept = set()
    if (turn.reasoning and len(turn.reasoning) == shown[0] >= KEEP_STREAMED_CHARS
            and not (turn.model and turn.model.reasoning == "hidden")
            and (turn.params or {}).get("show_reasoning") is not False):
        kept.add("r")
    structured = answer_schema(turn.params or {}) is not None
    if turn.content and len(turn.content) == shown[1] >= KEEP_STREAMED_CHARS and not structured:
        kept.add("c")
    return kept


def render_turn(turn: Turn, *, oob: str = "", kept: set[str] | None = None) -> str:
    if not hasattr(turn, "sibling_count"):
        annotate_siblings([turn])
    html = turn_html(turn, oob, kept or frozenset())
    return html if html is not None else render_turn_template(turn, oob=oob, kept=kept)


def render_turn_template(turn: Turn, *, oob: str = "", kept: set[str] | None = None) -> str:
    """`render_turn` by the template itself (its definition: turn_html builds the common cases)."""
    return render_to_string("chat/_turn.html", {"turn": turn, "oob": oob, "kept": kept or set()})


def render_turn_oob(turn_id: int, shown: tuple[int, int] | None = None) -> str:
    turn = Turn.objects.select_related("model", "model__provider").get(pk=turn_id)
    sums = _finished_context(turn)
    return _finished_html(turn, sums, streamed_blocks_to_keep(turn, shown))


def _finished_html(turn: Turn, sums: dict[str, Any], kept: set[str]) -> str:
    html = render_turn(turn, oob="outerHTML", kept=kept)
    # The conversation totals in the header change when a turn finishes.
    html += totals_html(sums)
    # Screen readers hear the finished turn once, not every streamed fragment.
    html += announce_html(turn)
    return html


# A finished turn's render carried in "turn.done" at most this long; a longer one
# (a long block a socket's page does not show whole, long tool steps) is rendered
# by each socket that needs it, rather than sent through the layer to all of them.
CARRIED_HTML_CHARS = 256 * 1024


def render_finished_once(turn: Turn) -> dict[str, Any]:
    """A finished turn rendered once, by its run, for every chat socket watching it
    ("turn.done"'s `finished`): one render for each set of long blocks a page may
    keep as it streamed them (none, or all those it could keep: `kept_blocks`
    picks a socket's), with the text lengths a socket's page must show to keep them.
    `turn` is the turn as saved (the run's own copy, not read back)."""
    sums = _finished_context(turn)
    lengths = (len(turn.reasoning), len(turn.content))
    keepable = streamed_blocks_to_keep(turn, lengths)
    html = {"": _finished_html(turn, sums, set())}
    if keepable:
        html["".join(sorted(keepable))] = _finished_html(turn, sums, keepable)
    return {"lengths": list(lengths), "keepable": "".join(sorted(keepable)),
            "html": {k: v for k, v in html.items() if len(v) <= CARRIED_HTML_CHARS}}


def carried_finished_html(finished: dict[str, Any] | None, shown: tuple[int, int] | None) -> str | None:
    """A socket's render of a finished turn from what its run carried, if carried:
    the blocks its page keeps are the keepable ones it shows whole (as
    `streamed_blocks_to_keep` decides them from the saved turn)."""
    if not finished:
        return None
    html: dict[str, str] = finished["html"]
    lengths = finished["lengths"]
    if shown is None:
        return html.get("")
    kept = [b for b, i in (("r", 0), ("c", 1)) if b in finished["keepable"] and shown[i] == lengths[i]]
    return html.get("".join(sorted(kept)))


def render_new_exchange(user_turn: Turn | int, turn: Turn | int) -> str:
    """A new prompt and its answer, appended to the chat page's turns. Given the
    turns themselves (just stored), it renders them without fetching them again."""
    if not isinstance(user_turn, Turn) or not isinstance(turn, Turn):
        ids = [t.pk if isinstance(t, Turn) else t for t in (user_turn, turn)]
        by_id = Turn.objects.select_related("model", "model__provider").in_bulk(ids)
        user_turn, turn = by_id[ids[0]], by_id[ids[1]]
    annotate_siblings([user_turn, turn])
    return f'<div hx-swap-oob="beforeend:#turns">{render_turn(user_turn) + render_turn(turn)}</div>'


def render_branch(conversation_id: int, target: str = "turns") -> list[str]:
    """The branch on show, replacing the page's turns (`#target`): after an edit or
    a regeneration, which change the branch above the new answer. As fragments
    that each fit a websocket message (a long turn is cut, see messages.split_turn)."""
    conversation = Conversation.objects.get(pk=conversation_id)
    turns = branch(conversation)
    annotate_siblings(turns)
    return branch_fragments(turns, target)


def branch_fragments(turns: list[Turn], target: str, render: Callable[[Turn], str] = render_turn) -> list[str]:
    out = [f'<div hx-swap-oob="innerHTML:#{target}"></div>']
    for turn in turns:
        out += split_turn(f'<div hx-swap-oob="beforeend:#{target}">{render(turn)}</div>', turn.pk)
    return out


def controls_context(model: ModelProfile | None, current: dict[str, Any]) -> dict[str, Any]:
    """Which controls `model` takes, with the values to show (the conversation's
    defaults where the model accepts them)."""
    if model is None:
        return {"model": None}
    accepted = offer.offer_for(model)
    efforts = list(accepted.efforts)
    effort = current.get("effort")
    thinking = current.get("thinking", "default")
    reasoning = model.reasoning
    return {
        "model": model,
        "thinking_toggle": accepted.thinking_switch,
        # A value the model does not take is not kept: it would only be refused.
        "thinking": thinking if accepted.thinking.get(thinking) is None else "default",
        "thinking_choices": [("default", "Default", None)]
        + [(mode, mode.capitalize(), accepted.thinking.get(mode)) for mode in ("on", "off")],
        "efforts": efforts,
        "effort": effort if effort in efforts else "default",
        "budget": model.supports_budget and accepted.budget,
        "unavailable": offer.unavailable(model, accepted),
        "budget_tokens": current.get("budget_tokens", ""),
        "budget_min": (model.options or {}).get("budget_min_tokens") or 1,
        "budget_max": (model.options or {}).get("budget_max_tokens") or 1_000_000,
        "show_toggle": reasoning not in ("none", "hidden"),
        "show_reasoning": current.get("show_reasoning", True),
        "reasoning_mode": current.get("reasoning_mode", "separate"),
        "max_output_tokens": model.max_output_tokens,
        "max_tokens": current.get("max_tokens", ""),
        "temperature_control": model.supports_temperature,
        # The Tools picker says so too (static/js/playground.js: syncToolsPicker).
        "tools_unavailable": None if offer.takes_tools(model) else offer.NO_TOOLS,
        "temperature": current.get("temperature", ""),
        "system": current.get("system", ""),
        "answer_schema": _schema_text(current.get("answer_schema")),
        "hidden_reasoning": reasoning == "hidden",
    }


def _schema_text(schema: Any) -> str:
    """A stored schema pretty-printed; one just typed (a refused form sent back) as typed."""
    if not schema:
        return ""
    return schema if isinstance(schema, str) else json.dumps(schema, indent=2)


def sent_summary(turn: Turn) -> dict[str, Any]:
    """What the inspector says above the raw request: how many messages went,
    and for each earlier answer with reasoning whether its reasoning was sent."""
    sent = turn.sent or {}
    body = sent.get("body")
    text = json.dumps(body, ensure_ascii=False) if body is not None else ""
    earlier: list[dict[str, Any]] = []
    node = turn.parent
    chain: list[Turn] = []
    while node is not None:
        chain.append(node)
        node = node.parent
    for t in reversed(chain):
        if t.role == Turn.Role.ASSISTANT and t.reasoning.strip():
            probe = t.reasoning.strip()[:60]
            earlier.append({"turn": t, "sent": json.dumps(probe, ensure_ascii=False)[1:-1] in text})
    messages = None
    if isinstance(body, dict):
        for key in ("messages", "input", "contents"):
            if isinstance(body.get(key), list):
                messages = len(body[key])
                break
    return {"messages": messages, "earlier": earlier}
