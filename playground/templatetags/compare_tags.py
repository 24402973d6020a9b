from __future__ import annotations

from django import template

from playground.templatetags.playground import secs, usd

register = template.Library()
# Durations and costs read the same on every page: the chat's filters, not a second copy.
register.filter("secs", secs)
register.filter("usd", usd)


@register.filter
def count(n: int | float | None) -> str:
    if n is None:
        return "—"
    return f"{n:,.0f}"


@register.filter
def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.0f}%"
