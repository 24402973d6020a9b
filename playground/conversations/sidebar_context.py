"""What the app's sidebar (chat/_sidebar.html) needs, for every page in the layout."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from playground.accounts.users import signed_in
from playground.conversations import sidebar as sidebar_module
from playground.models import Conversation

THEME_CHOICES = [("system", "System"), ("light", "Light"), ("dark", "Dark")]


def sidebar_context(request: HttpRequest) -> dict[str, Any]:
    owner = signed_in(request)
    return {
        "theme_choices": THEME_CHOICES,
        "groups": sidebar_module.grouped(owner),
        # Requests to the OpenAI-compatible API have a folder of their own.
        "api_conversations": Conversation.objects.filter(owner=owner, origin="api")[:100],
    }


def sidebar(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the sidebar's data for any page in the app's layout, computed
    only if the page shows the sidebar (a view's own values win)."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "theme_choices": THEME_CHOICES,
        "groups": SimpleLazyObject(lambda: sidebar_module.grouped(signed_in(request))),
        "api_conversations": SimpleLazyObject(
            lambda: list(Conversation.objects.filter(owner=signed_in(request), origin="api")[:100])
        ),
    }
