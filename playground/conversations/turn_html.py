"""A chat turn's HTML built in Python: what `templates/chat/_turn.html` (with its
includes) renders for the chat page's turns, byte for byte, without the template
engine (issue 23.3).

Every chat turn is rendered at least twice on its way: the new exchange when it
starts, the finished turn when it ends. Django's engine resolves each `{{ }}`
and `{% if %}` through its variable lookup, context stack and filters, about 1.1
ms for a finished turn of a few hundred characters (~200 nodes) and 0.5 ms for
an empty streaming one, most of a turn's end on the server. Here the same markup
is a few string joins, each value escaped as the template escapes it
(`django.utils.html.escape`, or a filter's safe output as is) and each filter
called as the template calls it, so what a filter says stays in one place.

Only what the hot path renders is built here: the chat page's turns with no
tool steps, no structured answer and no error, outside a comparison column or a
read-only page. Anything else returns None and the template renders it (the
template stays the one definition; tests/playground/test_turn_html.py holds the
two equal over a range of turns).
"""

from __future__ import annotations

from typing import Any

from django.template.defaultfilters import linebreaksbr, truncatechars
from django.urls import get_script_prefix, reverse
from django.utils.html import escape

from playground.conversations.turn_words import (
    answer_thought_label,
    hides_reasoning,
    icon,
    markdown_in_chunks,
    metrics_line,
    num,
    params_summary,
    rating_of,
    secs,
    status_text,
    tokens_per_second,
    usd,
)
from playground.models import Turn
from playground.streaming.steps import stored_steps
from playground.turns.services import answer_schema

_PK = 918273645  # a turn id no URL pattern contains otherwise: the place of the pk in a reversed URL
_urls: dict[tuple[str, str], tuple[str, str]] = {}


def _url(name: str, pk: int) -> str:
    """`{% url name pk %}`, reversed once per name (and script prefix), not per turn."""
    key = (name, get_script_prefix())
    parts = _urls.get(key)
    if parts is None:
        before, _, after = reverse(name, args=[_PK]).partition(str(_PK))
        parts = _urls[key] = (before, after)
    return f"{parts[0]}{pk}{parts[1]}"


_ICONS = {name: str(icon(name)) for name in ("copy", "thought", "raw", "request", "regenerate", "edit", "sweep",
                                             "thumbs-up", "thumbs-down")}


# An error's explanation, a tool loop paused for a person: the template's.
_BUILT = {Turn.Status.STREAMING, Turn.Status.COMPLETE, Turn.Status.STOPPED, Turn.Status.INTERRUPTED}


def turn_html(turn: Turn, oob: str = "", kept: set[str] | frozenset[str] = frozenset()) -> str | None:
    """`chat/_turn.html` for `turn` as `fragments.render_turn` renders it (siblings
    annotated), or None where that template must render it."""
    if turn.role == Turn.Role.USER:
        return _user_turn(turn, oob)
    if (turn.status not in _BUILT or stored_steps(turn) or getattr(turn, "voted_on", False)
            or (not turn.is_streaming and "c" not in kept and answer_schema(turn.params or {}) is not None)):
        return None
    return _assistant_turn(turn, oob, kept)


def _oob(oob: str) -> str:
    return f' hx-swap-oob="{escape(oob)}"' if oob else ""


def _siblings(turn: Turn) -> str:
    """`chat/_siblings.html`, with its file's last newline."""
    count = turn.sibling_count  # type: ignore[attr-defined]
    if not count > 1:
        return "\n"
    what = "message" if turn.role == Turn.Role.USER else "answer"
    out = [f'<nav class="siblings" aria-label="Branches of this {what}">\n  \n  ']
    for sibling, label, mark in ((turn.prev_sibling, "Previous branch", "‹"),  # type: ignore[attr-defined]
                                 (turn.next_sibling, "Next branch", "›")):  # type: ignore[attr-defined]
        if sibling:
            out.append(
                f'<form ws-send class="inline switch-branch" method="post" action="{_url("switch_branch", sibling)}"'
                f' data-show-branch="{sibling}"><input type="hidden" name="action" value="show">'
                f'<input type="hidden" name="turn" value="{sibling}"><button type="submit" class="tool"'
                f' aria-label="{label}">{mark}</button></form>'
            )
        else:
            out.append(f'<button type="button" class="tool" disabled aria-label="{label}">{mark}</button>')
        if mark == "‹":
            out.append(f'\n  <span class="sibling-pos">{turn.sibling_index}/{count}</span>\n  ')  # type: ignore[attr-defined]
    out.append("\n</nav>\n")
    return "".join(out)


def _user_turn(turn: Turn, oob: str) -> str:
    pk = turn.pk
    return (
        f'\n<article class="turn user" id="turn-{pk}" data-turn="{pk}"{_oob(oob)}>\n'
        f'  <div class="bubble" id="t{pk}-p" tabindex="0">{linebreaksbr(turn.content, autoescape=True)}</div>\n'
        f'  <div class="turn-tools">\n    {_siblings(turn)}\n'
        f'    <button type="button" class="tool icon-button" data-edit="{pk}" aria-label="Edit this message and run'
        f' it again" title="Edit and run again">{_ICONS["edit"]}</button>\n  </div>\n'
        f'  <form class="edit-form" id="edit-{pk}" hidden hx-post="{_url("edit_turn", pk)}" hx-include="#model,'
        f' #controls, #prompt-picker" hx-target="#notice" hx-disabled-elt="find button[type=submit]"'
        f' aria-label="Edit message">\n'
        f'    <label class="visually-hidden" for="edit-prompt-{pk}">Edited message</label>\n'
        f'    <textarea name="prompt" id="edit-prompt-{pk}" rows="3" required>{escape(turn.content)}</textarea>\n'
        f'    <div class="edit-actions"><button type="button" class="secondary" data-edit-cancel="{pk}">Cancel'
        f'</button><button type="submit">Save &amp; run</button></div>\n'
        f"  </form>\n</article>\n\n"
    )


def _assistant_turn(turn: Turn, oob: str, kept: set[str] | frozenset[str]) -> str:
    pk = turn.pk
    status = escape(turn.status)
    streaming = turn.is_streaming
    hidden = hides_reasoning(turn)
    out = [
        f'\n<article class="turn assistant {status}" id="turn-{pk}" data-turn="{pk}" data-status="{status}"',
        f' data-hidden-reasoning="{hidden}"' if hidden else "",
        _oob(oob),
        f'>\n  <header class="turn-meta">\n    <span class="model">{escape(turn.model_label)}</span>',
    ]
    if summary := params_summary(turn):
        out.append(f'<span class="params">{escape(summary)}</span>')
    out += ['\n    <span class="spacer"></span>\n    ', _siblings(turn), "\n    "]
    if streaming:
        out.append(
            f'<form ws-send class="inline stop"><input type="hidden" name="action" value="stop"><input type="hidden"'
            f' name="turn" value="{pk}"><button type="submit" class="stop-button" aria-label="Stop generating (Esc)">'
            "Stop</button></form>"
        )
    out.append("\n  </header>\n  ")
    # chat/_turn_steps.html (no steps: the fast path's condition), then the thought clock.
    out.append(f'<div class="steps" id="t{pk}-steps">\n</div>\n\n  ' if streaming else "\n\n  ")
    if streaming:
        out.append(f'<data class="thought-clock" id="t{pk}-clock" hidden></data>')
    out.append("\n  ")
    if streaming or turn.reasoning or (hidden and turn.reasoning_tokens):
        out.append(_thought(turn, hidden, kept))
    out.append("\n  ")
    if streaming:
        out.append(f'<div class="content streaming" id="t{pk}-c">{escape(turn.content)}</div>\n  ')
    elif "c" in kept:
        out.append(f'<div class="content markdown" id="t{pk}-c" data-streamed'
                   f' data-raw="{_url("turn_raw", pk)}?part=content"></div>\n  ')
    else:
        out.append(f'<div class="content markdown" id="t{pk}-c">{markdown_in_chunks(turn.content)}</div>')
    # chat/_turn_calls.html (no calls), then the status line.
    out.append(f'\n  <div class="tool-calls" id="t{pk}-calls">\n</div>\n\n  ' if streaming else "\n  \n\n  ")
    if turn.status in (Turn.Status.INTERRUPTED, Turn.Status.STOPPED) or turn.finish_reason == "length":
        length = " length" if turn.finish_reason == "length" else ""
        out.append(f'\n  <p class="turn-status {status}{length}" role="status">{escape(status_text(turn))}</p>\n  ')
    out.append("\n  ")
    if not streaming:
        out.append(_footer(turn))
    out.append("\n</article>\n\n")
    return "".join(out)


def _thought(turn: Turn, hidden: str, kept: set[str] | frozenset[str]) -> str:
    pk = turn.pk
    streaming = turn.is_streaming
    out = ['\n  <details class="thought', " hidden-reasoning" if hidden and not turn.reasoning else "", '"',
           " open" if streaming and not turn.content and not hidden else "", ">\n    <summary>"]
    if streaming:
        prefix = "Reasoning (hidden)…" if hidden else "Thinking…"
        started = int(turn.created_at.timestamp() * 1000) if turn.created_at else 0
        thought = f' data-thought-ms="{turn.first_content_ms}"' if turn.first_content_ms is not None else ""
        out.append(f'<span class="thinking-label live" data-started="{started}"{thought} data-prefix="{prefix}">'
                   f"{prefix}</span>")
    else:
        out.append(f'<span class="thought-label">{escape(answer_thought_label(turn))}</span>')
    out.append("</summary>\n    \n    ")
    if streaming:
        out.append(f'<div class="reasoning streaming" id="t{pk}-r" tabindex="0">{escape(turn.reasoning)}</div>\n    ')
    elif "r" in kept:
        out.append(f'<div class="reasoning markdown" id="t{pk}-r" tabindex="0" data-streamed'
                   f' data-raw="{_url("turn_raw", pk)}?part=reasoning"></div>\n    ')
    elif turn.reasoning:
        out.append(f'<div class="reasoning markdown" id="t{pk}-r" tabindex="0">'
                   f"{markdown_in_chunks(turn.reasoning)}</div>\n    ")
    else:
        why = ("The provider reasoned before answering but does not return its reasoning, only how many tokens it"
               " used." if hidden == "provider" else "Reasoning was not requested for this turn (Controls →"
               " Reasoning: Hidden); only its token count is shown.")
        out.append(f'<div class="reasoning" id="t{pk}-r"><p class="muted">{why}</p></div>')
    out.append("\n  </details>\n  ")
    return "".join(out)


def _footer(turn: Turn) -> str:
    pk = turn.pk
    raw = _url("turn_raw", pk)
    out = ['\n  <footer class="turn-foot">\n'
           '    <div class="turn-tools" role="toolbar" aria-label="Turn actions">\n      ']
    if turn.content:
        out.append(f'<button type="button" class="tool icon-button" data-copy="{raw}?part=content" aria-label="Copy'
                   f' answer" title="Copy answer">{_ICONS["copy"]}</button>')
    out.append("\n      ")
    if turn.reasoning:
        out.append(f'<button type="button" class="tool icon-button" data-copy="{raw}?part=reasoning"'
                   f' aria-label="Copy reasoning" title="Copy reasoning">{_ICONS["thought"]}</button>')
    out.append("\n      ")
    if turn.parent_id:
        out.append(f'<button type="button" class="tool icon-button" hx-post="{_url("regenerate", pk)}"'
                   ' hx-include="#model, #controls, #prompt-picker" hx-target="#notice" hx-disabled-elt="this"'
                   ' aria-label="Regenerate" title="Regenerate: answer the same prompt again with the model and'
                   f' controls in the composer">{_ICONS["regenerate"]}</button>')
    out.append(
        f'\n      <button type="button" class="tool icon-button" hx-get="{raw}" hx-target="body" hx-swap="beforeend"'
        f' aria-label="Raw output of turn {pk}" title="Raw output">{_ICONS["raw"]}</button>\n'
        f'      <button type="button" class="tool icon-button" hx-get="{_url("turn_request", pk)}" hx-target="body"'
        f' hx-swap="beforeend" aria-label="Request sent for turn {pk}" title="Request sent (context inspector)">'
        f'{_ICONS["request"]}</button>\n      '
    )
    if turn.parent_id and turn.model_id and turn.role == Turn.Role.ASSISTANT:
        out.append(f'<a class="tool icon-button sweep-link" href="{_sweep_url()}?turn={pk}" aria-label="Sweep'
                   ' efforts…" title="Sweep efforts: ask this prompt again at every thinking level, a few times'
                   f' each, and grade the answers">{_ICONS["sweep"]}</a>')
    out += ["\n      ", _rating(turn), "\n    </div>\n    "]
    if line := metrics_line(turn):
        out.append(_metrics(turn, line))
    out.append("\n  </footer>\n  ")
    return "".join(out)


def _sweep_url() -> str:
    key = ("sweep_new", get_script_prefix())
    parts = _urls.get(key)
    if parts is None:
        parts = _urls[key] = (reverse("sweep_new"), "")
    return parts[0]


def _rating(turn: Turn) -> str:
    """`chat/_rating.html`, with its file's last newline."""
    pk = turn.pk
    rating = rating_of(turn)
    value = rating.value if rating is not None else None
    note = escape(rating.note) if rating is not None else ""
    rate = _url("rate_turn", pk)

    def button(v: int, name: str, label: str) -> str:
        chosen = value == v
        return (f'<button type="submit" name="value" value="{v}" class="tool icon-button{" chosen" if chosen else ""}"'
                f' aria-pressed="{"true" if chosen else "false"}" aria-label="{label}">{_ICONS[name]}</button>')

    clear = ('<button type="submit" name="value" value="0" class="tool link" aria-label="Remove rating">Clear</button>'
             if rating else "")
    return (
        f'<form class="rating inline" id="rating-{pk}" hx-post="{rate}" hx-target="this" hx-swap="outerHTML"'
        f' action="{rate}" method="post" aria-label="Rate the answer of turn {pk}">\n'
        f'  {button(1, "thumbs-up", "Good answer")}\n  {button(-1, "thumbs-down", "Bad answer")}\n'
        f'  <label class="visually-hidden" for="rating-note-{pk}">Note</label>\n'
        f'  <input type="text" name="note" id="rating-note-{pk}" maxlength="2000" placeholder="Note (optional)"'
        f' value="{note}">\n  {clear}\n</form>\n'
    )


def _metrics(turn: Turn, line: str) -> str:
    out = [f'\n    <details class="metrics-more">\n      <summary class="metrics-line" title="Show every metric">'
           f'{escape(line)}</summary>\n      <dl class="metrics" aria-label="Metrics">\n        ']
    if turn.first_reasoning_ms is not None:
        out.append('<div><dt>First thought</dt><dd data-metric="first-reasoning">'
                   f"{escape(secs(turn.first_reasoning_ms))}</dd></div>")
    out.append("\n        ")
    if turn.first_content_ms is not None:
        out.append(f'<div><dt>First answer</dt><dd data-metric="first-content">{escape(secs(turn.first_content_ms))}'
                   "</dd></div>")
    out.append("\n        ")
    if turn.thinking_ms is not None:
        out.append(f'<div><dt>Thinking</dt><dd data-metric="thinking">{escape(secs(turn.thinking_ms))}</dd></div>')
    out.append("\n        ")
    if turn.answer_tokens_per_second:
        out.append(f'<div><dt>Answer speed</dt><dd data-metric="speed">{escape(tokens_per_second(turn))}</dd></div>')
    out.append("\n        ")
    if turn.completion_tokens is not None or turn.prompt_tokens is not None:
        if turn.reasoning_tokens is not None:
            about = ('<span title="estimated from the reasoning text: the provider reported no count">≈ </span>'
                     if turn.reasoning_tokens_estimated else "")
            reasoning = f"{about}{escape(num(turn.reasoning_tokens))}"
        else:
            reasoning = "unknown" if turn.reasoning else "0"
        answer = turn.answer_tokens
        answered = escape(num(answer)) if answer is not None else "unknown"
        out.append(f'<div><dt>Tokens</dt><dd data-metric="tokens">{escape(num(turn.prompt_tokens))} in · {reasoning}'
                   f" reasoning · {answered} answer</dd></div>")
    out.append("\n        ")
    if turn.cost is not None:
        out.append(f'<div><dt>Cost</dt><dd data-metric="cost">{escape(usd(turn.cost))}</dd></div>')
    out.append("\n        ")
    if turn.duration_ms is not None:
        out.append(f'<div><dt>Total</dt><dd data-metric="duration">{escape(secs(turn.duration_ms))}</dd></div>')
    out.append("\n      </dl>\n    </details>")
    return "".join(out)


def totals_html(totals: dict[str, Any]) -> str:
    """`chat/_totals.html` with `oob` (the header's totals after a turn ends)."""
    out = ['<p class="totals" id="conv-totals" hx-swap-oob="outerHTML" aria-label="Conversation totals">']
    if totals["tokens"] or totals["ms"]:
        out.append(f'<span data-total="tokens">{escape(num(totals["tokens"]))} tokens</span>')
        if totals["reasoning"]:
            out.append(f" <span>({escape(num(totals['reasoning']))} reasoning)</span>")
        if totals["cost"] is not None:
            out.append(f' · <span data-total="cost">{escape(usd(totals["cost"]))}</span>')
        out.append(f' · <span data-total="time">{escape(secs(totals["ms"]))}</span>')
    out.append("</p>\n")
    return "".join(out)


_SAID: dict[str, str] = {
    Turn.Status.COMPLETE: "answered", Turn.Status.STOPPED: "was stopped", Turn.Status.ERROR: "failed",
}


def announce_html(turn: Turn) -> str:
    """`chat/_announce.html` outside a comparison column (no `column`)."""
    said = _SAID.get(turn.status, "was interrupted")
    content = f": {escape(truncatechars(turn.content, 160))}" if turn.content else "."
    return (f'<div hx-swap-oob="beforeend:#announcer"><p>{escape(turn.model_label or "The model")} {said}'
            f"{content}</p></div>\n")
