"""What goes back to the provider: a second turn carries no reasoning from the first."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from playground.models import Conversation, ModelProfile, Provider, Turn
from playground.streaming.launch import launch_stored
from playground.turns.services import start_exchange
from reasoning.testing import FakeUpstream, Script, openai_chat_sse

pytestmark = pytest.mark.django_db(transaction=True)

FIRST_REASONING = "SECRET-THOUGHT: the user wants 17*23, which is 391."


def model_at(url: str, **fields) -> ModelProfile:
    provider = Provider.objects.create(name="fake", kind="openai", base_url=url)
    provider.set_api_key("sk-test-123456789")
    provider.save()
    return ModelProfile.objects.create(provider=provider, model_id="fake-r1", label="Fake R1", **fields)


async def ask(conversation, model, prompt):
    exchange = await database_sync_to_async(start_exchange)(conversation, prompt, model, {})
    (launched,) = await launch_stored([exchange])
    assert launched.run is not None and launched.run.task is not None, launched.error
    await launched.run.task
    return await database_sync_to_async(Turn.objects.get)(pk=exchange.assistant_turn.pk)


@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("reasoning_content", {"reasoning": "native"}),  # DeepSeek style
        ("reasoning", {"reasoning": "native"}),  # vLLM / OpenRouter / Groq style
        ("markup", {"reasoning": "markup", "markup": "think"}),  # <think> inside the text
    ],
)
async def test_the_second_request_carries_no_reasoning_from_the_first(owner, field, fields):
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=openai_chat_sse(FIRST_REASONING, "391", chunk_chars=7, field=field)))
        up.enqueue(Script(chunks=openai_chat_sse("Adding one.", "392", chunk_chars=7, field=field)))
        model = await database_sync_to_async(model_at)(up.url, **fields)
        conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)

        first = await ask(conv, model, "What is 17*23?")
        assert (first.reasoning, first.content, first.status) == (FIRST_REASONING, "391", "complete")
        second = await ask(conv, model, "Plus one?")
        assert second.content == "392"

        sent = up.requests[1].json
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][1]["content"] == "391"
    body = json.dumps(sent)
    assert "SECRET-THOUGHT" not in body
    assert "reasoning_content" not in sent["messages"][1]
    # What the context inspector shows is what was sent, with the key redacted.
    assert second.sent["body"] == sent
    assert "sk-test-123456789" not in json.dumps(second.sent)
