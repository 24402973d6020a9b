"""Provider adapters and the registry that maps a provider kind to one.

An adapter has two methods:

* `prepare(request) -> PreparedRequest`: the exact HTTP request it would send
  (used by the context inspector and by tests of the request body);
* `stream(request, client) -> AsyncIterator[Event]`: sends it with the injected
  `httpx.AsyncClient` and yields `reasoning.events`, raising `ProviderError`s.

Adapters register themselves with `@register("kind")`; `get_adapter` imports the
built-in modules lazily so importing `reasoning` stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from typing import Protocol, TypeVar

import httpx

from reasoning.errors import BadRequest
from reasoning.events import Event
from reasoning.request import ChatRequest, PreparedRequest


class Adapter(Protocol):
    def prepare(self, request: ChatRequest) -> PreparedRequest: ...

    def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]: ...


# kind -> module that registers it
BUILTIN: dict[str, str] = {
    "openai": "reasoning.adapters.openai_compat",
    "openai-responses": "reasoning.adapters.openai_responses",
    "anthropic": "reasoning.adapters.anthropic",
    "gemini": "reasoning.adapters.gemini",
    "ollama": "reasoning.adapters.ollama",
    "simulator": "reasoning.simulator",
}
PROVIDER_KINDS: tuple[str, ...] = tuple(BUILTIN)

# What an empty base URL means, per kind: the provider's public API root.
DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "openai-responses": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "ollama": "http://localhost:11434",
    "simulator": "",
}


def base_url(kind: str, configured: str) -> str:
    """The configured base URL, or the kind's public default when it is empty."""
    return (configured.strip() or DEFAULT_BASE_URLS.get(kind, "")).rstrip("/")


def prepare_or_refuse(adapter: Adapter, request: ChatRequest) -> PreparedRequest:
    """`adapter.prepare(request)`, a refusal found while building it (an
    `UnsupportedControl`, a field the provider cannot take: any ValueError) raised as
    the one `BadRequest` every adapter's `stream` gives, before anything is sent.
    `parameter` names the control at fault where the refusal said it."""
    try:
        return adapter.prepare(request)
    except ValueError as exc:
        refused = BadRequest(str(exc))
        refused.parameter = getattr(exc, "parameter", None)
        raise refused from None


_registry: dict[str, Adapter] = {}
A = TypeVar("A")


def register(kind: str) -> Callable[[type[A]], type[A]]:
    def deco(cls: type[A]) -> type[A]:
        _registry[kind] = cls()  # type: ignore[assignment]
        return cls

    return deco


def get_adapter(kind: str) -> Adapter:
    if kind not in _registry and kind in BUILTIN:
        importlib.import_module(BUILTIN[kind])
    try:
        return _registry[kind]
    except KeyError:
        raise KeyError(f"unknown provider kind {kind!r}; known: {', '.join(PROVIDER_KINDS)}") from None
