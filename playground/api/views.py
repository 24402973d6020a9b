"""`GET /v1/models` and `POST /v1/chat/completions`: the OpenAI-compatible API.

Bearer tokens only (no session, no CSRF: no cookie is ever looked at). A request
is a playground turn: its history stored (`services.store`), started by the one
start path (`playground.streaming.launch`), its text read back as every watcher
reads it (`Launched.deltas()`, through `stream.TurnStream`).

Streaming: the response head waits for the first text, or the end, or one
heartbeat interval, whichever is first. So a provider that fails at once (429,
5xx, a refused parameter) is the HTTP status, and a model that thinks silently
still gets its head and a `: keep-alive` comment every interval. A failure after
the head is an `error` object in the stream, then `[DONE]`; the text so far is
kept in the stored turn. A client that goes away stops the run, which closes the
upstream request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from playground import statements
from playground.api import shapes
from playground.api.asgi import EventStream
from playground.api.errors import ApiError, from_turn_error, rate_limited
from playground.api.replay_store import attach, remember
from playground.api.requests import CompletionRequest, completion_request, parse
from playground.api.services import check_tool_request, forget, store_exchange
from playground.api.stream import Done, Idle, Text, TurnStream, Update
from playground.api.tokens import token_for
from playground.db_threads import detached_context, off_the_shared_thread
from playground.models import ApiToken, ModelProfile, Turn
from playground.streaming.launch import Launched, launch_stored
from playground.turns.liveness import sweep_once
from playground.turns.services import BadInput, Exchange, RunLimit, enabled_models, runs_allowed

log = logging.getLogger(__name__)
_forgetting: set[asyncio.Task[None]] = set()


def _authenticated(request: HttpRequest) -> ApiToken:
    token = token_for(request.headers.get("authorization", ""))
    if token is None:
        raise ApiError(
            401, "Invalid, revoked or missing API token (Authorization: Bearer …).",
            code="invalid_api_key", headers={"www-authenticate": "Bearer"},
        )
    return token


def _enabled_models() -> list[ModelProfile]:
    return list(enabled_models())


def _model(label: str, owner_id: Any = None) -> ModelProfile:
    """The enabled model labelled `label`; with an owner, read with whether the owner's
    run limits let a turn start (`runs_allowed`, one statement for both)."""
    also = {"runs_allowed": runs_allowed(owner_id)} if owner_id is not None else {}
    found: ModelProfile | None = statements.enabled_model_labelled(label, **also)  # the statement written once
    if found is None:
        raise ApiError(404, f"The model {label!r} does not exist.", code="model_not_found", param="model")
    return found


@csrf_exempt
@login_not_required
@require_GET
def models(request: HttpRequest) -> HttpResponse:
    try:
        _authenticated(request)
    except ApiError as e:
        return e.response()
    data = [
        {
            "id": m.label,
            "object": "model",
            "created": int(m.provider.created_at.timestamp()),
            "owned_by": m.provider.name,
        }
        for m in _enabled_models()
    ]
    return JsonResponse({"object": "list", "data": data})


def _prepare(request: HttpRequest) -> tuple[ApiToken, CompletionRequest, Exchange, bool]:
    """Everything before the run, in one thread hop: the token, the request, and its
    conversation and exchange stored (services.store_exchange)."""
    token = _authenticated(request)
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The request body is not valid JSON.", code="invalid_json") from None
    label, body = parse(body)
    # One transaction from the model's read on: the run limits read with it hold until
    # the answer is stored (SQLite's immediate transactions serialise the starts).
    with transaction.atomic():
        model = _model(label, token.user_id)
        completion = completion_request(body, model)
        if completion.uses_tools:
            # What this token was returned with its tool calls goes back with them (exact replay).
            completion.conversation.messages = attach(token, completion.conversation.messages)
            check_tool_request(completion)
        within_limits = getattr(model, "runs_allowed", None)  # read by _model
        exchange, keep = store_exchange(token.user, completion, within_limits=within_limits)
    return token, completion, exchange, keep


@csrf_exempt
@login_not_required
@require_POST
async def chat_completions(request: HttpRequest) -> HttpResponseBase:
    await sweep_once()
    try:
        # Not on the request's own thread: it would open a database connection for
        # this request alone (db_threads). Not on the shared thread either, where
        # many requests at once would wait for each other's start in stages.
        token, completion, exchange, keep = await off_the_shared_thread(_prepare)(request)
    except ApiError as e:
        return e.response()
    except RunLimit as e:
        return rate_limited(str(e), e.retry_after).response()
    except BadInput as e:
        return ApiError(400, str(e), code="invalid_request").response()
    (launched,) = await launch_stored([exchange], follow=completion.stream)
    if launched.failed:
        if completion.stream:
            # The "turn.done" of the failure is already on its way: reading to it
            # takes this request's channel out of the conversation's group.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    async for _ in launched.deltas():
                        pass
        _end(launched, keep)
        return from_turn_error(launched.error).response()
    headers = {"x-playground-conversation": str(launched.conversation_id)}
    if completion.stream:
        return await _streamed(completion, TurnStream(launched), keep, headers, token)
    try:
        done = await launched.outcome()
    except BaseException:
        # The caller went away: the run is stopped and keeps what it has.
        await launched.stop()
        raise
    finally:
        _end(launched, keep)
    if done.status == Turn.Status.ERROR:
        return from_turn_error(done.error).response()
    await off_the_shared_thread(remember)(token, done, completion.model.source)
    reasons = completion.model.reasoning != "none"
    body = shapes.completion(done, completion.model.label, completion.reasoning_format, reasons=reasons)
    response = JsonResponse(body)
    for name, value in headers.items():
        response[name] = value
    return response


def _end(launched: Launched, keep: bool) -> None:
    """Delete the conversation of an owner who keeps no API requests, once its run has saved."""
    if keep:
        return
    # It outlives the request: its database work goes to the shared thread (db_threads).
    task = asyncio.get_running_loop().create_task(_forget_after_run(launched), context=detached_context())
    _forgetting.add(task)
    task.add_done_callback(_forgetting.discard)


async def _forget_after_run(launched: Launched) -> None:
    try:
        if launched.run is not None and launched.run.task is not None:
            await asyncio.wait([launched.run.task])
        await off_the_shared_thread(forget)(launched.conversation_id)
    except Exception:
        log.warning("API conversation %s not deleted", launched.conversation_id, exc_info=True)


async def _streamed(
    completion: CompletionRequest, stream: TurnStream, keep: bool, headers: dict[str, str], token: ApiToken
) -> HttpResponseBase:
    heartbeat = float(settings.API_HEARTBEAT_INTERVAL)
    try:
        first = await stream.next(heartbeat)
    except BaseException:
        await stream.close()
        _end(stream.launched, keep)
        raise
    if (
        isinstance(first, Done)
        and first.turn.status == Turn.Status.ERROR
        and not (first.turn.content or first.turn.reasoning)
    ):
        await stream.close()
        _end(stream.launched, keep)
        return from_turn_error(first.turn.error).response()
    writer = shapes.ChunkWriter(
        stream.launched.turn_id, completion.model.label, completion.reasoning_format,
        include_usage=completion.include_usage,
    )
    # Written part by part by the API's handler itself (playground.api.asgi).
    response = EventStream(
        _sse_body(writer, first, stream, heartbeat, keep, token, completion.model.source),
        content_type="text/event-stream",
    )
    response["cache-control"] = "no-cache"
    response["x-accel-buffering"] = "no"  # nginx: pass each chunk on at once
    for name, value in headers.items():
        response[name] = value
    return response


async def _sse_body(
    writer: shapes.ChunkWriter, first: Update, stream: TurnStream, heartbeat: float, keep: bool,
    token: ApiToken, source: str,
) -> AsyncIterator[bytes]:
    # The head, the role chunk and the first text leave in one write: with Nagle's
    # algorithm on (daphne does not turn it off) a second small write would wait
    # for the client's ACK of the first.
    pending = writer.start()
    try:
        update = first
        while True:
            if isinstance(update, Text):
                out = pending + writer.reasoning(update.reasoning) + writer.content(update.content)
            elif isinstance(update, Idle):
                out = pending + shapes.HEARTBEAT
            elif update.turn.status == Turn.Status.ERROR:
                yield pending + writer.error(from_turn_error(update.turn.error).body())
                return
            else:
                # Kept before the calls go out: the client's next request may come at once.
                await off_the_shared_thread(remember)(token, update.turn, source)
                yield pending + writer.finish(update.turn)
                return
            pending = b""
            if out:
                yield out
            update = await stream.next(heartbeat)
    finally:
        # Reached on the normal end, and when the client goes away (the handler
        # closes this generator): a run still going is stopped, which closes the upstream request.
        await stream.close()
        _end(stream.launched, keep)
