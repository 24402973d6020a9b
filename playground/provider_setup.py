"""Connecting a provider: list its models with its stored key, say what went wrong
in the provider's own words, add the listed models as profiles with the catalogue's
defaults. Shared by the admin's actions and the Providers page (playground.providers)."""

from __future__ import annotations

from collections.abc import Iterable

import httpx
from asgiref.sync import async_to_sync

from playground.models import ModelProfile, Provider
from reasoning import catalogue
from reasoning.errors import ProviderError
from reasoning.model_list import list_models


def listed_models(provider: Provider) -> list[str]:
    """The provider's model list, fetched with its stored key from its stored URL."""

    async def fetch() -> list[str]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(15.0)) as client:
            return await list_models(provider.config(), client)

    return async_to_sync(fetch)()


def problem(provider: Provider, error: Exception) -> str:
    """The provider's own message, the key blanked out should it echo it."""
    if isinstance(error, ProviderError):
        text = f"{error.kind}" + (f", HTTP {error.status_code}" if error.status_code else "") + f": {error.message}"
    else:
        text = str(error)
    try:
        key = provider.config().api_key
    except ValueError:
        key = ""
    return text.replace(key, "[key]") if key else text


def add_profiles(provider: Provider, ids: Iterable[str], *, enabled: bool = True) -> list[ModelProfile]:
    """A profile for each listed id the provider has none for, filled from the catalogue."""
    known = set(provider.models.values_list("model_id", flat=True))
    new = [i for i in ids if i not in known]
    added = []
    for position, model_id in enumerate(new, start=provider.models.count()):
        label = model_id[:100]
        if ModelProfile.objects.filter(label=label).exists():
            label = f"{model_id} ({provider.name})"[:100]
        fields = catalogue.fill(provider.kind, model_id, {}, provider.base_url, provider.effective_gateway)
        added.append(
            ModelProfile.objects.create(
                provider=provider, model_id=model_id, label=label, position=position, enabled=enabled, **fields
            )
        )
    return added
