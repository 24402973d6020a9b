"""Gateway requests have a folder of their own in the sidebar."""

from __future__ import annotations

import pytest

from playground.models import Conversation

pytestmark = pytest.mark.django_db


def test_api_conversations_are_listed_in_the_api_folder_only(client, owner, stranger):
    Conversation.objects.create(owner=owner, title="From the page")
    mine = Conversation.objects.create(owner=owner, title="From a script", origin="api")
    Conversation.objects.create(owner=stranger, title="Someone else's script", origin="api")
    client.force_login(owner)
    response = client.get("/")
    assert [c.title for g in response.context["groups"] for c in g.conversations] == ["From the page"]
    assert list(response.context["api_conversations"]) == [mine]
    page = response.content.decode()
    assert 'class="api-folder"' in page and "Someone else" not in page


def test_the_folder_is_open_on_an_api_conversation(client, owner):
    conversation = Conversation.objects.create(owner=owner, title="From a script", origin="api")
    client.force_login(owner)
    assert '<details class="api-folder" open>' in client.get(f"/c/{conversation.pk}/").content.decode()
    assert '<details class="api-folder">' in client.get("/").content.decode()


def test_no_folder_without_api_conversations(client, owner):
    client.force_login(owner)
    assert "api-folder" not in client.get("/").content.decode()
