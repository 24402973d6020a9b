from __future__ import annotations

from typing import Any

from django import template

from playground.models import ApiToken

register = template.Library()


@register.simple_tag
def api_tokens_of(user: Any) -> list[ApiToken]:
    return list(ApiToken.objects.filter(user=user)) if user.is_authenticated else []
