"""A provider that echoes the key leaks nothing: everything this server produced —
socket frames, pages, the Request inspector, exports, `ask --json`, logs and a dump
of the database — is searched for the test key and the secret header, and neither
is there. The fake upstream really receives both (so the search is not vacuous) and
quotes them back in its error bodies, in streamed text split across chunks, and in
an error event after HTTP 200."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.db import connection

from playground.models import Conversation, ModelProfile, Provider, Turn
from reasoning.testing.upstream import FakeUpstream, Script, openai_chat_sse, sse
from tests.playground.stream_page import Page, started_turn_id
from tests.playground.test_streams import socket

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-proj-LEAKCANARY-7f3a9c1e5b2d4f6a8c0e"
GATEWAY_TOKEN = "cfut_GATEWAYCANARY-1234567890abcdef"
CANARIES = [KEY, GATEWAY_TOKEN, KEY[8:28], GATEWAY_TOKEN[5:25]]


def echo_401(request):
    sent_key = request.headers["authorization"].removeprefix("Bearer ")
    sent_gateway = request.headers["cf-aig-authorization"]
    message = f"Incorrect API key provided: {sent_key}. Gateway said: {sent_gateway}"
    return Script.error(401, {"error": {"message": message, "code": "invalid_api_key"}})


def echo_in_stream(request):
    sent_key = request.headers["authorization"].removeprefix("Bearer ")
    return Script(
        chunks=openai_chat_sse(
            f"The user's key is {sent_key}, I should not say it.",
            f"Your key: {sent_key} and {request.headers['cf-aig-authorization']}.",
            chunk_chars=5,  # the key arrives in many deltas
        )
    )


def echo_after_200(request):
    sent_key = request.headers["authorization"].removeprefix("Bearer ")
    head = openai_chat_sse("", f"Starting {sent_key[:10]}", chunk_chars=4, done=False, finish_reason=None)
    return Script(chunks=[*head, sse({"error": {"message": f"Key {sent_key} was revoked mid-stream", "code": 500}})])


@database_sync_to_async
def leaky_model(base_url):
    provider = Provider(
        name="leaky", kind="openai", base_url=base_url,
        options={"headers": {"cf-aig-authorization": f"Bearer {GATEWAY_TOKEN}", "x-title": "Playground"}},
    )
    provider.set_api_key(KEY)
    provider.save()
    return ModelProfile.objects.create(provider=provider, model_id="leaky-1", label="Leaky", reasoning="native")


def pages(client, owner, conv_id):
    from django.test import Client

    http = Client()
    http.force_login(owner)
    out = []
    urls = [f"/c/{conv_id}/", f"/c/{conv_id}/export.json", f"/c/{conv_id}/export.md", "/"]
    for turn in Turn.objects.filter(conversation_id=conv_id, role="assistant"):
        urls += [f"/turns/{turn.pk}/request", f"/turns/{turn.pk}/raw", f"/turns/{turn.pk}/raw?part=content"]
    for url in urls:
        response = http.get(url)
        assert response.status_code == 200, url
        out.append(response.content.decode())
    return out


def database_dump():
    out = io.StringIO()
    call_command("dumpdata", "playground", stdout=out)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM playground_turn")
        rows = repr(cursor.fetchall())
        cursor.execute("SELECT * FROM playground_provider")
        rows += repr(cursor.fetchall())
    return out.getvalue() + rows


async def test_nothing_the_server_produces_contains_a_key_or_secret_header(client, owner, caplog):
    caplog.set_level(logging.DEBUG)
    produced: list[str] = []
    async with FakeUpstream() as up:
        up.enqueue(echo_401, echo_in_stream, echo_after_200, echo_401)
        model = await leaky_model(up.url + "/v1")
        conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
        comm = await socket(client, owner, conv)
        page = Page()
        for _ in range(3):
            await comm.send_to(text_data=json.dumps({"action": "send", "prompt": "Hi", "model": model.pk}))
            turn_id = await started_turn_id(comm, page)
            await page.read_until_done(comm, turn_id)
        await comm.disconnect()
        produced += page.messages
        ask = io.StringIO()
        with pytest.raises(Exception, match=r"HTTP 401|auth|rejected|key"):
            await asyncio.to_thread(call_command, "ask", "Hi", "--model", "Leaky", "--json", stdout=ask)
        produced.append(ask.getvalue())
        assert len(up.requests) == 4
        assert up.requests[0].headers["authorization"] == f"Bearer {KEY}"  # the key did go upstream
        assert up.requests[0].headers["cf-aig-authorization"] == f"Bearer {GATEWAY_TOKEN}"
    turns = await database_sync_to_async(list)(Turn.objects.filter(role="assistant").order_by("pk"))
    assert [t.status for t in turns] == ["error", "complete", "error", "error"]
    assert "[redacted]" in turns[0].error["message"] and "[redacted]" in turns[1].content
    produced += await database_sync_to_async(pages)(client, owner, conv.pk)
    produced.append(await database_sync_to_async(database_dump)())
    produced.append(caplog.text)
    everything = "\n".join(produced)
    assert "Incorrect API key provided" in everything  # the provider's words are kept
    for canary in CANARIES:
        assert canary not in everything
