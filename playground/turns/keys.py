"""Per-user provider keys (USER_PROVIDER_KEYS, docs/operating.md "Per-user provider keys").

off       every turn runs on the admin's key (the default);
optional  a user may add their own key for a provider; their turns use it, others'
          never do; without one, the admin's key;
required  turns on a provider other than the offline simulator need the user's own key.

Which key paid is stored on the turn (`key_source`, `user_key`), so usage and cost add
up per key.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, Sum

from playground.models import Provider, UserProviderKey

MODES = ("off", "optional", "required")
NEEDS_NO_KEY = {"simulator"}


class MissingKey(ValueError):
    pass


def mode() -> str:
    return str(getattr(settings, "USER_PROVIDER_KEYS", "off"))


def enabled() -> bool:
    return mode() != "off"


def key_for(owner_id: Any, provider: Provider) -> UserProviderKey | None:
    """The key `owner_id`'s turns on `provider` run with: theirs, or None for the admin's."""
    if not enabled():
        return None
    key = UserProviderKey.objects.filter(user_id=owner_id, provider=provider).select_related("provider").first()
    if key is None and mode() == "required" and provider.kind not in NEEDS_NO_KEY:
        raise MissingKey(f"Add your own key for {provider.name} in Settings: this site runs on users' keys.")
    return key


def providers_for_keys() -> list[Provider]:
    return [p for p in Provider.objects.filter(enabled=True) if p.kind not in NEEDS_NO_KEY]


def usage_by_key(user: Any) -> dict[int, dict[str, Any]]:
    """Per key of `user`: turns, tokens and cost of the turns it paid for."""
    rows = (
        UserProviderKey.objects.filter(user=user)
        .annotate(
            n_turns=Count("turns"),
            input_tokens=Sum("turns__prompt_tokens"),
            output_tokens=Sum("turns__completion_tokens"),
            reasoning_tokens=Sum("turns__reasoning_tokens"),
            total_cost=Sum("turns__cost"),
        )
        .values("pk", "n_turns", "input_tokens", "output_tokens", "reasoning_tokens", "total_cost")
    )
    return {row["pk"]: dict(row) for row in rows}
