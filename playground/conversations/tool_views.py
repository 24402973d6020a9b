"""The chat page's Tools picker: which MCP servers (or single tools) a conversation
offers to its model (`Conversation.tools`, see playground.tools), the functions its
user answers by hand (`Conversation.functions`, saved sets in `ToolSet`), and the
form that answers a function's call (playground.streaming.toolrun)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from playground.accounts.users import signed_in
from playground.conversations.fragments import render_turn
from playground.models import Conversation, ToolSet, Turn
from playground.streaming.toolrun import answer_tool_call
from playground.tools import BadSelection, clean_selection, unknown_servers
from playground.turns import blind, functions
from playground.turns.services import BadInput


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
    return render(request, "chat/_tools_summary.html", {"conversation": conversation})


def _own(request: HttpRequest, pk: int) -> Conversation:
    return get_object_or_404(Conversation, pk=pk, owner=signed_in(request))


def _own_set(request: HttpRequest) -> ToolSet | None:
    """The saved set the form names, if it is the user's (another's is no set at all)."""
    raw = request.POST.get("tool_set") or ""
    return ToolSet.objects.filter(pk=int(raw), owner=signed_in(request)).first() if raw.isdigit() else None


def _panel(request: HttpRequest, conversation: Conversation, message: str = "", status: int = 200) -> HttpResponse:
    # The summary's count changes with the functions: it travels along, out of band.
    response = render(request, "chat/_functions.html", {"conversation": conversation, "message": message},
                      status=status)
    response.content += render(request, "chat/_tools_summary.html", {"conversation": conversation, "oob": True}).content
    return response


def _edit_functions(request: HttpRequest, pk: int, change: Any) -> HttpResponse:
    conversation = _own(request, pk)
    try:
        conversation.functions = change(list(conversation.functions or []))
    except BadInput as e:
        # Shown in the panel (status 200: htmx swaps only successful answers), nothing saved.
        return _panel(request, Conversation.objects.get(pk=pk), str(e))
    conversation.save(update_fields=["functions", "updated_at"])
    return _panel(request, conversation)


@require_POST
def add_function(request: HttpRequest, pk: int) -> HttpResponse:
    def change(current: list[dict[str, Any]]) -> list[dict[str, Any]]:
        p = request.POST
        made = functions.clean_function(p.get("fn_name", ""), p.get("fn_description", ""),
                                        p.get("fn_parameters", ""), p.get("fn_returns", ""))
        return functions.add(current, made)

    return _edit_functions(request, pk, change)


@require_POST
def remove_function(request: HttpRequest, pk: int) -> HttpResponse:
    name = request.POST.get("name", "")
    return _edit_functions(request, pk, lambda current: [f for f in current if f.get("name") != name])


@require_POST
def load_tool_set(request: HttpRequest, pk: int) -> HttpResponse:
    """A saved set's functions join the conversation's (a function of the same name is replaced)."""
    tool_set = _own_set(request)
    if tool_set is None:
        return _panel(request, _own(request, pk), "Choose one of your saved sets.")

    def change(current: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for f in functions.clean_functions(tool_set.functions):
            current = functions.add(current, f)
        return current

    return _edit_functions(request, pk, change)


@require_POST
def save_tool_set(request: HttpRequest, pk: int) -> HttpResponse:
    """The conversation's functions as a named set of the user's (replacing one of that name)."""
    conversation = _own(request, pk)
    name = request.POST.get("set_name", "").strip()[:100]
    if not name:
        return _panel(request, conversation, "Name the set.")
    try:
        ToolSet.objects.update_or_create(owner=signed_in(request), name=name,
                                         defaults={"functions": list(conversation.functions or [])})
    except IntegrityError:
        return _panel(request, conversation, "That set could not be saved; try another name.")
    return _panel(request, conversation, f"Saved as “{name}”.")


@require_POST
def delete_tool_set(request: HttpRequest, pk: int) -> HttpResponse:
    """A saved set gone from the user's library (conversations keep what they loaded)."""
    conversation = _own(request, pk)
    tool_set = _own_set(request)
    if tool_set is None:
        return _panel(request, conversation, "Choose one of your saved sets.")
    name = tool_set.name
    tool_set.delete()
    return _panel(request, conversation, f"Deleted the set “{name}”.")


def _waiting_turn(request: HttpRequest, pk: int) -> Turn:
    turn = get_object_or_404(
        Turn.objects.select_related("conversation", "model"), pk=pk, conversation__owner=signed_in(request)
    )
    if blind.hidden_column(turn.conversation_id):
        raise BadInput("Answer it in its comparison.")
    return turn


@require_POST
async def answer_tool(request: HttpRequest, pk: int) -> HttpResponse:
    """A person's result for a function call the turn waits on. Checked against the
    function's result schema, if it has one; then the loop goes on (playground.streaming.toolrun)."""
    call_id = request.POST.get("call_id", "")
    result = request.POST.get("result", "")
    is_error = request.POST.get("is_error") in ("1", "on", "true")
    try:
        turn = await sync_to_async(_waiting_turn)(request, pk)
        call = next((c for c in (turn.steps or [{}])[-1].get("tool_calls") or () if c.get("id") == call_id), None)
        function = functions.named(turn.conversation.functions, str((call or {}).get("name", "")))
        if not is_error and (problems := functions.result_problems(function, result)):
            raise BadInput("The result does not match the function's result schema: " + "; ".join(problems[:3]))
        user = await sync_to_async(signed_in)(request)
        run = await answer_tool_call(user, turn.pk, call_id, result, is_error=is_error)
    except BadInput as e:
        return HttpResponse(str(e), status=400, content_type="text/plain")
    if run is not None:
        # Every awaited call has its result: the run goes on, and the page's socket
        # shows it (the branch, with this turn streaming again).
        return HttpResponse(status=204)
    fresh = await Turn.objects.select_related("conversation", "model").aget(pk=pk)
    return HttpResponse(await sync_to_async(render_turn)(fresh))
