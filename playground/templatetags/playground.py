from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from playground import markdown as md
from playground.models import Turn

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    # Safe because playground.markdown escapes raw HTML and sanitises the result.
    return mark_safe(md.render(text))  # noqa: S308


def seconds(ms: int | None) -> str:
    return f"{(ms or 0) / 1000:.1f} s"


@register.filter
def thought_label(turn: Turn) -> str:
    label = f"Thought for {seconds(turn.thinking_ms)}"
    if turn.reasoning_tokens:
        label += f" · {turn.reasoning_tokens:,} reasoning tokens"
    return label


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
