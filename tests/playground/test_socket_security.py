"""Sockets: the Origin names this site exactly (scheme, host and port); the session
is re-checked, so logout, a password change or a disabled account ends the socket;
a malformed message gets an error frame and the socket stays open; no message over
the transport limit is ever sent."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from playground.asgi import application
from playground.models import Conversation, Turn
from playground.security.sockets import normalized_origin, origin_allowed
from playground.streaming.messages import MESSAGE_BYTES, TOO_LARGE, fit

pytestmark = pytest.mark.django_db(transaction=True)


def scope(origin, host="127.0.0.1:8000", scheme="ws", extra=()):
    headers = [(b"host", host.encode()), *extra]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "scheme": scheme, "headers": headers}


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws", True),
        ("http://localhost", "localhost", "ws", True),
        ("http://localhost:80", "localhost", "ws", True),  # the default port, spelled out
        ("HTTP://LOCALHOST:8000", "localhost:8000", "ws", True),
        ("https://127.0.0.1:8443", "127.0.0.1:8443", "wss", True),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", "ws", False),  # another port of the same host
        ("https://127.0.0.1:8000", "127.0.0.1:8000", "ws", False),  # another scheme
        ("http://127.0.0.1:8443", "127.0.0.1:8443", "wss", False),  # plain page, TLS socket
        ("http://evil.example", "127.0.0.1:8000", "ws", False),
        ("http://evil.example", "evil.example", "ws", False),  # a host not in ALLOWED_HOSTS
        (None, "127.0.0.1:8000", "ws", False),
        ("null", "127.0.0.1:8000", "ws", False),
        ("http://127.0.0.1:8000/path", "127.0.0.1:8000", "ws", False),
        ("http://user@127.0.0.1:8000", "127.0.0.1:8000", "ws", False),
        ("http://127.0.0.1:notaport", "127.0.0.1:8000", "ws", False),
    ],
)
def test_the_origin_must_match_scheme_host_and_port(origin, host, scheme, allowed):
    assert origin_allowed(scope(origin, host, scheme)) is allowed


def test_a_trusted_origin_and_the_proxy_header_are_honoured(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://playground.example.com"]
    assert origin_allowed(scope("https://playground.example.com", host="127.0.0.1:8000"))
    settings.ALLOWED_HOSTS = ["playground.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    behind_proxy = scope("https://team.example", host="team.example", extra=[(b"x-forwarded-proto", b"https")])
    assert not origin_allowed(behind_proxy)  # host not allowed
    settings.ALLOWED_HOSTS = ["team.example"]
    assert origin_allowed(behind_proxy)
    plain_page = scope("http://team.example", host="team.example", extra=[(b"x-forwarded-proto", b"https")])
    assert not origin_allowed(plain_page)


def test_normalized_origin():
    assert normalized_origin("http://[::1]:8000") == "http://[::1]:8000"
    assert normalized_origin("https://a.example:443") == "https://a.example"
    assert normalized_origin("ftp://a.example") is None


async def open_socket(client, user, conv, origin=b"http://127.0.0.1"):
    await database_sync_to_async(client.force_login)(user)
    comm = WebsocketCommunicator(
        application,
        f"/ws/conversations/{conv.pk}/",
        headers=[(b"origin", origin), (b"host", b"127.0.0.1"),
                 (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())],
    )
    connected, code = await comm.connect()
    return comm, connected, code


async def test_a_socket_from_another_port_is_refused(client, owner):
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    _, connected, _ = await open_socket(client, owner, conv, origin=b"http://127.0.0.1:3000")
    assert not connected


async def closed_with(comm, timeout=2):  # noqa: ASYNC109
    out = await comm.receive_output(timeout=timeout)
    assert out["type"] == "websocket.close", out
    return out.get("code")


async def test_logout_ends_an_idle_socket_at_once(client, owner):
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    comm, connected, _ = await open_socket(client, owner, conv)
    assert connected
    await database_sync_to_async(client.post)("/logout/")
    assert await closed_with(comm) == 4401


async def test_a_message_after_the_session_ended_closes_the_socket(client, owner, monkeypatch):
    from playground.security import sockets

    monkeypatch.setattr(sockets, "end_sockets", lambda group: None)  # no push: the message check alone
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    comm, _, _ = await open_socket(client, owner, conv)
    await database_sync_to_async(client.post)("/logout/")
    assert await comm.receive_nothing(timeout=0.2)
    await comm.send_to(text_data=json.dumps({"action": "send", "prompt": "still here?", "model": 1}))
    assert await closed_with(comm) == 4401
    assert await Turn.objects.acount() == 0


@pytest.mark.parametrize("change", ["password", "disabled"])
async def test_a_password_change_or_a_disabled_account_ends_the_socket(client, owner, change):
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    comm, _, _ = await open_socket(client, owner, conv)

    def apply():
        if change == "password":
            owner.set_password("a brand new horse battery")
        else:
            owner.is_active = False
        owner.save()

    await database_sync_to_async(apply)()
    assert await closed_with(comm) == 4401


async def test_saving_a_user_without_a_change_keeps_the_socket(client, owner):
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    comm, _, _ = await open_socket(client, owner, conv)
    owner.first_name = "Olivia"
    await database_sync_to_async(owner.save)()
    await comm.send_to(text_data="[]")
    assert "alert" in await comm.receive_from(timeout=2)
    await comm.disconnect()


MALFORMED = [
    "not json", " ", "[1, 2]", '"a string"', "null", "{", "[" * 100_000 + "]" * 100_000,
    '{"action": "dance"}', '{"action": ["send"]}', '{"action": "stop", "turn": {"a": 1}}',
    '{"action": "stop", "turn": "99999999999999999999999"}', '{"action": "send", "model": "abc"}',
    '{"action": "send", "model": [1], "prompt": "x"}', '{"action": "send", "model": 1e999, "prompt": "x"}',
    '{"action": "show"}', '{"action": "show", "turn": [1]}',
]


async def test_a_malformed_message_gets_an_error_frame_and_the_socket_stays_open(client, owner, scripted_model):
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    comm, _, _ = await open_socket(client, owner, conv)
    for message in MALFORMED:
        await comm.send_to(text_data=message)
        reply = await comm.receive_from(timeout=5)
        assert 'role="alert"' in reply, message
    params = {"action": "send", "prompt": "x", "model": scripted_model.pk}
    for bad in [{"max_tokens": [1]}, {"temperature": {"a": 1}}, {"effort": ["low"]}, {"budget_tokens": "1e999"}]:
        await comm.send_to(text_data=json.dumps({**params, **bad}))
        reply = await comm.receive_from(timeout=5)
        assert 'role="alert"' in reply or "beforeend:#turns" in reply, bad
    await comm.send_to(text_data="[]")
    assert 'role="alert"' in await comm.receive_from(timeout=5)  # still open
    await comm.disconnect()


def _two_branches(owner, other_owner):
    conv = Conversation.objects.create(owner=owner)
    q = Turn.objects.create(conversation=conv, role="user", content="Which?")
    a1 = Turn.objects.create(conversation=conv, parent=q, role="assistant", content="First", status="complete")
    a2 = Turn.objects.create(conversation=conv, parent=q, role="assistant", content="Second", status="complete")
    conv.leaf = a2
    conv.save()
    theirs = Conversation.objects.create(owner=other_owner)
    their_turn = Turn.objects.create(conversation=theirs, role="user", content="Mine")
    return conv, a1, a2, theirs, their_turn


async def test_show_switches_the_branch_of_this_conversation_only(client, owner, stranger):
    conv, a1, a2, theirs, their_turn = await database_sync_to_async(_two_branches)(owner, stranger)
    comm, connected, _ = await open_socket(client, owner, conv)
    assert connected
    # Another owner's turn (another conversation): nothing is shown, nothing changes.
    await comm.send_to(text_data=json.dumps({"action": "show", "turn": their_turn.pk}))
    assert await comm.receive_nothing(timeout=0.5)
    await comm.send_to(text_data=json.dumps({"action": "show", "turn": a1.pk}))
    swapped = await comm.receive_from(timeout=5)
    assert 'hx-swap-oob="innerHTML:#turns"' in swapped and f'id="turn-{a1.pk}"' in swapped
    assert f'id="turn-{a2.pk}"' not in swapped and '<span class="sibling-pos">1/2</span>' in swapped
    await comm.disconnect()
    leaves = await database_sync_to_async(
        lambda: dict(Conversation.objects.filter(pk__in=[conv.pk, theirs.pk]).values_list("pk", "leaf_id"))
    )()
    assert leaves == {conv.pk: a1.pk, theirs.pk: None}


def test_no_message_over_the_limit_leaves_fit():
    turn = '<article class="turn assistant complete" id="turn-7" data-turn="7" hx-swap-oob="outerHTML">'
    big_turn = (
        turn + '<div class="content" id="t7-c">' + "<p>word &amp; word</p>\n" * 40_000 + "</div></article>"
        '<div id="metrics" hx-swap-oob="true">m</div>'
    )
    pieces = fit(big_turn)
    assert len(pieces) > 1 and all(len(p.encode()) <= MESSAGE_BYTES for p in pieces)
    assert 'id="metrics"' in pieces[0]
    assert fit('<div hx-swap-oob="beforeend:#turns">' + "x" * 2_000_000 + "</div>") == [TOO_LARGE]
    assert fit("small") == ["small"]


async def test_a_huge_compare_column_turn_arrives_in_messages_that_fit(client, owner, scripted, scripted_model):
    from playground.compare.fragments import render_column_done

    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    turn = await database_sync_to_async(Turn.objects.create)(
        conversation=conv, role="assistant", content="A paragraph of answer text.\n\n" * 30_000, model=scripted_model
    )
    html = await database_sync_to_async(render_column_done)(conv.pk, turn.pk)
    assert len(html.encode()) > MESSAGE_BYTES
    assert all(len(p.encode()) <= MESSAGE_BYTES for p in fit(html))


def test_logout_view_still_works_without_sockets(owner):
    http = Client()
    http.force_login(owner)
    assert http.post("/logout/").status_code == 302


SESSION_CHANGES = [None, "logged_out", "expired", "password", "disabled", "deleted", "other_user"]


def logged_in_then_changed(client, owner, change: str | None):
    """`owner` logged in, then the session or the user changed by `change` (one of
    SESSION_CHANGES; "other_user" changes nothing here: the caller asks for another
    user) with queryset updates, so no signal pushes a close: the check alone must
    see it. The session as a socket's scope holds it."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    client.force_login(owner)
    key = client.cookies["sessionid"].value
    users = get_user_model().objects.filter(pk=owner.pk)
    if change == "logged_out":
        Session.objects.filter(session_key=key).delete()
    elif change == "expired":
        Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    elif change == "password":
        users.update(password="pbkdf2_sha256$1$salt$another")
    elif change == "disabled":
        users.update(is_active=False)
    elif change == "deleted":
        users.delete()
    return type("Session", (), {"session_key": key})()


@pytest.mark.parametrize("change", SESSION_CHANGES)
def test_the_session_check_follows_djangos_rules_in_one_query(client, owner, stranger, change):
    """session_is_current reads the session and its user in one query (a prompt's start
    pays for it); every way a session stops logging its user in still says so. Changed
    here with queryset updates: no signal pushes a close, the check alone must see it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from playground.security.sockets import session_is_current

    session = logged_in_then_changed(client, owner, change)
    user = stranger if change == "other_user" else owner
    with CaptureQueriesContext(connection) as queries:
        current = session_is_current({"user": user, "session": session})
    assert current is (change is None)
    assert len(queries.captured_queries) == 1, [q["sql"][:100] for q in queries.captured_queries]
