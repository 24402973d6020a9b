"""The replay policy in the chat page: the one-click switch for the next message (the
conversation's policy, kept with each turn), and the inspector's "resend with another
policy", a new branch whose request the context builds under that policy."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient

from playground.models import Conversation, Turn
from playground.streaming.launch import Question, launch


def test_the_switch_stores_the_conversations_policy(client, owner, simulator_model):
    client.force_login(owner)
    conversation = Conversation.objects.create(owner=owner, model=simulator_model)
    response = client.post(f"/c/{conversation.pk}/replay", {"replay_policy": "preserved"})
    assert response.status_code == 200
    assert 'value="preserved" checked' in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.replay_policy == "preserved"
    assert client.post(f"/c/{conversation.pk}/replay", {"replay_policy": "sometimes"}).status_code == 400
    client.post(f"/c/{conversation.pk}/replay", {"replay_policy": ""})
    conversation.refresh_from_db()
    assert conversation.replay_policy == ""
    page = client.get(f"/c/{conversation.pk}/").content.decode()
    assert 'id="replay-switch"' in page and 'name="replay_policy" value="" checked' in page


def test_the_switch_is_the_owners_alone(client, stranger, owner, simulator_model):
    conversation = Conversation.objects.create(owner=owner, model=simulator_model)
    client.force_login(stranger)
    assert client.post(f"/c/{conversation.pk}/replay", {"replay_policy": "strip"}).status_code == 404


async def finished(turn_id: int) -> Turn:
    async with asyncio.timeout(30):
        while True:
            turn = await Turn.objects.select_related("model", "conversation").aget(pk=turn_id)
            if not turn.is_streaming:
                return turn
            await asyncio.sleep(0.05)


@pytest.mark.django_db(transaction=True)
async def test_the_next_message_goes_with_the_switched_policy_and_a_turn_is_resent_with_another(owner, simulator_model):
    conversation = await database_sync_to_async(Conversation.objects.create)(owner=owner, model=simulator_model)
    client = AsyncClient()
    await database_sync_to_async(client.force_login)(owner)
    await client.post(f"/c/{conversation.pk}/replay", {"replay_policy": "preserved"})
    launched = await launch(Question(owner=owner, model=simulator_model, text="What is 17*23?",
                                     conversation=conversation))
    turn = await finished(launched.turn_id)
    assert turn.params.get("replay_policy") == "preserved"

    inspector = (await client.get(f"/turns/{turn.pk}/request")).content.decode()
    assert "Sent with <strong>preserved</strong>" in inspector
    assert 'data-policy="strip"' in inspector and 'data-policy="interleaved"' in inspector
    assert 'data-policy="preserved"' not in inspector

    response = await client.post(f"/turns/{turn.pk}/resend", {"replay_policy": "strip"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/c/{conversation.pk}/"
    sibling = await Turn.objects.filter(parent_id=turn.parent_id).exclude(pk=turn.pk).aget()
    sibling = await finished(sibling.pk)
    assert sibling.params.get("replay_policy") == "strip" and sibling.status == "complete"
    assert (await client.post(f"/turns/{turn.pk}/resend", {"replay_policy": "often"})).status_code == 400
