"""The playground's pages and actions through the Django test client: who may see
what, and what each action stores."""

from __future__ import annotations

import html
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from playground.conversations import exports
from playground.models import Conversation, ModelProfile, Provider, Turn

pytestmark = pytest.mark.django_db


def exchange(conv, prompt, answer, *, parent=None, reasoning="", model=None, **metrics):
    user = Turn.objects.create(conversation=conv, parent=parent, role="user", content=prompt)
    bot = Turn.objects.create(
        conversation=conv, parent=user, role="assistant", content=answer, reasoning=reasoning,
        model=model, model_label=model.label if model else "Gone", source="scripted:scripted-1", **metrics,
    )
    conv.leaf = bot
    conv.save()
    return user, bot


@pytest.fixture
def conversation(owner, scripted_model):
    conv = Conversation.objects.create(owner=owner, title="Multiplying", model=scripted_model)
    exchange(
        conv, "What is 17*23?", "**391**", reasoning="17*20 = 340, 17*3 = 51.", model=scripted_model,
        prompt_tokens=12, completion_tokens=60, reasoning_tokens=40, cost=Decimal("0.0123"),
        first_reasoning_ms=310, first_content_ms=2400, thinking_ms=2090, duration_ms=3400,
        sent={"method": "POST", "url": "https://example.test/v1/chat", "headers": {"authorization": "[redacted]"},
              "body": {"messages": [{"role": "user", "content": "What is 17*23?"}]}},
    )
    return conv


def test_it_hides_another_users_conversation_turns_and_exports(client, stranger, conversation):
    client.force_login(stranger)
    bot = conversation.leaf
    user_turn = bot.parent
    gets = [
        f"/c/{conversation.pk}/",
        f"/c/{conversation.pk}/export.md",
        f"/c/{conversation.pk}/export.json",
        f"/turns/{bot.pk}/request",
        f"/turns/{bot.pk}/raw",
        f"/turns/{bot.pk}/raw?part=reasoning",
        f"/models/{conversation.model.pk}/controls?conversation={conversation.pk}",
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    posts = [
        (f"/c/{conversation.pk}/rename", {"title": "Mine now"}),
        (f"/c/{conversation.pk}/delete", {}),
        (f"/c/{conversation.pk}/settings", {"model": conversation.model.pk}),
        (f"/turns/{bot.pk}/regenerate", {}),
        (f"/turns/{user_turn.pk}/edit", {"prompt": "Hijack", "model": conversation.model.pk}),
        (f"/turns/{bot.pk}/show", {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 404, url
    conversation.refresh_from_db()
    assert conversation.title == "Multiplying"
    assert conversation.turns.count() == 2


def test_the_chat_page_leads_to_the_compare_screens(client, owner, conversation):
    client.force_login(owner)
    page = client.get(f"/c/{conversation.pk}/").content.decode()
    for name in ("compare_new", "compare_list", "compare_leaderboard"):
        assert f'href="{reverse(name)}"' in page
    assert client.get(reverse("compare_new")).status_code == 200


def test_it_asks_anonymous_visitors_to_log_in(client, conversation):
    response = client.get(f"/c/{conversation.pk}/export.json")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_searches_titles_and_text_of_own_conversations_only(client, owner, stranger, scripted_model):
    mine = Conversation.objects.create(owner=owner, title="Prime numbers")
    exchange(mine, "Is 91 prime?", "No: 7 × 13.", model=scripted_model)
    other = Conversation.objects.create(owner=owner, title="Cooking")
    exchange(other, "How long to boil an egg?", "About nine minutes.", model=scripted_model)
    theirs = Conversation.objects.create(owner=stranger, title="Prime suspects")
    exchange(theirs, "Is 91 prime?", "Ask Olivia.", model=scripted_model)
    client.force_login(owner)

    by_title = client.get("/c/search", {"q": "prime"}).content.decode()
    assert "Prime numbers" in by_title and "Prime suspects" not in by_title and "Cooking" not in by_title
    by_text = client.get("/c/search", {"q": "nine minutes"}).content.decode()
    assert "Cooking" in by_text and "Prime" not in by_text
    assert "Nothing matches" in client.get("/c/search", {"q": "zebra"}).content.decode()


def test_it_renames_and_deletes(client, owner, conversation):
    client.force_login(owner)
    client.post(f"/c/{conversation.pk}/rename", {"title": "  Seventeen   times  "})
    conversation.refresh_from_db()
    assert conversation.title == "Seventeen times"
    client.post(f"/c/{conversation.pk}/delete")
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Turn.objects.filter(conversation_id=conversation.pk).exists()


def test_it_shows_stored_metrics_and_totals_after_reload(client, owner, conversation):
    client.force_login(owner)
    html = client.get(f"/c/{conversation.pk}/").content.decode()
    assert "Thought for 2.1 s · 40 reasoning tokens" in html
    assert 'data-metric="first-reasoning">0.31 s' in html
    assert 'data-metric="first-content">2.40 s' in html
    assert 'data-metric="tokens">12 in · 40 reasoning · 20 answer' in html
    assert 'data-metric="cost">$0.0123' in html
    assert 'data-metric="speed">20 tok/s' in html  # 20 answer tokens in 1.0 s
    assert 'data-total="tokens">72 tokens' in html
    assert 'data-total="cost">$0.0123' in html


def test_it_labels_hidden_reasoning_with_its_token_count(client, owner):
    provider = Provider.objects.create(name="oai", kind="openai-responses")
    o3 = ModelProfile.objects.create(provider=provider, model_id="o3", label="o3", reasoning="hidden",
                                     efforts=["low", "high"], thinking_control="reasoning_effort")
    conv = Conversation.objects.create(owner=owner, model=o3)
    exchange(conv, "Hi", "Hello", model=o3, reasoning_tokens=1832, completion_tokens=1900, thinking_ms=12400)
    client.force_login(owner)
    html = client.get(f"/c/{conv.pk}/").content.decode()
    assert "Reasoning hidden by the provider · 1,832 tokens" in html
    assert "Thought for" not in html


def test_it_says_when_a_turn_ran_out_of_tokens_while_thinking(client, owner, scripted_model):
    conv = Conversation.objects.create(owner=owner, model=scripted_model)
    exchange(conv, "Long one", "", reasoning="Still thinking about", model=scripted_model, finish_reason="length")
    client.force_login(owner)
    html = client.get(f"/c/{conv.pk}/").content.decode()
    assert "Ran out of tokens while thinking: no answer was produced." in html


def test_it_shows_only_the_controls_a_model_supports(client, owner):
    provider = Provider.objects.create(name="plain", kind="openai")
    plain = ModelProfile.objects.create(provider=provider, model_id="gpt-4o", label="GPT-4o", reasoning="none",
                                        supports_temperature=True, max_output_tokens=16384)
    claude = ModelProfile.objects.create(
        provider=Provider.objects.create(name="anth", kind="anthropic"), model_id="claude", label="Claude",
        thinking_control="anthropic_budget", supports_budget=True, supports_temperature=False,
    )
    client.force_login(owner)
    html = client.get(f"/models/{plain.pk}/controls").content.decode()
    assert 'name="thinking"' not in html and 'name="effort"' not in html and 'name="budget_tokens"' not in html
    assert 'name="temperature"' in html and 'max="16384"' in html and 'name="system"' in html
    html = client.get(f"/models/{claude.pk}/controls").content.decode()
    assert 'name="thinking"' in html and 'name="budget_tokens"' in html
    assert 'name="temperature"' not in html and 'name="effort"' not in html


def test_it_stores_conversation_defaults_and_shows_them_again(client, owner, conversation, scripted_model):
    client.force_login(owner)
    response = client.post(
        f"/c/{conversation.pk}/settings",
        {"model": scripted_model.pk, "thinking": "on", "effort": "high", "max_tokens": "900", "system": "Be brief."},
    )
    assert response.status_code == 204
    conversation.refresh_from_db()
    assert conversation.settings == {"thinking": "on", "effort": "high", "max_tokens": 900, "system": "Be brief."}
    html = client.get(f"/models/{scripted_model.pk}/controls?conversation={conversation.pk}").content.decode()
    assert '<option value="high" selected>' in html and 'value="900"' in html and "Be brief." in html
    assert 'value="on" checked' in html
    bad = client.post(f"/c/{conversation.pk}/settings", {"model": scripted_model.pk, "effort": "max"})
    assert bad.status_code == 400 and "is not available for" in bad.content.decode()


def test_it_regenerates_an_answer_as_a_sibling_and_switches_between_branches(client, owner, conversation):
    client.force_login(owner)
    first = conversation.leaf
    response = client.post(f"/turns/{first.pk}/regenerate", HTTP_HX_REQUEST="true")
    # In place: no page load; the page's socket renders the new branch (branch_in_place.js).
    assert response.status_code == 200 and not response.has_header("HX-Redirect")
    assert response["HX-Trigger"] == "branchStarted" and response.content == b""
    conversation.refresh_from_db()
    second = conversation.leaf
    assert second.pk != first.pk and second.parent_id == first.parent_id and second.role == "assistant"
    assert second.params == first.params

    html = client.get(f"/c/{conversation.pk}/").content.decode()
    assert f'id="turn-{second.pk}"' in html and f'id="turn-{first.pk}"' not in html
    assert '<span class="sibling-pos">2/2</span>' in html

    client.post(f"/turns/{first.pk}/show")
    conversation.refresh_from_db()
    assert conversation.leaf_id == first.pk
    html = client.get(f"/c/{conversation.pk}/").content.decode()
    assert f'id="turn-{first.pk}"' in html and '<span class="sibling-pos">1/2</span>' in html


def test_it_runs_an_edited_prompt_as_a_new_branch_and_returns_to_the_newest_leaf(
    client, owner, conversation, scripted_model
):
    client.force_login(owner)
    original_prompt = conversation.leaf.parent
    # A follow-up on the original branch, so switching back has a deeper leaf to find.
    _, follow_bot = exchange(conversation, "And 17*24?", "408", parent=conversation.leaf, model=scripted_model)
    response = client.post(
        f"/turns/{original_prompt.pk}/edit", {"prompt": "What is 17*25?", "model": scripted_model.pk, "effort": "low"}
    )
    assert response.status_code == 302
    conversation.refresh_from_db()
    edited_answer = conversation.leaf
    edited_prompt = edited_answer.parent
    assert edited_prompt.content == "What is 17*25?" and edited_prompt.parent_id is None  # same parent: the root
    assert edited_answer.params == {"effort": "low"}
    assert Turn.objects.get(pk=original_prompt.pk).content == "What is 17*23?"  # the original stays

    client.post(f"/turns/{original_prompt.pk}/show")
    conversation.refresh_from_db()
    assert conversation.leaf_id == follow_bot.pk  # the newest leaf under the chosen sibling

    empty = client.post(f"/turns/{original_prompt.pk}/edit", {"prompt": "  ", "model": scripted_model.pk})
    assert empty.status_code == 400 and "empty" in empty.content.decode()
    # Sent by htmx, the reason is the answer itself, swapped into #notice; nothing is stored.
    turns = Turn.objects.count()
    refused = client.post(
        f"/turns/{original_prompt.pk}/edit", {"prompt": "  ", "model": scripted_model.pk}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 200 and not refused.has_header("HX-Trigger")
    assert refused.content.decode().startswith('<p class="error" role="alert">') and "empty" in refused.content.decode()
    assert Turn.objects.count() == turns


def test_the_inspector_shows_the_request_and_that_earlier_reasoning_was_left_out(
    client, owner, conversation, scripted_model
):
    first = conversation.leaf
    _, second = exchange(conversation, "And 17*24?", "408", parent=first, model=scripted_model)
    second.sent = {
        "method": "POST", "url": "https://example.test/v1/chat",
        "headers": {"authorization": "[redacted]", "content-type": "application/json"},
        "body": {"messages": [{"role": "user", "content": "What is 17*23?"},
                              {"role": "assistant", "content": "**391**"},
                              {"role": "user", "content": "And 17*24?"}]},
    }
    second.save()
    client.force_login(owner)
    html = client.get(f"/turns/{second.pk}/request").content.decode()
    assert "3 messages sent." in html
    assert "Scripted — left out" in html
    assert "[redacted]" in html and "https://example.test/v1/chat" in html
    assert "And 17*24?" in html


def test_raw_output_is_plain_text(client, owner, conversation):
    client.force_login(owner)
    bot = conversation.leaf
    raw = client.get(f"/turns/{bot.pk}/raw?part=content")
    assert raw["Content-Type"].startswith("text/plain") and raw.content.decode() == "**391**"
    assert client.get(f"/turns/{bot.pk}/raw?part=reasoning").content.decode() == "17*20 = 340, 17*3 = 51."


def test_markdown_export_labels_reasoning_apart_from_the_answer(client, owner, conversation):
    client.force_login(owner)
    md = client.get(f"/c/{conversation.pk}/export.md").content.decode()
    assert md.startswith("# Multiplying\n")
    assert "**Reasoning** (thought for 2.1 s · 40 tokens)\n\n> 17*20 = 340, 17*3 = 51." in md
    assert "**Answer**\n\n**391**" in md


def test_json_export_imports_back_as_a_new_conversation_with_every_branch(client, owner, conversation):
    client.force_login(owner)
    client.post(f"/turns/{conversation.leaf.pk}/regenerate")  # a second branch
    data = client.get(f"/c/{conversation.pk}/export.json").content
    doc = json.loads(data)
    assert doc["format"] == exports.FORMAT and len(doc["turns"]) == 3
    assert doc["turns"][1]["reasoning"] == "17*20 = 340, 17*3 = 51."

    response = client.post("/c/import", {"file": SimpleUploadedFile("c.json", data, "application/json")})
    assert response.status_code == 302
    imported = Conversation.objects.exclude(pk=conversation.pk).get()
    # The original is still there, so the copy is told apart by its title.
    assert imported.owner == owner and imported.title == "Multiplying (2)"
    turns = list(imported.turns.order_by("created_at", "pk"))
    assert [t.role for t in turns] == ["user", "assistant", "assistant"]
    assert turns[1].parent_id == turns[2].parent_id == turns[0].pk
    assert turns[1].reasoning == "17*20 = 340, 17*3 = 51." and turns[1].cost == Decimal("0.0123")
    assert turns[1].first_content_ms == 2400
    assert imported.leaf_id == turns[2].pk


def test_a_turn_exported_mid_stream_is_imported_as_interrupted(client, owner, conversation):
    client.force_login(owner)
    doc = exports.to_json(conversation)
    doc["turns"][1]["status"] = "streaming"
    conv = exports.import_conversation(owner, json.dumps(doc).encode())
    assert conv.turns.get(role="assistant").status == "interrupted"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(extra=1), "unknown keys: extra"),
        (lambda d: d.update(format="something-else"), '"format" must be'),
        (lambda d: d["turns"][1].update(parent=99), "turn 2 parent 99 is not an earlier turn"),
        (lambda d: d["turns"][1].update(role="system"), 'turn 2 role must be "user" or "assistant"'),
        (lambda d: d["turns"][1].update(prompt_tokens=-3), "turn 2 prompt_tokens must be a whole number"),
        (lambda d: d["turns"][1].update(status="thinking hard"), "turn 2 status must be one of"),
        (lambda d: d["turns"][0].update(content=7), "turn 1 content must be a string"),
        (lambda d: d["turns"][1].update(cost="lots"), "turn 2 cost must be a decimal"),
        (lambda d: d.update(turns=[]), '"turns" must be a non-empty list'),
    ],
)
def test_import_refuses_a_malformed_export_and_stores_nothing(client, owner, conversation, mutate, message):
    client.force_login(owner)
    doc = exports.to_json(conversation)
    mutate(doc)
    upload = SimpleUploadedFile("c.json", json.dumps(doc).encode(), "application/json")
    response = client.post("/c/import", {"file": upload})
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert Conversation.objects.count() == 1 and Turn.objects.count() == 2


def test_import_refuses_what_is_not_json(client, owner):
    client.force_login(owner)
    response = client.post("/c/import", {"file": SimpleUploadedFile("c.json", b"\xff{nope", "application/json")})
    assert response.status_code == 400 and "not valid JSON" in response.content.decode()
    assert not Conversation.objects.exists()
