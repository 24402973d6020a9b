"""The chat page's Tools picker: which MCP servers (or single tools) a conversation
offers to its model (`Conversation.tools`, see playground.tools)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from playground.accounts.users import signed_in
from playground.conversations.services import BadInput
from playground.models import Conversation
from playground.tools import BadSelection, clean_selection, unknown_servers


def selection_from(data: QueryDict | dict[str, Any]) -> list[str]:
    """The picker's fields as a selection: checked servers, then the single tools typed.
    A server that is not configured (or disabled) is refused, naming it."""
    servers = data.getlist("tools") if isinstance(data, QueryDict) else list(data.get("tools") or [])
    single = str(data.get("tools_single") or "")
    try:
        selection = clean_selection([*servers, *single.split(",")])
    except BadSelection as e:
        raise BadInput(str(e)) from None
    if unknown := unknown_servers(selection):
        raise BadInput(f"No enabled MCP server is called {', '.join(unknown)}.")
    return selection


@require_POST
def save_tools(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation, pk=pk, owner=signed_in(request))
    try:
        conversation.tools = selection_from(request.POST)
    except BadInput as e:
        return HttpResponse(str(e), status=400, content_type="text/plain")
    conversation.save(update_fields=["tools", "updated_at"])
    return render(request, "chat/_tools_summary.html", {"selection": conversation.tools})
