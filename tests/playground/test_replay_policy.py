"""The replay policy in the app: `ask --replay`, `ask --json`'s `context_notes`, the
conversation's override, a model's `replay` from the providers file, the notes kept
with the turn's request record, failed prompts left out, Inline answers' tags never
sent back. The provider is a loopback fake; what it received is the proof."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from playground.models import Conversation, ModelProfile, Provider, Turn
from reasoning.testing import FakeUpstream, Script, openai_chat_sse

pytestmark = pytest.mark.django_db(transaction=True)


def ask(*args: str) -> dict:
    out = io.StringIO()
    try:
        call_command("ask", "--json", "--user", "olivia", *args, stdout=out, stderr=io.StringIO())
    except CommandError as error:
        if error.returncode != 1:  # 1: the provider failed; the JSON still says how
            raise
    return json.loads(out.getvalue())


def glm(url: str, **fields) -> ModelProfile:
    provider = Provider.objects.create(name="fake-glm", kind="openai", base_url=url + "/v1")
    return ModelProfile.objects.create(provider=provider, model_id="glm-4.6", label="GLM",
                                       thinking_control="thinking_type", **fields)


def answer(n: int) -> Script:
    return Script(chunks=openai_chat_sse(f"thinking {n}", f"answer {n}"))


def kinds(result: dict) -> list[str]:
    return [note["kind"] for note in result["context_notes"]]


def test_ask_takes_a_policy_and_prints_the_notes(owner):
    with FakeUpstream() as up:
        glm(up.url)
        up.enqueue(answer(1), answer(2), answer(3))
        first = ask("--model", "GLM", "question 1")
        assert first["context_notes"] == []
        conversation = str(first["conversation"])
        kept = ask("--model", "GLM", "--conversation", conversation, "--replay", "preserved", "question 2")
        stripped = ask("--model", "GLM", "--conversation", conversation, "--replay", "strip", "question 3")
        bodies = [r.json for r in up.requests]
    assert bodies[1]["messages"][1] == {"role": "assistant", "content": "answer 1", "reasoning_content": "thinking 1"}
    assert bodies[1]["thinking"]["clear_thinking"] is False  # GLM's preservation flag
    assert kinds(kept) == ["kept_reasoning", "preservation_flag"]
    assert all("thinking " not in json.dumps(m) for m in bodies[2]["messages"])
    assert kinds(stripped) == ["stripped_reasoning", "stripped_reasoning"]
    assert all(set(n) == {"kind", "detail"} and n["detail"] for n in stripped["context_notes"])
    # Kept with the turn's request record, where the inspector reads it.
    turn = Turn.objects.get(pk=stripped["turn"])
    assert turn.sent["context_notes"] == stripped["context_notes"]
    assert turn.params["replay_policy"] == "strip"


def test_a_policy_that_does_not_exist_is_refused(owner):
    with FakeUpstream() as up:
        glm(up.url)
        with pytest.raises(CommandError, match="invalid choice: 'sometimes'"):
            call_command("ask", "--json", "--model", "GLM", "--replay", "sometimes", "q", stdout=io.StringIO())
        assert up.requests == []


def test_a_failed_prompt_is_left_out_of_the_next_request_with_a_note(owner):
    with FakeUpstream() as up:
        glm(up.url)
        up.enqueue(answer(1), Script.error(500, {"error": {"message": "boom"}}), answer(3))
        first = ask("--model", "GLM", "question 1")
        conversation = str(first["conversation"])
        failed = ask("--model", "GLM", "--conversation", conversation, "the failed prompt")
        assert failed["status"] == "error"
        after = ask("--model", "GLM", "--conversation", conversation, "question 3")
        body = up.requests[-1].json
    users = [m["content"] for m in body["messages"] if m["role"] == "user"]
    assert users == ["question 1", "question 3"]
    assert "dropped_failed_turn" in kinds(after)
    assert "the failed prompt" in next(n["detail"] for n in after["context_notes"]
                                       if n["kind"] == "dropped_failed_turn")


def test_an_inline_answers_tags_are_never_sent_back(owner):
    with FakeUpstream() as up:
        glm(up.url)
        up.enqueue(answer(1), answer(2))
        first = ask("--model", "GLM", "--reasoning", "inline", "question 1")
        assert first["content"].startswith("<think>")
        after = ask("--model", "GLM", "--conversation", str(first["conversation"]), "question 2")
        body = up.requests[-1].json
    assert body["messages"][1] == {"role": "assistant", "content": "answer 1"}
    assert "stripped_inline_markup" in kinds(after)


def test_the_conversations_override_and_the_models_own_policy(owner):
    with FakeUpstream() as up:
        model = glm(up.url, replay="strip")
        assert model.spec().options["replay"] == "strip"
        up.enqueue(answer(1), answer(2))
        first = ask("--model", "GLM", "question 1")
        Conversation.objects.filter(pk=first["conversation"]).update(replay_policy="preserved")
        after = ask("--model", "GLM", "--conversation", str(first["conversation"]), "question 2")
        body = up.requests[-1].json
    assert body["messages"][1]["reasoning_content"] == "thinking 1"
    assert Turn.objects.get(pk=after["turn"]).params["replay_policy"] == "preserved"


def test_the_providers_file_sets_a_models_replay(tmp_path: Path):
    path = tmp_path / "providers.toml"
    path.write_text(
        '[[providers]]\nname = "glm"\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
        '  [[providers.models]]\n  id = "glm-4.6"\n  label = "GLM"\n  replay = "preserved"\n'
    )
    call_command("providers", "import", str(path), stdout=io.StringIO())
    assert ModelProfile.objects.get(label="GLM").replay == "preserved"
    path.write_text(path.read_text().replace('"preserved"', '"always"'))
    with pytest.raises(CommandError, match="replay"):
        call_command("providers", "import", str(path), stdout=io.StringIO())


def test_the_admin_sets_a_models_replay_and_refuses_an_unknown_one(client, admin_user):
    client.force_login(admin_user)
    provider = Provider.objects.create(name="g", kind="gemini")
    data = {
        "provider": provider.pk, "model_id": "gemini-2.5-pro", "label": "G", "reasoning": "native",
        "thinking_control": "", "efforts": "[]", "options": "{}", "enabled": "on", "position": "0",
        "supports_temperature": "on", "replay": "always",
    }
    response = client.post("/admin/playground/modelprofile/add/", data)
    assert response.status_code == 200 and not ModelProfile.objects.exists()
    assert "always" in response.content.decode()
    response = client.post("/admin/playground/modelprofile/add/", {**data, "replay": "preserved"})
    assert response.status_code == 302
    model = ModelProfile.objects.get(label="G")
    assert model.replay == "preserved" and model.spec().options["replay"] == "preserved"
