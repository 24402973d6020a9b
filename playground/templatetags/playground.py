from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from playground import markdown as md
from playground.models import Turn

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    # Safe because playground.markdown escapes raw HTML and sanitises the result.
    return mark_safe(md.render(text))


def seconds(ms: int | None) -> str:
    return f"{(ms or 0) / 1000:.1f} s"


@register.filter
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


@register.filter
def hides_reasoning(turn: Turn) -> str:
    """Why this turn has no reasoning text to show: "provider", "setting" or ""."""
    if turn.model and turn.model.reasoning == "hidden":
        return "provider"
    if (turn.params or {}).get("show_reasoning") is False:
        return "setting"
    return ""


@register.filter
def thought_label(turn: Turn) -> str:
    hidden = hides_reasoning(turn)
    if hidden and not turn.reasoning:
        label = "Reasoning hidden by the provider" if hidden == "provider" else "Reasoning not shown (your setting)"
        if turn.reasoning_tokens:
            label += f" · {turn.reasoning_tokens:,} tokens"
        if wait := turn.thinking_ms or turn.first_content_ms:
            label += f" · {seconds(wait)}"
        return label
    label = f"Thought for {seconds(turn.thinking_ms)}"
    if turn.reasoning_tokens:
        label += f" · {turn.reasoning_tokens:,} reasoning tokens"
    return label


@register.filter
def epoch_ms(value: Any) -> int:
    return int(value.timestamp() * 1000) if value else 0


@register.filter
def usd(value: Decimal | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "$0"
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


@register.filter
def tokens_per_second(turn: Turn) -> str:
    rate = turn.answer_tokens_per_second
    return f"{rate:,.0f} tok/s" if rate else "—"


@register.filter
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


@register.filter
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


@register.filter
def num(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"
