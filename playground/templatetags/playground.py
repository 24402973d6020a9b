from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from playground import markdown as md
from playground.conversations.turn_words import (
    CHUNKED_FROM_CHARS,
    epoch_ms,
    hides_reasoning,
    icon,
    markdown_in_chunks,
    metrics_line,
    num,
    params_summary,
    seconds,
    secs,
    status_text,
    thought_label,
    tokens_per_second,
    usd,
)
from playground.models import Preferences, Turn

# Other modules and the tests know these by this module's name.
__all__ = [
    "CHUNKED_FROM_CHARS",
    "epoch_ms",
    "hides_reasoning",
    "icon",
    "markdown_in_chunks",
    "metrics_line",
    "num",
    "params_summary",
    "seconds",
    "secs",
    "status_text",
    "thought_label",
    "tokens_per_second",
    "usd",
]

register = template.Library()
# Defined with the turns built in Python (playground.conversations.turn_words), said once.
for _filter in (markdown_in_chunks, secs, hides_reasoning, thought_label, metrics_line, epoch_ms, usd,
                tokens_per_second, params_summary, status_text, num):
    register.filter(_filter.__name__, _filter)
register.simple_tag(icon)


@register.filter
def markdown(text: str) -> SafeString:
    # Safe because playground.markdown escapes raw HTML and sanitises the result.
    return mark_safe(md.render(text))


@register.simple_tag(takes_context=True)
def user_preferences(context: template.Context) -> Preferences | None:
    """The signed-in user's preferences (theme, Enter sends), or None on the login page."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return Preferences.of(user)


@register.filter
def control_offer(model: Any) -> dict[str, Any]:
    """What a model takes, as data attributes for a compare column's controls."""
    from playground.turns.offer import NO_BUDGET, NO_TEMPERATURE, offer_for

    accepted = offer_for(model)
    return {
        "efforts": ",".join(accepted.efforts),
        "no_on": accepted.thinking.get("on") or "",
        "no_off": accepted.thinking.get("off") or "",
        "no_budget": "" if model.supports_budget and accepted.budget else accepted.budget_reason or NO_BUDGET,
        "no_temperature": "" if model.supports_temperature else NO_TEMPERATURE,
    }


@register.simple_tag(takes_context=True)
def turn_error(context: Any, turn: Turn) -> dict[str, Any]:
    """A failed turn in words for a person (playground.conversations.turn_errors)."""
    from playground.conversations.turn_errors import explain

    user = context.get("user")
    # Rendered for a socket there is no user in the context: the settings link is
    # shown, and the admin page itself turns away anyone who is not staff.
    return explain(turn, staff=user is None or bool(getattr(user, "is_staff", False)))


@register.filter
def model_family(model: Any) -> str:
    """The catalogue family a model belongs to ("Claude 5", "gpt-oss at Baseten"), for
    the model picker's search; "" when only the kind's default matched."""
    from reasoning import catalogue

    caps = catalogue.capabilities(model.provider.kind, model.model_id, model.provider.base_url)
    family = caps.family if caps is not None else ""
    return "" if family.endswith(" default") else family


@register.simple_tag(takes_context=True)
def favourite_models(context: template.Context) -> str:
    """The signed-in user's starred models as "3,7", for the model picker."""
    # base.html has already read them (as `prefs`): no query per picker.
    preferences = context.get("prefs")
    if not isinstance(preferences, Preferences):
        preferences = user_preferences(context)
    starred = preferences.favourite_models if preferences is not None else []
    return ",".join(str(m) for m in starred if isinstance(m, int))
