"""The arena: a prompt, two contenders drawn from the pool, blind until the vote."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from playground.arena.services import pool, start_battle
from playground.streaming.launch import launch_stored
from playground.turns.services import BadInput


def _context() -> dict[str, object]:
    entrants = pool()
    return {"entrants": len(entrants), "models": len({e.model_id for e in entrants})}


@require_http_methods(["GET", "POST"])
async def arena(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        ctx = await sync_to_async(_context)()
        return await sync_to_async(render)(request, "arena/arena.html", ctx)
    user = await request.auser()
    prompt = request.POST.get("prompt", "")
    try:
        comparison, started = await sync_to_async(start_battle)(user, prompt)
    except BadInput as e:
        ctx = await sync_to_async(_context)()
        ctx.update(error=str(e), prompt=prompt)
        return await sync_to_async(render)(request, "arena/arena.html", ctx, status=400)
    await launch_stored(started)
    return redirect(comparison)
