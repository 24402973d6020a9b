"""What the app's sidebar (chat/_sidebar.html) needs, for every page in the layout."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from playground.accounts.users import signed_in
from playground.conversations import sidebar
from playground.models import Conversation

THEME_CHOICES = [("system", "System"), ("light", "Light"), ("dark", "Dark")]


def sidebar_context(request: HttpRequest) -> dict[str, Any]:
    owner = signed_in(request)
    return {
        "theme_choices": THEME_CHOICES,
        "groups": sidebar.grouped(owner),
        # Requests to the OpenAI-compatible API have a folder of their own.
        "api_conversations": Conversation.objects.filter(owner=owner, origin="api")[:100],
    }
