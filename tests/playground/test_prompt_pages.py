"""The prompt picker, the prompt library page, ratings, structured answers, the
inspector's two calls and the dataset download, through the Django test client."""

from __future__ import annotations

import json
import re

import pytest

from playground.models import Conversation, Prompt, Rating, Turn
from playground.turns.services import start_exchange

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("builtin_prompts")]

SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}


@pytest.fixture
def conversation(owner, scripted_model):
    conv = Conversation.objects.create(owner=owner, title="Sums", model=scripted_model)
    user = Turn.objects.create(conversation=conv, role="user", content="2+2?")
    bot = Turn.objects.create(conversation=conv, parent=user, role="assistant", content="4", reasoning="2+2=4",
                              model=scripted_model, model_label="Scripted")
    conv.leaf = bot
    conv.save()
    return conv


def test_the_composer_offers_the_built_in_and_own_prompts_only(client, owner, stranger, conversation):
    Prompt.objects.create(owner=owner, name="Mine")
    Prompt.objects.create(owner=stranger, name="Sams")
    client.force_login(owner)
    page = client.get(f"/c/{conversation.pk}/").content.decode()
    assert 'name="prompt_id"' in page
    assert "Step by step · chain of thought" in page and ">Mine<" in page and "Sams" not in page


def test_an_exchange_keeps_a_snapshot_of_its_prompt_and_the_conversation_remembers_it(owner, scripted_model):
    prompt = Prompt.objects.create(owner=owner, name="Json", system="Sys", chain_of_thought=True, schema=SCHEMA)
    conv = Conversation.objects.create(owner=owner)
    turn = start_exchange(conv, "Hi", scripted_model, {"prompt_id": prompt.pk}).assistant_turn
    prompt.system = "Changed later"
    prompt.save()
    turn.refresh_from_db()
    assert turn.params == {"prompt_id": prompt.pk, "prompt_name": "Json", "prompt_system": "Sys",
                           "thinking_instructions": "", "schema": SCHEMA}
    conv.refresh_from_db()
    assert conv.prompt == prompt


def test_another_users_prompt_cannot_be_used(owner, stranger, scripted_model):
    from playground.turns.services import BadInput

    theirs = Prompt.objects.create(owner=stranger, name="Sams")
    conv = Conversation.objects.create(owner=owner)
    with pytest.raises(BadInput):
        start_exchange(conv, "Hi", scripted_model, {"prompt_id": theirs.pk})
    assert not conv.turns.exists()


def test_the_library_page_creates_edits_and_deletes_own_prompts(client, owner, stranger):
    client.force_login(owner)
    response = client.post("/prompts/", {"name": "Strict", "system": "Only JSON.", "chain_of_thought": "on",
                                         "thinking_instructions": "", "schema_text": json.dumps(SCHEMA)})
    assert response.status_code == 302
    prompt = Prompt.objects.get(name="Strict")
    assert (prompt.owner, prompt.chain_of_thought, prompt.schema) == (owner, True, SCHEMA)
    bad = client.post(f"/prompts/{prompt.pk}/", {"name": "Strict", "schema_text": '{"type": "nope"}'})
    assert bad.status_code == 400 and "Not a valid JSON Schema" in bad.content.decode()
    client.post(f"/prompts/{prompt.pk}/", {"name": "Strict 2", "system": "x"})
    prompt.refresh_from_db()
    assert (prompt.name, prompt.schema, prompt.chain_of_thought) == ("Strict 2", None, False)
    page = client.get("/prompts/").content.decode()
    assert "Step by step" in page and "(built in)" in page
    client.force_login(stranger)
    assert client.get(f"/prompts/{prompt.pk}/").status_code == 404
    assert client.post(f"/prompts/{prompt.pk}/delete").status_code == 404
    builtin = Prompt.objects.get(name="Step by step")
    assert client.post(f"/prompts/{builtin.pk}/delete").status_code == 404
    client.force_login(owner)
    client.post(f"/prompts/{prompt.pk}/delete")
    assert not Prompt.objects.filter(pk=prompt.pk).exists()


def test_a_rating_is_stored_shown_changed_and_cleared(client, owner, stranger, conversation):
    bot = conversation.leaf
    client.force_login(stranger)
    assert client.post(f"/turns/{bot.pk}/rate", {"value": "1"}).status_code == 404
    client.force_login(owner)
    assert client.post(f"/turns/{bot.parent_id}/rate", {"value": "1"}).status_code == 404  # a prompt, not an answer
    html = client.post(f"/turns/{bot.pk}/rate", {"value": "-1", "note": "wrong sum"}, HTTP_HX_REQUEST="true")
    assert Rating.objects.get(turn=bot).value == -1
    assert 'value="wrong sum"' in html.content.decode()
    client.post(f"/turns/{bot.pk}/rate", {"value": "1", "note": ""})
    assert (Rating.objects.get(turn=bot).value, Rating.objects.get(turn=bot).note) == (1, "")
    page = client.get(f"/c/{conversation.pk}/").content.decode()
    assert 'class="tool icon-button chosen" aria-pressed="true" aria-label="Good answer"' in page
    client.post(f"/turns/{bot.pk}/rate", {"value": "0"})
    assert not Rating.objects.filter(turn=bot).exists()
    assert client.post(f"/turns/{bot.pk}/rate", {"value": "5"}).status_code == 400


def test_a_structured_answer_is_shown_formatted_and_an_invalid_one_is_reported(client, owner, conversation):
    bot = conversation.leaf
    bot.params = {"schema": SCHEMA}
    bot.content = '{"answer":4}'
    bot.save()
    client.force_login(owner)
    page = client.get(f"/c/{conversation.pk}/").content.decode()
    assert '<pre class="json"><code>{\n  &quot;answer&quot;: 4\n}</code></pre>' in page
    assert "Matches the JSON schema." in page
    bot.content = '{"answer": "four"}'
    bot.save()
    page = client.get(f"/c/{conversation.pk}/").content.decode()
    assert "does not match the JSON schema" in page and "$.answer: &#x27;four&#x27; is not of type" in page
    assert "&quot;four&quot;" in page  # kept as written


def test_the_inspector_shows_both_chain_of_thought_calls(client, owner, conversation):
    bot = conversation.leaf
    first = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "user", "content": "Think."}]}
    second = {"messages": [*first["messages"], {"role": "assistant", "content": "2+2=4"},
                           {"role": "user", "content": "Considering the above, return a final result."}]}
    call = {"method": "POST", "url": "http://x/v1/chat/completions", "headers": {}}
    bot.sent = {**call, "body": first, "calls": [
        {"step": "thinking", **call, "body": first, "usage": {"prompt_tokens": 5, "completion_tokens": 3}},
        {"step": "answer", **call, "body": second, "usage": {"prompt_tokens": 9, "completion_tokens": 1}},
    ]}
    bot.save()
    client.force_login(owner)
    html = client.get(f"/turns/{bot.pk}/request").content.decode()
    assert "Call 1: thinking" in html and "Call 2: final answer" in html
    assert "Considering the above, return a final result." in html
    assert "4 messages · 9 in · 1 out" in html


def test_the_dataset_page_previews_and_downloads_only_the_users_rows(client, owner, stranger, conversation):
    other = Conversation.objects.create(owner=stranger)
    q = Turn.objects.create(conversation=other, role="user", content="theirs")
    Turn.objects.create(conversation=other, parent=q, role="assistant", content="secret", reasoning="r")
    client.force_login(owner)
    assert "Download JSONL" in client.get("/datasets/").content.decode()
    preview = client.get("/datasets/preview", {"format": "think_inline"}).json()
    assert (preview["written"], preview["skipped"]) == (1, {})
    response = client.get("/datasets/export.jsonl", {"format": "think_inline"})
    body = b"".join(response.streaming_content).decode()
    rows = [json.loads(line) for line in body.splitlines()]
    assert [r["messages"][-1]["content"] for r in rows] == ["<think>\n2+2=4\n</think>\n\n4"]
    assert response["Content-Disposition"] == 'attachment; filename="dataset-think_inline.jsonl"'
    assert client.get("/datasets/preview", {"format": "nope"}).status_code == 400


def test_a_refused_download_sends_nothing(client, owner, conversation):
    q = Turn.objects.create(conversation=conversation, role="user", content="again?")
    Turn.objects.create(conversation=conversation, parent=q, role="assistant", content="no reasoning")
    client.force_login(owner)
    args = {"format": "cot", "missing_reasoning": "fail"}
    assert client.get("/datasets/preview", args).status_code == 409
    response = client.get("/datasets/export.jsonl", args)
    assert response.status_code == 409 and "has no reasoning" in response.content.decode()


def test_each_compare_column_runs_with_its_own_prompt(owner, scripted_model):
    from playground.compare.services import create_comparison

    mine = Prompt.objects.create(owner=owner, name="Mine", chain_of_thought=True)
    step = Prompt.objects.get(name="Step by step")
    data = {"prompt": "2+2?", "col0-model": str(scripted_model.pk), "col0-prompt_id": str(mine.pk),
            "col1-model": str(scripted_model.pk), "col1-prompt_id": str(step.pk)}
    comparison, started = create_comparison(owner, data)
    names = [s.assistant_turn.params.get("prompt_name") for s in started]
    assert names == ["Mine", "Step by step"]
    assert [c.conversation.prompt for c in comparison.columns.all()] == [mine, step]


def test_regenerate_and_edit_send_the_picked_prompt_along(client, owner, conversation, scripted_model):
    client.force_login(owner)
    page = client.get(f"/c/{conversation.pk}/").content.decode()
    # Every request that starts or saves a turn's controls carries the picked prompt.
    includes = [i for i in re.findall(r'hx-include="([^"]*)"', page) if "#controls" in i]
    assert len(includes) >= 3 and all("#prompt-picker" in i for i in includes)
    step = Prompt.objects.get(name="Step by step")
    client.post(f"/turns/{conversation.leaf.pk}/regenerate", {"model": scripted_model.pk, "prompt_id": step.pk})
    newest = Turn.objects.filter(role="assistant").latest("pk")
    assert newest.params["prompt_name"] == "Step by step"


def test_an_answer_whose_prompt_was_deleted_regenerates_with_the_copy_it_kept(client, owner, scripted_model):
    prompt = Prompt.objects.create(owner=owner, name="Gone soon", system="Sys", chain_of_thought=True)
    conv = Conversation.objects.create(owner=owner)
    first = start_exchange(conv, "Hi", scripted_model, {"prompt_id": prompt.pk}).assistant_turn
    first.status = Turn.Status.COMPLETE
    first.save()
    prompt.delete()
    client.force_login(owner)
    client.post(f"/turns/{first.pk}/regenerate")
    again = Turn.objects.filter(role="assistant").latest("pk")
    assert again.pk != first.pk
    assert (again.params["prompt_name"], again.params["prompt_system"]) == ("Gone soon", "Sys")


def test_a_conversations_own_schema_wins_over_the_prompts(owner, scripted_model):
    from playground.turns.services import BadInput, build_request, clean_params

    own = {"type": "object", "required": ["label"]}
    prompt = Prompt.objects.create(owner=owner, name="Json", schema=SCHEMA)
    params = clean_params({"answer_schema": json.dumps(own), "prompt_id": str(prompt.pk)}, scripted_model)
    assert params["answer_schema"] == own
    conv = Conversation.objects.create(owner=owner)
    turn = start_exchange(conv, "Hi", scripted_model, params).assistant_turn
    assert build_request(turn).response_schema == own
    turn.content, turn.status = '{"answer": 4}', Turn.Status.COMPLETE
    from playground.prompts.answers import structured_answer

    assert structured_answer(turn).errors == ["'label' is a required property"]
    for bad in ("{nope", '{"type": "nonsense"}'):
        with pytest.raises(BadInput, match="answer schema"):
            clean_params({"answer_schema": bad}, scripted_model)
