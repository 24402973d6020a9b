"""A failed turn explained to a person: what happened, what to do, and the provider's
own words and the technical detail kept for "Details" (chat/_turn_error.html)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.urls import reverse

from playground.models import Turn

# Where each well-known provider hands out API keys, by the host of its base URL.
KEY_PAGES = {
    "api.openai.com": "https://platform.openai.com/api-keys",
    "api.anthropic.com": "https://console.anthropic.com/settings/keys",
    "generativelanguage.googleapis.com": "https://aistudio.google.com/apikey",
    "api.deepseek.com": "https://platform.deepseek.com/api_keys",
    "openrouter.ai": "https://openrouter.ai/keys",
    "api.together.xyz": "https://api.together.ai/settings/api-keys",
    "api.groq.com": "https://console.groq.com/keys",
    "inference.baseten.co": "https://app.baseten.co/settings/api_keys",
    "api.friendli.ai": "https://friendli.ai/suite/setting/tokens",
    "api.x.ai": "https://console.x.ai",
}

SENTENCES: dict[str, tuple[str, str]] = {
    "auth": ("The provider refused the API key.", "Check the key set for this provider."),
    "bad_request": ("The provider refused the request.", "Change the controls or the prompt, then try again."),
    "not_found": ("The provider does not know this model or address.", "Check the model id and base URL."),
    "rate_limited": ("The provider is rate-limiting requests.", "Wait a moment; it retries by itself."),
    "unavailable": ("The provider could not be reached or is down.", "Try again in a moment."),
    "timeout": ("The provider stopped sending before the answer was complete.", "Try again."),
    "broken_stream": ("The answer's stream broke off midway.", "Try again; the text so far is kept."),
    "too_long": ("The answer grew past the playground's limit and was cut.", "Ask for a shorter answer."),
}
FALLBACK = ("Something went wrong while answering.", "Try again; if it keeps failing, see Details.")


def explain(turn: Turn, *, staff: bool = False) -> dict[str, Any]:
    error = turn.error or {}
    kind = str(error.get("kind") or "unknown")
    sentence, action = SENTENCES.get(kind, FALLBACK)
    provider = turn.model.provider if turn.model_id and turn.model else None
    key_page = None
    settings_url = None
    if kind == "auth" and provider is not None:
        key_page = KEY_PAGES.get(urlsplit(provider.base_url or "").hostname or "")
        if staff:
            settings_url = reverse("admin:playground_provider_change", args=[provider.pk])
        else:
            action = "Ask an administrator to check the key set for this provider."
    detail = [f"kind: {kind}"]
    if error.get("status_code"):
        detail.append(f"HTTP {error['status_code']}")
    if provider is not None:
        detail.append(f"provider: {provider.name} ({provider.kind})")
    retry_after = error.get("retry_after")
    failed_at = turn.created_at.timestamp() * 1000 + (turn.duration_ms or 0) if turn.created_at else 0
    return {
        "failed_at_ms": int(failed_at),
        "sentence": sentence,
        "action": action,
        "provider_name": provider.name if provider else "",
        "key_page": key_page,
        "settings_url": settings_url,
        "message": str(error.get("message") or ""),
        "technical": " · ".join(detail),
        # A 429 without Retry-After still waits a little before its retry.
        "retry_after": (float(retry_after) if retry_after else 5.0) if kind == "rate_limited" else None,
        "retryable": kind not in ("auth", "not_found", "bad_request"),
    }
