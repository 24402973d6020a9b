"""Every upstream fault ends the turn cleanly: the provider's own message in the
rendered turn, the partial text kept. And Stop closes the upstream request within
a second, measured at the server. A real loopback server (FakeUpstream) speaks the
OpenAI Chat Completions wire format to the real adapter, through the socket."""

from __future__ import annotations

import html
import json
import socket as sockets
import time

import pytest
from channels.db import database_sync_to_async

from playground.models import Conversation, ModelProfile, Provider
from playground.streaming.run import RUNS
from reasoning.testing.upstream import FakeUpstream, Script, openai_chat_sse, sse
from tests.playground.stream_page import Page, saved, started_turn_id
from tests.playground.test_streams import socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True, params=["aiohttp", "httpx"])
def upstream_http(request, settings):
    """Every fault on both HTTP backends (settings.UPSTREAM_HTTP): the turn must
    end the same way whichever moves the bytes."""
    settings.UPSTREAM_HTTP = request.param
    return request.param

THOUGHT = "Let me think about this carefully, step by step, before I answer."
ANSWER = "The answer is forty-two."


def chat_stream(**kwargs):
    return openai_chat_sse(THOUGHT, ANSWER, chunk_chars=6, **kwargs)


@database_sync_to_async
def openai_model(base_url, **fields):
    provider = Provider(name="fake openai", kind="openai", base_url=base_url)
    provider.set_api_key("sk-test-0123456789")
    provider.save()
    return ModelProfile.objects.create(
        provider=provider, model_id="fake-model", label="Fake", reasoning="native", **fields
    )


async def run_turn(client, owner, base_url, *, timeout=10.0, **model_fields):  # noqa: ASYNC109
    """Send a prompt through the socket; return (saved turn, the page as shown)."""
    model = await openai_model(base_url, **model_fields)
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    page = Page()
    comm = await socket(client, owner, conv)
    await comm.send_to(text_data=json.dumps({"action": "send", "prompt": "Why?", "model": model.pk}))
    turn_id = await started_turn_id(comm, page)
    await page.read_until_done(comm, turn_id, timeout=timeout)
    await comm.disconnect()
    return await saved(turn_id), page


def shown(page, turn_id):
    return html.unescape(page.done[turn_id])


HTTP_FAULTS = [
    (400, {"error": {"message": "Invalid 'max_tokens': integer above maximum value.", "type": "invalid_request_error"}},
     {}, "bad_request"),
    (401, {"error": {"message": "Incorrect API key provided: sk-test-****6789.", "code": "invalid_api_key"}},
     {}, "auth"),
    (403, {"error": {"message": "Project proj_x does not have access to model fake-model"}}, {}, "auth"),
    (404, {"error": {"message": "The model `fake-model` does not exist or you do not have access to it."}},
     {}, "not_found"),
    (429, {"error": {"message": "Rate limit reached for requests per min: Limit 3, Used 3."}},
     {"retry-after": "17"}, "rate_limited"),
    (500, {"error": {"message": "The server had an error while processing your request. Sorry about that!"}},
     {}, "unavailable"),
    (503, {"error": {"message": "The engine is currently overloaded, please try again later"}}, {}, "unavailable"),
]


@pytest.mark.parametrize(("status", "body", "headers", "kind"), HTTP_FAULTS, ids=[str(f[0]) for f in HTTP_FAULTS])
async def test_an_http_error_ends_the_turn_with_the_providers_message(client, owner, status, body, headers, kind):
    async with FakeUpstream() as up:
        up.enqueue(Script.error(status, body, headers))
        turn, page = await run_turn(client, owner, up.url + "/v1")
    message = body["error"]["message"]
    assert (turn.status, turn.error["kind"], turn.error["status_code"]) == ("error", kind, status)
    assert turn.error["message"] == message
    assert message in shown(page, turn.pk)
    assert f"HTTP {status}" in shown(page, turn.pk)
    if status == 429:
        assert turn.error["retry_after"] == 17
        # The error turn counts down to its own retry (ux's _turn_error.html): the
        # provider's Retry-After drives the countdown's start and its text.
        assert 'data-retry-after="17"' in shown(page, turn.pk)
        assert "Retrying in 17 s" in shown(page, turn.pk)


async def test_a_refused_connection_ends_the_turn_as_unavailable(client, owner):
    with sockets.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    turn, page = await run_turn(client, owner, f"http://127.0.0.1:{port}/v1")
    assert (turn.status, turn.error["kind"]) == ("error", "unavailable")
    assert "refused" in turn.error["message"].lower() or "connect" in turn.error["message"].lower()
    assert turn.error["message"] in shown(page, turn.pk)


async def test_no_first_byte_within_the_read_timeout_is_a_timeout(client, owner, settings):
    settings.UPSTREAM_READ_TIMEOUT = 0.3
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=chat_stream(), ttfb=3.0))
        started = time.monotonic()
        turn, page = await run_turn(client, owner, up.url + "/v1")
        assert time.monotonic() - started < 2.5
    assert (turn.status, turn.error["kind"]) == ("error", "timeout")
    assert turn.error["message"] in shown(page, turn.pk)


async def test_a_stall_mid_stream_longer_than_the_read_timeout_ends_the_turn_and_keeps_the_text(
    client, owner, settings
):
    settings.UPSTREAM_READ_TIMEOUT = 0.4
    chunks = chat_stream()
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=chunks, stall_after=5, stall_for=None))  # silent until the client leaves
        turn, page = await run_turn(client, owner, up.url + "/v1")
        await up.requests[0].closed(timeout=2)  # and the stalled connection was closed
    assert (turn.status, turn.error["kind"]) == ("error", "timeout")
    assert turn.reasoning and THOUGHT.startswith(turn.reasoning) and turn.reasoning != THOUGHT
    assert turn.error["message"] in shown(page, turn.pk)
    assert turn.reasoning[:20] in shown(page, turn.pk)


async def test_a_short_pause_within_the_read_timeout_is_not_a_stall(client, owner, settings):
    settings.UPSTREAM_READ_TIMEOUT = 1.0
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=chat_stream(), stall_after=5, stall_for=0.4))
        turn, _ = await run_turn(client, owner, up.url + "/v1")
    assert (turn.status, turn.reasoning, turn.content) == ("complete", THOUGHT, ANSWER)


async def test_a_connection_cut_mid_reasoning_keeps_the_reasoning_so_far(client, owner):
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=chat_stream(), cut_after=5))
        turn, page = await run_turn(client, owner, up.url + "/v1")
    assert (turn.status, turn.error["kind"]) == ("error", "broken_stream")
    assert turn.reasoning and THOUGHT.startswith(turn.reasoning) and turn.reasoning != THOUGHT
    assert turn.content == ""
    assert turn.error["message"] in shown(page, turn.pk)


async def test_a_malformed_line_ends_the_turn_and_keeps_the_text(client, owner):
    chunks = chat_stream()
    chunks.insert(6, b'data: {"choices": [{"delta": {"content": "oops"\n\n')
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=chunks))
        turn, page = await run_turn(client, owner, up.url + "/v1")
    assert (turn.status, turn.error["kind"]) == ("error", "broken_stream")
    assert "malformed" in turn.error["message"]
    assert turn.reasoning and THOUGHT.startswith(turn.reasoning)
    assert turn.error["message"] in shown(page, turn.pk)


async def test_an_error_event_after_http_200_shows_the_providers_message(client, owner):
    chunks = chat_stream()
    failure = {"error": {"message": "Upstream model crashed while generating (request req_7).", "code": 502}}
    chunks = [*chunks[:8], sse(failure)]
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=chunks))
        turn, page = await run_turn(client, owner, up.url + "/v1")
    assert turn.status == "error"
    assert turn.error["message"] == failure["error"]["message"]
    assert failure["error"]["message"] in shown(page, turn.pk)
    assert turn.reasoning and THOUGHT.startswith(turn.reasoning)


async def test_a_stream_that_ends_without_its_end_marker_is_broken_and_keeps_the_text(client, owner):
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=chat_stream(done=False, finish_reason=None)))
        turn, page = await run_turn(client, owner, up.url + "/v1")
    assert (turn.status, turn.error["kind"]) == ("error", "broken_stream")
    assert (turn.reasoning, turn.content) == (THOUGHT, ANSWER)  # everything that came is kept
    assert turn.error["message"] in shown(page, turn.pk)


async def test_a_healthy_stream_completes_with_usage(client, owner):
    from reasoning.events import Usage

    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=chat_stream(usage=Usage(12, 40, 25)), interval=0.01))
        turn, page = await run_turn(client, owner, up.url + "/v1")
        assert up.requests[0].json["stream"] is True
    assert (turn.status, turn.reasoning, turn.content) == ("complete", THOUGHT, ANSWER)
    assert (turn.prompt_tokens, turn.completion_tokens, turn.reasoning_tokens) == (12, 40, 25)
    assert page.status[turn.pk] == "complete"


# ---- Stop closes the upstream request ------------------------------------------------------


@pytest.mark.parametrize("phase", ["thinking silently", "streaming reasoning"])
async def test_stop_closes_the_upstream_connection_within_a_second(client, owner, phase):
    chunks = openai_chat_sse(THOUGHT * 20, ANSWER, chunk_chars=4)
    if phase == "thinking silently":
        script = Script(chunks=chunks, first_chunk_delay=60)
    else:
        script = Script(chunks=chunks, interval=0.05)
    async with FakeUpstream() as up:
        up.enqueue(script)
        model = await openai_model(up.url + "/v1")
        conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
        page = Page()
        comm = await socket(client, owner, conv)
        await comm.send_to(text_data=json.dumps({"action": "send", "prompt": "Why?", "model": model.pk}))
        turn_id = await started_turn_id(comm, page)
        (request,) = await up.requests_received(1)
        if phase == "streaming reasoning":
            while len(page.text(turn_id, "r")) < 30:
                page.apply(await comm.receive_from(timeout=5))
        else:
            while request.first_byte_at is None:
                await page.read_for(comm, 0.02)
        assert request.closed_at is None
        clicked = time.monotonic()
        await comm.send_to(text_data=json.dumps({"action": "stop", "turn": turn_id}))
        closed_at = await request.closed(timeout=2)
        await page.read_until_done(comm, turn_id)
        await comm.disconnect()
    print(f"\nStop ({phase}): upstream connection closed {1000 * (closed_at - clicked):.1f} ms after the click")
    assert closed_at - clicked < 1.0
    assert request.closed_by_client
    turn = await saved(turn_id)
    assert turn.status == "stopped" and page.status[turn_id] == "stopped"
    assert turn_id not in RUNS
    if phase == "streaming reasoning":
        assert len(turn.reasoning) >= 30 and (THOUGHT * 20).startswith(turn.reasoning)


async def test_runs_read_the_upstream_with_the_configured_backend(upstream_http):
    from playground.streaming.run import http_client
    from reasoning.transport import AiohttpTransport

    transport = http_client()._transport
    assert isinstance(transport, AiohttpTransport) is (upstream_http == "aiohttp")
