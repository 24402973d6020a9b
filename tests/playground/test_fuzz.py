"""Fuzzing with hypothesis: the providers TOML import, the conversation import, the
socket's messages and the stream framing. Each malformed input gets a clear error
(CommandError, BadInput, an error frame, a ProviderError) and leaves nothing
half-stored; nothing else escapes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management.base import CommandError
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playground.asgi import application
from playground.conversations import exports
from playground.management.commands.providers import import_file
from playground.models import Conversation, ModelProfile, Provider, Turn
from playground.turns.services import BadInput
from reasoning.adapters import get_adapter
from reasoning.checked import Checked
from reasoning.errors import ProviderError
from reasoning.events import ContentDelta, Finish, ReasoningDelta, ReplayData, Usage
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig
from reasoning.wire import SSEDecoder

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
ROOT = Path(__file__).resolve().parents[2]

json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
    st.sampled_from(["1e999999", "NaN", "-1", "\x00", "x" * 300, "user", "assistant", "complete", "streaming"]),
)
json_values = st.recursive(
    json_leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def paths(value, prefix=()):
    """Every place in a JSON document (a path of keys and indexes)."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, (*prefix, i))


def replaced(doc, path, new):
    if not path:
        return new
    copy = json.loads(json.dumps(doc))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


# ---- the conversation import ---------------------------------------------------------------


@pytest.fixture
def export_doc(db, owner):
    model = ModelProfile.objects.create(
        provider=Provider.objects.create(name="p", kind="scripted"), model_id="m", label="M", efforts=["low"]
    )
    conv = Conversation.objects.create(owner=owner, model=model, settings={"max_tokens": 100})
    q = Turn.objects.create(conversation=conv, role="user", content="q")
    Turn.objects.create(conversation=conv, role="assistant", parent=q, content="a", model=model, cost="0.01",
                        params={"effort": "low"}, prompt_tokens=3, error=None)
    return exports.to_json(conv)


@FUZZ
@given(data=st.data())
def test_a_mutated_conversation_import_is_stored_whole_or_refused_with_nothing_stored(data, export_doc, owner):
    where = data.draw(st.sampled_from(list(paths(export_doc))))
    doc = replaced(export_doc, where, data.draw(json_values))
    before = (Conversation.objects.count(), Turn.objects.count())
    raw = json.dumps(doc).encode()
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]  # a truncated upload
    try:
        conv = exports.import_conversation(owner, raw)
    except BadInput as e:
        assert str(e).startswith("Import refused")
        assert (Conversation.objects.count(), Turn.objects.count()) == before
        return
    # Stored: every page that reads it must work (the "1e999999" cost made them 500).
    client = Client()
    client.force_login(owner)
    for url in (f"/c/{conv.pk}/", f"/c/{conv.pk}/export.json", f"/c/{conv.pk}/export.md"):
        assert client.get(url).status_code == 200, (url, where)
    for turn in conv.turns.all():
        assert turn.params == exports.clean_params(turn.params, turn.model)  # within the typed ranges


# ---- the providers TOML import ---------------------------------------------------------------


def toml_value(value):
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if value is None:
        return '""'
    return json.dumps(value)


def toml_document(providers):
    out = []
    for provider in providers:
        out.append("[[providers]]")
        models = provider.get("models", [])
        as_tables = isinstance(models, list) and all(isinstance(m, dict) for m in models)
        out += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in provider.items() if k != "models" or not as_tables]
        for model in models if as_tables else []:
            out.append("[[providers.models]]")
            out += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in model.items()]
    return "\n".join(out) + "\n"


VALID_PROVIDER = {"name": "local", "kind": "openai", "base_url": "http://127.0.0.1:9/v1",
                  "models": [{"id": "m1", "label": "Local one", "reasoning": "native"}]}


@FUZZ
@given(data=st.data())
def test_a_mutated_providers_file_is_imported_or_refused_with_nothing_stored(data, db, tmp_path):
    where = data.draw(st.sampled_from(list(paths(VALID_PROVIDER))[1:]))
    provider = replaced(VALID_PROVIDER, where, data.draw(json_values))
    text = data.draw(st.one_of(st.just(toml_document([provider])), st.text(max_size=200)))
    path = tmp_path / "providers.toml"
    path.write_text(text)
    before = (Provider.objects.count(), ModelProfile.objects.count())
    try:
        import_file(path)
    except CommandError as e:
        assert str(path) in str(e)
        assert (Provider.objects.count(), ModelProfile.objects.count()) == before


# ---- the socket's messages -----------------------------------------------------------------------

messages = st.one_of(
    st.text(min_size=1, max_size=60),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"action": st.one_of(st.sampled_from(["send", "stop"]), json_leaves)},
        optional={"prompt": json_values, "model": json_values, "turn": json_values, "max_tokens": json_values,
                  "temperature": json_values, "effort": json_values, "thinking": json_values},
    ).map(json.dumps),
)


@pytest.mark.django_db(transaction=True)
@FUZZ
@given(message=messages)
def test_any_socket_message_gets_an_answer_and_leaves_the_socket_open(message, owner):
    async def exchange():
        conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
        client = Client()
        await database_sync_to_async(client.force_login)(owner)
        comm = WebsocketCommunicator(application, f"/ws/conversations/{conv.pk}/", headers=[
            (b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"),
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())])
        assert (await comm.connect())[0]
        await comm.send_to(text_data=message)
        replies = []
        while not await comm.receive_nothing(timeout=0.05):
            replies.append(await comm.receive_output())
        assert all(r["type"] == "websocket.send" for r in replies), replies  # never closed
        await comm.send_to(text_data="[]")
        assert 'role="alert"' in await comm.receive_from(timeout=5)  # still open and answering
        await comm.disconnect()
        # No model is enabled here, so no message may have stored a turn.
        assert await Turn.objects.acount() == 0

    ModelProfile.objects.update(enabled=False)
    async_to_sync(exchange)()


# ---- the stream framing ----------------------------------------------------------------------------

sse_pieces = st.lists(
    st.one_of(
        st.sampled_from(["data: ", "\n", "\r\n", "\r", "\n\n", ":keepalive\n", "event: error\n", "data: [DONE]\n\n",
                         '{"choices":[{"delta":{"content":"hi"}}]}', '{"choices":[{"delta":{"reasoning_content":"r"},'
                         '"finish_reason":"stop"}],"usage":{"prompt_tokens":-1,"completion_tokens":"x"}}',
                         '{"error":{"message":"boom"}}', "\x00", "é", "{", "]"]),
        st.text(max_size=20),
    ),
    max_size=40,
)


@FUZZ
@given(pieces=sse_pieces, cuts=st.lists(st.integers(0, 400), max_size=8))
def test_sse_framing_does_not_depend_on_where_the_bytes_are_cut(pieces, cuts):
    text = "".join(pieces)
    whole = SSEDecoder()
    expected = whole.feed(text) + whole.close()
    cut = SSEDecoder()
    got, start = [], 0
    for at in sorted({min(c, len(text)) for c in cuts}):
        got += cut.feed(text[start:at])
        start = at
    got += cut.feed(text[start:]) + cut.close()
    assert got == expected


@FUZZ
@given(pieces=sse_pieces, chunk=st.integers(1, 50))
def test_any_stream_yields_checked_events_or_a_provider_error(pieces, chunk):
    body = "".join(pieces).encode()

    async def stream(request):
        for i in range(0, len(body), chunk):
            yield body[i : i + chunk]

    class Body(httpx.AsyncByteStream):
        async def __aiter__(self):
            async for part in stream(None):
                yield part

    transport = httpx.MockTransport(lambda r: httpx.Response(200, headers={"content-type": "text/event-stream"},
                                                             stream=Body()))
    request = ChatRequest(
        provider=ProviderConfig(kind="openai", base_url="http://upstream.test/v1", api_key="k"),
        model=ModelSpec("m"), messages=[Message(role="user", content="q")],
    )

    async def run():
        events = []
        async with httpx.AsyncClient(transport=transport) as client:
            try:
                async for event in Checked(get_adapter("openai")).stream(request, client):
                    events.append(event)
            except ProviderError as e:
                assert "\x00" not in e.message
        return events

    for event in asyncio.run(run()):
        assert isinstance(event, ReasoningDelta | ContentDelta | Usage | Finish | ReplayData)
        if isinstance(event, Usage):
            assert all(v is None or (isinstance(v, int) and 0 <= v < 2**31) for v in
                       (event.prompt_tokens, event.completion_tokens, event.reasoning_tokens, event.cached_tokens))
        if isinstance(event, ReasoningDelta | ContentDelta):
            assert "\x00" not in event.text
