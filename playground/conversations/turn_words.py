"""What a chat turn's markup says in words and figures: the filters of the chat
templates (registered as such by playground.templatetags) and of the turns built
in Python (turn_html), defined once for both."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from playground import markdown as md
from playground.models import Turn
from playground.streaming import steps
from playground.streaming.messages import top_level_pieces

# A long text's render comes in chunks of its top-level blocks (.md-chunk, content-visibility:
# auto, as the page renders while streaming): opening a reloaded 30k-token thought styled,
# laid out and painted all of it in one task (330 ms of CPU, over a second at a 4x throttle);
# now only the chunks in view. Short texts render as they always did.
CHUNKED_FROM_CHARS = 8000
CHUNK_HTML_CHARS = 4000


def markdown_in_chunks(text: str) -> SafeString:
    html = md.render(text)
    if len(text) < CHUNKED_FROM_CHARS:
        return mark_safe(html)
    # Cut only between top-level elements of the sanitised HTML: each piece is whole.
    pieces = top_level_pieces(html, CHUNK_HTML_CHARS)
    return mark_safe("".join(f'<div class="md-chunk">{piece}</div>' for piece in pieces))


def seconds(ms: int | None) -> str:
    """Milliseconds as "2.4 s", halves rounded up, in whole numbers: the thought label's
    live figure (playground.js tenthsOfSeconds) rounds the same milliseconds alike, so the
    two never differ by a tenth (a float's 2.25 is "2.2" in Python, "2.3" in JS)."""
    tenths = (int(ms or 0) + 50) // 100
    return f"{tenths // 10}.{tenths % 10} s"


def secs(ms: int | None) -> str:
    """Milliseconds as "0.31 s" below ten seconds, "12.4 s" above, "3 min 5 s" past a minute."""
    if ms is None:
        return "—"
    s = ms / 1000
    if s < 10:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.1f} s"
    return f"{int(s // 60)} min {int(s % 60)} s"


def hides_reasoning(turn: Turn) -> str:
    """Why this turn has no reasoning text to show: "provider", "setting" or ""."""
    if turn.model and turn.model.reasoning == "hidden":
        return "provider"
    if (turn.params or {}).get("show_reasoning") is False:
        return "setting"
    return ""


def about(turn: Turn) -> str:
    """"≈ " before a reasoning count we estimated (the provider reported none)."""
    return "≈ " if turn.reasoning_tokens_estimated else ""


def thought_label(turn: Turn) -> str:
    hidden = hides_reasoning(turn)
    if hidden and not turn.reasoning:
        label = "Reasoning hidden by the provider" if hidden == "provider" else "Reasoning not shown (your setting)"
        if turn.reasoning_tokens:
            label += f" · {about(turn)}{turn.reasoning_tokens:,} tokens"
        if wait := turn.thinking_ms or turn.first_content_ms:
            label += f" · {seconds(wait)}"
        return label
    thought_ms = thinking_time_ms(turn)
    label = f"Thought for {seconds(thought_ms)}" if thought_ms is not None else "Thought"
    if turn.reasoning_tokens:
        label += f" · {about(turn)}{turn.reasoning_tokens:,} reasoning tokens"
    elif turn.reasoning and turn.status != Turn.Status.COMPLETE:
        # A stopped run got no usage from the provider: say what it used, estimated.
        label += f" · ~{estimated_tokens(turn.reasoning):,} reasoning tokens (estimated)"
    if turn.status in (Turn.Status.STOPPED, Turn.Status.INTERRUPTED):
        label += f" ({turn.get_status_display().lower()})"
    return label


def estimated_tokens(text: str) -> int:
    """About four characters a token: for runs the provider never reported usage for."""
    return max(1, round(len(text) / 4)) if text else 0


def thinking_time_ms(turn: Turn) -> int | None:
    """How long the turn thought. A run that died never wrote it: its last
    checkpoint is the latest moment it is known to have been alive."""
    if turn.thinking_ms is not None:
        return turn.thinking_ms
    if turn.first_content_ms is not None:
        return turn.first_content_ms
    if turn.status == Turn.Status.INTERRUPTED and turn.heartbeat_at and turn.created_at:
        return max(0, int((turn.heartbeat_at - turn.created_at).total_seconds() * 1000))
    return None


def metrics_line(turn: Turn) -> str:
    """The metrics folded into one line: total time, tokens, speed, cost."""
    parts = []
    if turn.duration_ms is not None:
        parts.append(secs(turn.duration_ms))
    tokens = (turn.prompt_tokens or 0) + (turn.completion_tokens or 0)
    if tokens:
        parts.append(f"{tokens:,} tokens")
    elif turn.status != Turn.Status.COMPLETE and (turn.reasoning or turn.content):
        parts.append(f"~{estimated_tokens(turn.reasoning + turn.content):,} tokens (estimated)")
    if turn.answer_tokens_per_second:
        parts.append(tokens_per_second(turn))
    if turn.cost is not None:
        parts.append(usd(turn.cost))
    return " · ".join(parts)


def epoch_ms(value: Any) -> int:
    return int(value.timestamp() * 1000) if value else 0


def usd(value: Decimal | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "$0"
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def tokens_per_second(turn: Turn) -> str:
    rate = turn.answer_tokens_per_second
    return f"{rate:,.0f} tok/s" if rate else "—"


def params_summary(turn: Turn) -> str:
    """The controls a turn ran with, in a few words ("thinking on · effort high")."""
    p = turn.params or {}
    parts = [f"prompt “{p['prompt_name']}”"] if p.get("prompt_name") else []
    if p.get("thinking") in ("on", "off"):
        parts.append(f"thinking {p['thinking']}")
    if p.get("effort"):
        parts.append(f"effort {p['effort']}")
    if p.get("budget_tokens"):
        parts.append(f"budget {p['budget_tokens']:,}")
    if p.get("max_tokens"):
        parts.append(f"max {p['max_tokens']:,}")
    if p.get("temperature") is not None:
        parts.append(f"temp {p['temperature']:g}")
    if p.get("system"):
        parts.append("system prompt")
    return " · ".join(parts)


def status_text(turn: Turn) -> str:
    error = turn.error or {}
    if turn.status == Turn.Status.STOPPED:
        return "Stopped. The text so far is kept."
    if turn.status == Turn.Status.INTERRUPTED:
        return "Interrupted: the server stopped while this turn was streaming. The text so far is kept."
    if turn.status == Turn.Status.ERROR:
        text = f"Error ({error.get('kind', 'unknown')}"
        if error.get("status_code"):
            text += f", HTTP {error['status_code']}"
        text += f"): {error.get('message', '')}"
        if error.get("retry_after"):
            text += f" Retry after {error['retry_after']} s."
        return text
    if turn.finish_reason == "length":
        if turn.content:
            return "Stopped at the token limit."
        return "Ran out of tokens while thinking: no answer was produced."
    return ""


def num(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


# Icon outlines (24-unit grid, stroked): the turn and sidebar actions. Static markup,
# so an icon costs no request and no script.
_ICONS = {
    "copy": '<rect x="9" y="9" width="12" height="12" rx="2"/>'
    '<path d="M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1"/>',
    "thought": '<path d="M9 18h6M10 22h4"/><path d="M12 2a7 7 0 0 0-4 12.7V16h8v-1.3A7 7 0 0 0 12 2z"/>',
    "raw": '<polyline points="16 18 22 12 16 6"/><polyline points="8 6 2 12 8 18"/>',
    "request": '<path d="M22 2 11 13"/><path d="M22 2 15 22l-4-9-9-4 20-7z"/>',
    "regenerate": '<path d="M23 4v6h-6"/><path d="M20.5 15a9 9 0 1 1-2.1-9.4L23 10"/>',
    "edit": '<path d="M12 20h9"/><path d="M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z"/>',
    "more": '<circle cx="5" cy="12" r="1.5"/><circle cx="12" cy="12" r="1.5"/><circle cx="19" cy="12" r="1.5"/>',
    "pin": '<path d="M12 17v5"/><path d="M8 3h8l-1 7 3 4H6l3-4z"/>',
    "share": '<circle cx="18" cy="5" r="3"/><circle cx="6" cy="12" r="3"/><circle cx="18" cy="19" r="3"/>'
    '<path d="m8.6 13.5 6.8 4M15.4 6.5l-6.8 4"/>',
    "down": '<path d="M12 5v14"/><path d="m19 12-7 7-7-7"/>',
    # Rising bars: the same prompt at each thinking level.
    "sweep": '<path d="M4 20h16"/><path d="M6 20v-4M11 20v-8M16 20V6"/>',
    "thumbs-up": '<path d="M7 10v12"/>'
    '<path d="M15 5.9 14 10h5.8a2 2 0 0 1 2 2.3l-1.4 8A2 2 0 0 1 18.4 22H7V10l4-8a3 3 0 0 1 4 3.9z"/>',
    "thumbs-down": '<path d="M17 14V2"/>'
    '<path d="M9 18.1 10 14H4.2a2 2 0 0 1-2-2.3l1.4-8A2 2 0 0 1 5.6 2H17v12l-4 8a3 3 0 0 1-4-3.9z"/>',
}


def icon(name: str) -> SafeString:
    return mark_safe(  # the markup is the constant above
        '<svg class="icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false" '
        'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
        f"{_ICONS[name]}</svg>"
    )


def answer_thought_label(turn: Any) -> str:
    """The label of a finished turn's own thought block. In a tool loop the turn's
    timings run from its first step, so no duration is claimed for the last step's thought."""
    if not steps.stored_steps(turn):
        return thought_label(turn)
    label = "Thought"
    if turn.reasoning_tokens:
        label += f" · {turn.reasoning_tokens:,} reasoning tokens in all steps"
    return label


def rating_of(turn: Turn) -> Any:
    try:
        return turn.rating
    except Turn.rating.RelatedObjectDoesNotExist:
        return None
