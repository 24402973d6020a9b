"""A provider's model list: the tiny request behind the admin's "Test connection"
and "Fetch models".

    ids = await list_models(config, client)     # ProviderError with the provider's message

One GET per kind, to the configured base URL (or the kind's public default) with the
configured key, nothing else:

| kind | request | ids from |
|---|---|---|
| openai, openai-responses | `GET {base}/models` | `data[].id` |
| anthropic | `GET {base}/v1/models` (`x-api-key`, `anthropic-version`) | `data[].id` |
| gemini | `GET {base}/v1beta/models` (`x-goog-api-key`) | `models[].name` without `models/` |
| ollama | `GET {base}/api/tags` | `models[].name` |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from reasoning.adapters import base_url
from reasoning.errors import BadRequest, BrokenStream
from reasoning.request import PreparedRequest, ProviderConfig
from reasoning.wire import open_stream


def _openai(base: str, key: str, headers: dict[str, str]) -> PreparedRequest:
    if key:
        headers["authorization"] = f"Bearer {key}"
    return PreparedRequest("GET", f"{base}/models", headers, None)


def _anthropic(base: str, key: str, headers: dict[str, str]) -> PreparedRequest:
    headers["anthropic-version"] = "2023-06-01"
    if key:
        headers["x-api-key"] = key
    root = base.removesuffix("/v1")
    return PreparedRequest("GET", f"{root}/v1/models", headers, None)


def _gemini(base: str, key: str, headers: dict[str, str]) -> PreparedRequest:
    if key:
        headers["x-goog-api-key"] = key
    root = base if base.endswith(("/v1beta", "/v1", "/v1alpha")) else f"{base}/v1beta"
    return PreparedRequest("GET", f"{root}/models", headers, None)


def _ollama(base: str, key: str, headers: dict[str, str]) -> PreparedRequest:
    if key:
        headers["authorization"] = f"Bearer {key}"
    root = base.removesuffix("/v1").removesuffix("/api")
    return PreparedRequest("GET", f"{root}/api/tags", headers, None)


# One entry per provider kind: its model-list request from (base URL, key, headers).
MODEL_LISTS: dict[str, Callable[[str, str, dict[str, str]], PreparedRequest]] = {
    "openai": _openai,
    "openai-responses": _openai,
    "anthropic": _anthropic,
    "gemini": _gemini,
    "ollama": _ollama,
}


def models_request(config: ProviderConfig) -> PreparedRequest:
    """The GET that lists the provider's models (see the module docstring)."""
    kind, base = config.kind, base_url(config.kind, config.base_url)
    headers: dict[str, str] = {"accept": "application/json", **dict(config.options.get("headers", {}))}
    if kind not in MODEL_LISTS:
        raise BadRequest(f"provider kind {kind!r} has no model list")
    return MODEL_LISTS[kind](base, config.api_key, headers)


async def list_models(config: ProviderConfig, client: httpx.AsyncClient) -> list[str]:
    """The model ids the provider lists, in its order; raises the matching
    `ProviderError` (auth, not found, unavailable, …) with the provider's message."""
    prepared = models_request(config)
    async with open_stream(client, prepared) as response:
        raw = await response.aread()
    try:
        body: Any = httpx.Response(200, content=raw).json()
    except ValueError:
        raise BrokenStream(f"the model list is not JSON: {raw[:200]!r}") from None
    entries = body.get("data") if isinstance(body, dict) and "data" in body else None
    if entries is None and isinstance(body, dict):
        entries = body.get("models")
    if not isinstance(entries, list):
        raise BrokenStream("the model list has neither data[] nor models[]")
    ids: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        value = entry.get("id") or entry.get("name") or entry.get("model")
        if isinstance(value, str) and value:
            ids.append(value.removeprefix("models/"))
    return ids
