"""Per-user provider keys: a user's own key runs their turns and only theirs, usage and
cost are attributed to it, the admin's key runs the rest. A loopback fake provider
records the Authorization header each request carried."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from playground.models import Conversation, ModelProfile, Provider, Turn, UserProviderKey
from playground.streaming.launch import launch_stored
from playground.turns.services import start_exchange, start_regeneration
from reasoning.events import Usage
from reasoning.testing import FakeUpstream, Script, openai_chat_sse

pytestmark = pytest.mark.django_db(transaction=True)

SITE_KEY = "sk-site-admin-000000000000"
OLIVIA_KEY = "sk-olivia-own-111111111111"
SAM_KEY = "sk-sam-own-2222222222222222"


def answer() -> Script:
    usage = Usage(prompt_tokens=10, completion_tokens=30, reasoning_tokens=20)
    return Script(chunks=openai_chat_sse("Thinking.", "Done.", usage=usage))


def model_at(url: str) -> ModelProfile:
    provider = Provider.objects.create(name="fake", kind="openai", base_url=url)
    provider.set_api_key(SITE_KEY)
    provider.save()
    return ModelProfile.objects.create(
        provider=provider, model_id="fake-r1", label="Fake R1",
        price_input=Decimal("1000"), price_output=Decimal("2000"),
    )


async def run_exchange(exchange):
    (launched,) = await launch_stored([exchange])
    assert launched.run is not None and launched.run.task is not None, launched.error
    await launched.run.task


async def ask(conversation, model, prompt="Hi"):
    exchange = await database_sync_to_async(start_exchange)(conversation, prompt, model, {})
    turn = exchange.assistant_turn
    if turn.status == Turn.Status.STREAMING:
        await run_exchange(exchange)
    return await database_sync_to_async(Turn.objects.get)(pk=turn.pk)


def save_key(client, user, provider, key):
    client.force_login(user)
    return client.post("/settings/keys/", {"provider": provider.pk, "api_key": key, "action": "save"})


def bearer(request) -> str:
    return request.headers.get("authorization", "")


async def test_each_user_runs_on_their_own_key_and_nobody_else_does(settings, owner, stranger, admin_user, client):
    settings.USER_PROVIDER_KEYS = "optional"
    async with FakeUpstream() as up:
        up.default = answer()
        model = await database_sync_to_async(model_at)(up.url)
        provider = model.provider
        assert (await database_sync_to_async(save_key)(client, owner, provider, OLIVIA_KEY)).status_code == 302
        assert (await database_sync_to_async(save_key)(client, stranger, provider, SAM_KEY)).status_code == 302
        olivia = await database_sync_to_async(Conversation.objects.create)(owner=owner)
        sam = await database_sync_to_async(Conversation.objects.create)(owner=stranger)
        admin = await database_sync_to_async(Conversation.objects.create)(owner=admin_user)

        turns = [await ask(olivia, model), await ask(sam, model), await ask(admin, model), await ask(olivia, model)]
        sent = [bearer(r) for r in up.requests]
    assert sent == [f"Bearer {OLIVIA_KEY}", f"Bearer {SAM_KEY}", f"Bearer {SITE_KEY}", f"Bearer {OLIVIA_KEY}"]
    assert [t.status for t in turns] == ["complete"] * 4

    keys = await database_sync_to_async(lambda: {k.user_id: k for k in UserProviderKey.objects.all()})()
    assert [(t.key_source, t.user_key_id) for t in turns] == [
        ("user", keys[owner.pk].pk), ("user", keys[stranger.pk].pk), ("site", None), ("user", keys[owner.pk].pk),
    ]
    # Usage and cost add up per key: Olivia's two turns, 10 in + 30 out each.
    assert turns[0].cost == Decimal("0.070000")
    from playground.turns.keys import usage_by_key

    usage = await database_sync_to_async(usage_by_key)(owner)
    assert usage[keys[owner.pk].pk]["n_turns"] == 2
    assert usage[keys[owner.pk].pk]["output_tokens"] == 60
    assert usage[keys[owner.pk].pk]["total_cost"] == Decimal("0.140000")
    # The key is stored encrypted and the turn's recorded request has it redacted.
    def raw_keys():
        with connection.cursor() as cursor:
            cursor.execute("SELECT api_key_encrypted FROM playground_userproviderkey")
            return [row[0] for row in cursor.fetchall()]

    assert all(OLIVIA_KEY not in k and SAM_KEY not in k for k in await database_sync_to_async(raw_keys)())
    assert OLIVIA_KEY not in json.dumps(turns[0].sent)


async def test_with_the_option_off_everyone_runs_on_the_site_key(settings, owner, client):
    settings.USER_PROVIDER_KEYS = "optional"
    async with FakeUpstream() as up:
        up.default = answer()
        model = await database_sync_to_async(model_at)(up.url)
        await database_sync_to_async(save_key)(client, owner, model.provider, OLIVIA_KEY)
        settings.USER_PROVIDER_KEYS = "off"
        conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
        turn = await ask(conv, model)
        assert bearer(up.requests[0]) == f"Bearer {SITE_KEY}"
    assert turn.key_source == "site"
    assert (await database_sync_to_async(client.post)("/settings/keys/", {"provider": model.provider.pk,
            "api_key": "x", "action": "save"})).status_code == 403


async def test_required_mode_refuses_a_turn_without_the_users_key(settings, owner):
    settings.USER_PROVIDER_KEYS = "required"
    async with FakeUpstream() as up:
        up.default = answer()
        model = await database_sync_to_async(model_at)(up.url)
        conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
        turn = await ask(conv, model)
        assert up.requests == []
    assert turn.status == "error" and "Add your own key for fake" in turn.error["message"]


async def test_a_regeneration_after_the_key_is_removed_falls_back_only_as_the_mode_says(settings, owner, client):
    settings.USER_PROVIDER_KEYS = "optional"
    async with FakeUpstream() as up:
        up.default = answer()
        model = await database_sync_to_async(model_at)(up.url)
        await database_sync_to_async(save_key)(client, owner, model.provider, OLIVIA_KEY)
        conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
        first = await ask(conv, model)
        remove = {"provider": model.provider.pk, "action": "delete"}
        await database_sync_to_async(client.post)("/settings/keys/", remove)
        user_turn = await database_sync_to_async(Turn.objects.get)(pk=first.parent_id)
        exchange = await database_sync_to_async(start_regeneration)(user_turn, model, {})
        await run_exchange(exchange)
        assert [bearer(r) for r in up.requests] == [f"Bearer {OLIVIA_KEY}", f"Bearer {SITE_KEY}"]
    first = await database_sync_to_async(Turn.objects.get)(pk=first.pk)
    assert first.key_source == "user" and first.user_key_id is None  # attribution kept: it was her key


def test_the_settings_page_shows_the_masked_key_and_never_the_key(settings, client, owner):
    settings.USER_PROVIDER_KEYS = "optional"
    provider = Provider.objects.create(name="fake", kind="openai", base_url="http://127.0.0.1:9")
    save_key(client, owner, provider, OLIVIA_KEY)
    page = client.get("/settings/").content.decode()
    assert "Your provider keys" in page
    assert OLIVIA_KEY not in page and "••••" + OLIVIA_KEY[-4:] in page
    settings.USER_PROVIDER_KEYS = "off"
    assert "Your provider keys" not in client.get("/settings/").content.decode()
