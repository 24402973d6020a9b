"""Every URL pattern (from the URL resolver) and every socket route (from routing),
as anonymous, as another user, as a non-staff owner and as an admin, with foreign
and mismatched Origins. The routes come from the resolver, so a new route is walked
too — and fails here until this table says whose objects its ids name."""

from __future__ import annotations

import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from playground.asgi import application
from playground.models import ApiToken, Comparison, ComparisonColumn, Conversation, ModelProfile, Prompt, Provider, Turn
from playground.routing import websocket_urlpatterns
from playground.sweeps.models import Sweep

# What an id in a route names, by the route's first segment.
OWNED = {
    "c": "conversation", "turns": "turn", "compare": "comparison", "prompts": "prompt", "settings": "token",
    "sweeps": "sweep",
}
SHARED = {"models": "model"}  # any logged-in user may read these
STAFF = {"providers": "provider"}  # admins only: anyone else is sent to the admin's login
# OIDC: 404 unless configured; metrics: its own bearer token
PUBLIC = {"login/", "health", "ready", "metrics", "oidc/signin/", "oidc/callback/"}
SHARE_LINK = "s/<str:token>/"  # public to whoever has the unguessable token; a made-up one is a 404
API = "v1/"  # bearer tokens, no session: a request without one is refused, never redirected
CAST = ["anonymous", "stranger", "admin", "owner"]  # the owner last: their POSTs change things


def routes(patterns=None, prefix=""):
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            yield from routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


ALL_ROUTES = sorted(set(routes()))
APP_ROUTES = [r for r in ALL_ROUTES if not r.startswith("admin/")]
ADMIN_ROUTES = [r for r in ALL_ROUTES if r.startswith("admin/")]


def test_the_walk_sees_the_routes():
    assert {"c/<int:pk>/", "turns/<int:pk>/raw", "compare/<int:pk>/vote", "settings/"} <= set(APP_ROUTES)
    assert len(ADMIN_ROUTES) > 10


@pytest.fixture
def world(db, owner, stranger, admin_user):
    provider = Provider.objects.create(name="p", kind="scripted")
    model = ModelProfile.objects.create(provider=provider, model_id="m", label="M")
    conv = Conversation.objects.create(owner=owner, model=model)
    prompt = Turn.objects.create(conversation=conv, role="user", content="secret question")
    answer = Turn.objects.create(
        conversation=conv, role="assistant", parent=prompt, content="secret answer", model=model
    )
    conv.leaf = answer
    conv.save()
    comparison = Comparison.objects.create(owner=owner)
    column_conv = Conversation.objects.create(owner=owner, model=model)
    ComparisonColumn.objects.create(
        comparison=comparison, conversation=column_conv, position=0, model=model, entrant="M"
    )
    prompt_pk = Prompt.objects.create(owner=owner, name="secret prompt", system="secret system").pk
    from playground.api.tokens import create_token

    token_pk = create_token(owner, "secret token")[0].pk
    sweep = Sweep.objects.create(
        owner=owner, model=model, model_label=model.label, prompt="secret sweep", levels=["low"],
        grader={"kind": "contains", "expected": "x"}, status=Sweep.Status.DONE,
    )
    return {
        "conversation": conv.pk, "turn": answer.pk, "comparison": comparison.pk, "model": model.pk, "prompt": prompt_pk,
        "token": token_pk, "provider": provider.pk, "sweep": sweep.pk,
        "column_conversation": column_conv.pk,
        "users": {"owner": owner, "stranger": stranger, "admin": admin_user},
    }


def fill(route, world):
    head = route.split("/", 1)[0]
    kind = OWNED.get(head) or SHARED.get(head) or STAFF.get(head)
    if route == SHARE_LINK:
        return "/s/not-a-real-share-token/"
    if "<" in route and kind is None:
        pytest.fail(f"{route}: add its first segment to OWNED or SHARED in this test")
    return "/" + re.sub(r"<(?:int:)?\w+>", str(world.get(kind, 1)) if kind else "1", route)


def client_as(who, world, **kwargs):
    client = Client(**kwargs)
    if who != "anonymous":
        client.force_login(world["users"][who])
    return client


def still_there(world):
    return (
        Conversation.objects.filter(pk=world["conversation"]).exists()
        and Turn.objects.filter(pk=world["turn"], content="secret answer").exists()
        and Comparison.objects.filter(pk=world["comparison"]).exists()
        and Prompt.objects.filter(pk=world["prompt"]).exists()
        and ApiToken.objects.filter(pk=world["token"], revoked_at=None).exists()
        and Sweep.objects.filter(pk=world["sweep"]).exists()
    )


@pytest.mark.parametrize("route", APP_ROUTES)
def test_every_app_route(route, world, scripted):
    head = route.split("/", 1)[0]
    owned = head in OWNED and "<" in route
    url = fill(route, world)
    for who in CAST:
        client = client_as(who, world)
        for method in ("get", "post"):
            response = getattr(client, method)(url, {"prompt": "x", "title": "y", "choice": "A"})
            status = response.status_code
            assert status < 500, (method, url, who, status)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            body = body.decode(errors="replace")
            if route in PUBLIC or route == "logout/":
                continue
            if route == SHARE_LINK:
                assert status in (404, 405), (method, url, who, status)
                continue
            if route.startswith(API):
                assert status in (401, 403, 405), (method, url, who, status)  # a session is no API token
                continue
            if who == "anonymous":
                assert status == 302 and "/login/" in response["Location"], (method, url, status)
            elif head in STAFF and who != "admin":
                assert status == 302 and "/admin/login/" in response["Location"], (method, url, who, status)
            elif owned and who in ("stranger", "admin"):
                # Another user, staff or not, gets a 404 and learns nothing.
                assert status in (404, 405), (method, url, who, status)
                assert "secret" not in body, (method, url, who)
            elif owned:
                assert status not in (403, 404), (method, url, who, status)
        if who != "owner":
            assert still_there(world), (url, who)
        # A POST without a CSRF token changes nothing, whoever sends it.
        if route not in PUBLIC and who != "anonymous":
            forged = client_as(who, world, enforce_csrf_checks=True).post(url, {"prompt": "x"})
            refused = (401, 403, 405) if route.startswith(API) else (403, 405)  # the API has no CSRF: no token, 401
            assert forged.status_code in refused, (url, who, forged.status_code)
            assert still_there(world) or who == "owner"


def test_the_admin_is_for_staff_only(world):
    clients = {who: client_as(who, world) for who in CAST}
    for route in ADMIN_ROUTES:
        url = "/" + re.sub(r"<(?:\w+:)?\w+>", "1", route)
        for who in ("anonymous", "stranger", "owner"):
            if route == "admin/login/":
                continue  # the admin's own login form is for everyone
            response = clients[who].get(url)
            assert response.status_code in (302, 404, 405), (url, who, response.status_code)
            if response.status_code == 302:
                assert "/login/" in response["Location"] or response["Location"] == "/admin/", (url, who)
        assert clients["admin"].get(url).status_code < 500, url


SOCKETS = [str(p.pattern) for p in websocket_urlpatterns]
ORIGINS = {
    "same": b"http://127.0.0.1",
    "foreign": b"http://evil.example",
    "other port": b"http://127.0.0.1:8081",
    "other scheme": b"https://127.0.0.1",
    "none": None,
}


def socket_id(route, world):
    return world["column_conversation"] if route.startswith("ws/compare/") else world["conversation"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", SOCKETS)
async def test_every_socket_route(route, world):
    path = "/" + re.sub(r"<(?:int:)?\w+>", str(socket_id(route, world)), route)
    cookies = {}
    for who in ("stranger", "owner", "admin"):
        client = Client()
        await database_sync_to_async(client.force_login)(world["users"][who])
        cookies[who] = client.cookies["sessionid"].value
    for who in ("anonymous", *cookies):
        for origin, value in ORIGINS.items():
            headers = [(b"host", b"127.0.0.1")]
            if value is not None:
                headers.append((b"origin", value))
            if who in cookies:
                headers.append((b"cookie", f"sessionid={cookies[who]}".encode()))
            comm = WebsocketCommunicator(application, path, headers=headers)
            connected, code = await comm.connect()
            if origin == "same" and who == "owner":
                assert connected, (path, code)
            else:
                assert not connected or code in (4401, 4403), (path, who, origin, code)
            if connected:
                await comm.disconnect()
