from __future__ import annotations

from typing import Any

from django import template

from playground.models import UserProviderKey
from playground.turns import keys

register = template.Library()


@register.simple_tag
def provider_keys_of(user: Any) -> dict[str, Any]:
    """The settings page's key section: off, or each provider with the user's key and its usage."""
    if not keys.enabled() or not user.is_authenticated:
        return {"enabled": False}
    own = {k.provider_id: k for k in UserProviderKey.objects.filter(user=user)}
    usage = keys.usage_by_key(user)
    rows = []
    for provider in keys.providers_for_keys():
        key = own.get(provider.pk)
        rows.append({"provider": provider, "key": key, "usage": usage.get(key.pk) if key else None})
    return {"enabled": True, "required": keys.mode() == "required", "rows": rows}
