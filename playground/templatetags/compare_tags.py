from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def secs(ms: int | None) -> str:
    """Milliseconds as seconds for a metrics table; "—" when not measured."""
    if ms is None:
        return "—"
    return f"{ms / 1000:.2f} s"


@register.filter
def count(n: int | float | None) -> str:
    if n is None:
        return "—"
    return f"{n:,.0f}"


@register.filter
def usd(value: Decimal | float | None) -> str:
    if value is None:
        return "—"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


@register.filter
def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.0f}%"
