"""The sidebar (date groups, pins, search with snippets, unique imported titles),
the theme switch, and read-only share links."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from playground.conversations import exports, sidebar
from playground.models import Conversation, Preferences
from tests.playground.test_views import exchange

pytestmark = pytest.mark.django_db


def aged(owner, title, days, **fields):
    conv = Conversation.objects.create(owner=owner, title=title, **fields)
    Conversation.objects.filter(pk=conv.pk).update(updated_at=timezone.now() - timedelta(days=days))
    return conv


def test_conversations_are_grouped_by_date_with_pins_first(owner, stranger):
    aged(owner, "now", 0)
    aged(owner, "yesterday", 1)
    aged(owner, "this week", 4)
    aged(owner, "this month", 20)
    aged(owner, "last year", 400)
    aged(owner, "old but pinned", 400, pinned=True)
    aged(stranger, "someone else's", 0)
    groups = [(g.title, [c.title for c in g.conversations]) for g in sidebar.grouped(owner)]
    assert groups == [
        ("Pinned", ["old but pinned"]),
        ("Today", ["now"]),
        ("Yesterday", ["yesterday"]),
        ("Previous 7 days", ["this week"]),
        ("Previous 30 days", ["this month"]),
        ("Older", ["last year"]),
    ]


def test_pinning_moves_a_conversation_up_without_making_it_new(client, owner):
    conv = aged(owner, "old", 400)
    client.force_login(owner)
    client.post(f"/c/{conv.pk}/pin", {"pinned": "1"})
    conv.refresh_from_db()
    assert conv.pinned and conv.updated_at < timezone.now() - timedelta(days=300)
    page = client.get("/").content.decode()
    assert page.index(">Pinned<") < page.index(">old<")
    client.post(f"/c/{conv.pk}/pin", {"pinned": "0"})
    assert not Conversation.objects.get(pk=conv.pk).pinned


def test_search_finds_prompts_answers_and_reasoning_with_a_marked_snippet(client, owner, stranger, scripted_model):
    a = Conversation.objects.create(owner=owner, title="Arithmetic")
    exchange(a, "What is 17*23?", "It is 391.", reasoning="First 17*20 = 340, then the carry <b>", model=scripted_model)
    b = Conversation.objects.create(owner=owner, title="Poems")
    exchange(b, "A haiku about autumn", "Leaves fall on the carry-on bag", model=scripted_model)
    theirs = Conversation.objects.create(owner=stranger, title="carry")
    exchange(theirs, "carry", "carry", model=scripted_model)
    client.force_login(owner)

    html = client.get("/c/search", {"q": "CARRY"}).content.decode()
    assert "Arithmetic" in html and "Poems" in html and f"/c/{theirs.pk}/" not in html
    assert "reasoning:</span> First 17*20 = 340, then the <mark>carry</mark> &lt;b&gt;" in html
    assert "answer:</span> Leaves fall on the <mark>carry</mark>-on bag" in html

    html = client.get("/c/search", {"q": "391"}).content.decode()
    assert "Arithmetic" in html and "Poems" not in html and "<mark>391</mark>" in html
    assert "Nothing matches" in client.get("/c/search", {"q": "zebra"}).content.decode()


def test_the_snippet_is_cut_around_the_match():
    text = "a" * 200 + " needle " + "b" * 200
    snippet = sidebar.snippet_of(text, "NEEDLE")
    assert snippet.startswith("…") and snippet.endswith("…") and "<mark>needle</mark>" in snippet
    assert len(snippet) < 2 * sidebar.SNIPPET_CHARS + 40


def test_imported_titles_stay_unique(owner):
    Conversation.objects.create(owner=owner, title="Plan")
    Conversation.objects.create(owner=owner, title="Plan (2)")
    assert exports.unique_title(owner, "Plan") == "Plan (3)"
    assert exports.unique_title(owner, "Other") == "Other"


def test_the_theme_switch_keeps_the_choice_and_the_page_starts_in_it(client, owner):
    client.force_login(owner)
    assert client.post("/settings/theme", {"theme": "dark"}, HTTP_HX_REQUEST="true").status_code == 204
    assert Preferences.of(owner).theme == "dark"
    assert '<html lang="en" data-theme="dark">' in client.get("/").content.decode()
    assert client.post("/settings/theme", {"theme": "purple"}).status_code == 400


def test_a_new_chat_starts_with_the_users_default_model(client, owner, scripted_model):
    other = type(scripted_model).objects.create(
        provider=scripted_model.provider, model_id="b", label="Second", position=9
    )
    prefs = Preferences.of(owner)
    prefs.default_model = other
    prefs.save()
    client.force_login(owner)
    # The picker's data attributes sit between the value and `selected`.
    assert re.search(rf'<option value="{other.pk}"[^>]* selected>', client.get("/").content.decode())


# ---- share links ------------------------------------------------------------------------


@pytest.fixture
def shared(owner, scripted_model):
    conv = Conversation.objects.create(owner=owner, title="Shared one")
    exchange(conv, "What is 17*23?", "It is **391**.", reasoning="SECRET-THOUGHT 17*20", model=scripted_model)
    Conversation.objects.create(owner=owner, title="Private other chat")
    return conv


def test_a_conversation_is_not_shared_until_its_owner_shares_it(client, owner, shared):
    assert shared.share_token is None
    client.force_login(owner)
    assert "Create link" in client.get(f"/c/{shared.pk}/").content.decode()
    assert client.get("/s/anything/").status_code == 404


def test_a_share_link_shows_the_conversation_read_only_without_login(client, owner, shared):
    client.force_login(owner)
    client.post(f"/c/{shared.pk}/share")
    shared.refresh_from_db()
    assert shared.share_token and len(shared.share_token) >= 32
    client.logout()

    response = client.get(f"/s/{shared.share_token}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "What is 17*23?" in html and "<strong>391</strong>" in html
    assert "SECRET-THOUGHT" not in html  # reasoning is off unless the owner chose it
    assert "Private other chat" not in html and "/c/" not in html
    assert "ws-connect" not in html and "hx-post" not in html and 'data-copy="' not in html
    assert response["Referrer-Policy"] == "no-referrer"


def test_the_owner_can_include_reasoning_and_revoke_the_link(client, owner, stranger, shared):
    client.force_login(owner)
    client.post(f"/c/{shared.pk}/share", {"reasoning": "1"})
    token = Conversation.objects.get(pk=shared.pk).share_token
    assert "SECRET-THOUGHT" in client.get(f"/s/{token}/").content.decode()

    client.force_login(stranger)  # someone else cannot revoke (or share) it
    assert client.post(f"/c/{shared.pk}/share", {"revoke": "1"}).status_code == 404
    assert client.get(f"/s/{token}/").status_code == 200

    client.force_login(owner)
    client.post(f"/c/{shared.pk}/share", {"revoke": "1"})
    assert client.get(f"/s/{token}/").status_code == 404
    client.post(f"/c/{shared.pk}/share")
    assert Conversation.objects.get(pk=shared.pk).share_token != token  # a new link, the old one stays dead
