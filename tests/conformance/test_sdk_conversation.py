"""Three turns of one conversation through the real run and store, per provider kind:
every request body we send is checked by the provider's own SDK types, for each replay
policy. Under "preserved" what a provider takes back (signatures, redacted thinking,
encrypted reasoning items, thought signatures, reasoning_details, Ollama's thinking) is
in the next request, unchanged; under "strip" and "interleaved" (no tool chain here)
none of an earlier turn's reasoning is.

This is the path a user takes: `start_exchange` stores the turns and builds the request, `launch_stored` drives
the adapter and saves the replay data for the next turn's request.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from channels.db import database_sync_to_async

from playground.models import Conversation, ModelProfile, Provider, Turn
from playground.streaming.launch import launch_stored
from playground.turns.services import start_exchange
from reasoning.testing import FakeUpstream, Script, openai_chat_sse, openai_responses_sse
from reasoning.testing.formats_native import anthropic_sse, gemini_sse, ollama_ndjson
from tests.conformance import oracle

pytestmark = pytest.mark.django_db(transaction=True)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class Case:
    kind: str
    model: dict[str, Any]
    stream: Callable[[int], list[bytes]]  # turn number -> the upstream's answer
    check: Callable[[dict[str, Any]], Any]  # the SDK's verdict on a body we sent
    replayed: Callable[[dict[str, Any], int], Any]  # what turn n's body must carry back
    params: dict[str, Any]
    content_type: str = "text/event-stream"


def _responses_replayed(body: dict[str, Any], n: int) -> None:
    items = body["input"]
    for earlier in range(1, n):
        [reasoning] = [i for i in items if i.get("type") == "reasoning" and i["id"] == f"rs_{earlier}"]
        assert reasoning["encrypted_content"] == f"enc-{earlier}"
        assert reasoning["summary"] == [{"type": "summary_text", "text": f"thought {earlier}"}]
        message = items[items.index(reasoning) + 1]
        assert message["type"] == "message" and message["content"][0]["text"] == f"answer {earlier}"


def _responses_stream(n: int) -> list[bytes]:
    chunks = openai_responses_sse(f"thought {n}", f"answer {n}", encrypted_content=f"enc-{n}")
    return [c.replace(b"rs_fake", f"rs_{n}".encode()).replace(b"msg_fake", f"msg_{n}".encode()) for c in chunks]


def _anthropic_replayed(body: dict[str, Any], n: int) -> None:
    assistants = [m for m in body["messages"] if m["role"] == "assistant"]
    assert len(assistants) == n - 1
    for earlier, message in enumerate(assistants, start=1):
        assert message["content"] == [
            {"type": "thinking", "thinking": f"thought {earlier}", "signature": f"sig-{earlier}"},
            {"type": "redacted_thinking", "data": f"redacted-{earlier}"},
            {"type": "text", "text": f"answer {earlier}"},
        ]


def _gemini_replayed(body: dict[str, Any], n: int) -> None:
    models = [c for c in body["contents"] if c["role"] == "model"]
    assert len(models) == n - 1
    for earlier, content in enumerate(models, start=1):
        signed = [p for p in content["parts"] if p.get("thoughtSignature")]
        assert [p["thoughtSignature"] for p in signed] == [b64(f"sig-{earlier}")]
        assert "".join(p.get("text", "") for p in content["parts"] if not p.get("thought")) == f"answer {earlier}"


def _openrouter_replayed(body: dict[str, Any], n: int) -> None:
    assistants = [m for m in body["messages"] if m["role"] == "assistant"]
    assert len(assistants) == n - 1
    for earlier, message in enumerate(assistants, start=1):
        assert message["reasoning_details"] == [
            {
                "type": "reasoning.text",
                "text": f"thought {earlier}",
                "format": "anthropic-claude-v1",
                "index": 0,
                "signature": f"sig-{earlier}",
            }
        ]
        assert "reasoning_content" not in message


def _ollama_replayed(body: dict[str, Any], n: int) -> None:
    assistants = [m for m in body["messages"] if m["role"] == "assistant"]
    assert [m["content"] for m in assistants] == [f"answer {i}" for i in range(1, n)]
    assert [m["thinking"] for m in assistants] == [f"thought {i}" for i in range(1, n)]


def _nothing_replayed(body: dict[str, Any], n: int) -> None:
    sent = json.dumps(body)
    for earlier in range(1, n):
        assert f"answer {earlier}" in sent
        for secret in (f"thought {earlier}", f"sig-{earlier}", b64(f"sig-{earlier}"), f"enc-{earlier}",
                       f"redacted-{earlier}"):
            assert secret not in sent


CASES = {
    "openai-responses": Case(
        kind="openai-responses",
        model={"model_id": "gpt-5-mini", "thinking_control": "responses", "efforts": ["low", "medium", "high"]},
        stream=_responses_stream,
        check=oracle.check_responses_body,
        replayed=_responses_replayed,
        params={"effort": "low"},
    ),
    "anthropic": Case(
        kind="anthropic",
        model={
            "model_id": "claude-sonnet-4-5",
            "thinking_control": "anthropic_budget",
            "efforts": ["low", "medium", "high"],
            "supports_budget": True,
        },
        stream=lambda n: anthropic_sse(
            f"thought {n}", f"answer {n}", signature=f"sig-{n}", redacted=f"redacted-{n}"
        ),
        check=oracle.check_anthropic_body,
        replayed=_anthropic_replayed,
        params={"thinking": "on"},
    ),
    "gemini": Case(
        kind="gemini",
        model={"model_id": "gemini-2.5-flash", "thinking_control": "gemini_budget", "supports_budget": True},
        stream=lambda n: gemini_sse(f"thought {n}", f"answer {n}", signature=b64(f"sig-{n}")),
        check=oracle.check_gemini_body,
        replayed=_gemini_replayed,
        params={"thinking": "on"},
    ),
    "openrouter": Case(
        kind="openai",
        model={"model_id": "anthropic/claude-sonnet-4.5", "thinking_control": "openrouter"},
        stream=lambda n: openai_chat_sse(
            f"thought {n}", f"answer {n}", field="openrouter", signature=f"sig-{n}", chunk_chars=100
        ),
        check=oracle.check_chat_body,
        replayed=_openrouter_replayed,
        params={"thinking": "on"},
    ),
    "ollama": Case(
        kind="ollama",
        model={"model_id": "qwen3:8b", "thinking_control": "ollama_think"},
        stream=lambda n: ollama_ndjson(f"thought {n}", f"answer {n}"),
        check=oracle.check_ollama_body,
        replayed=_ollama_replayed,
        params={"thinking": "on"},
        content_type="application/x-ndjson",
    ),
}


def _model(case: Case, url: str, policy: str) -> ModelProfile:
    base = url + "/v1" if case.kind in ("openai", "openai-responses") else url
    provider = Provider.objects.create(name=f"fake-{case.kind}", kind=case.kind, base_url=base)
    provider.set_api_key("sk-test-123456789")
    provider.save()
    fields = {**case.model, "options": {**case.model.get("options", {}), "replay": policy}}
    return ModelProfile.objects.create(provider=provider, label=f"Fake {case.kind}", **fields)


async def _ask(conversation: Conversation, model: ModelProfile, prompt: str, params: dict[str, Any]) -> Turn:
    exchange = await database_sync_to_async(start_exchange)(conversation, prompt, model, params)
    (launched,) = await launch_stored([exchange])
    assert launched.run is not None and launched.run.task is not None, launched.error
    await launched.run.task
    return await database_sync_to_async(Turn.objects.get)(pk=exchange.assistant_turn.pk)


@pytest.mark.parametrize("policy", ["strip", "interleaved", "preserved"])
@pytest.mark.parametrize("name", list(CASES))
async def test_three_turns_are_what_the_sdk_accepts_under_each_replay_policy(owner, name, policy):
    case = CASES[name]
    async with FakeUpstream() as up:
        for n in (1, 2, 3):
            up.enqueue(Script(chunks=case.stream(n), headers={"content-type": case.content_type}))
        model = await database_sync_to_async(_model)(case, up.url, policy)
        conversation = await database_sync_to_async(Conversation.objects.create)(owner=owner)
        for n in (1, 2, 3):
            turn = await _ask(conversation, model, f"question {n}", case.params)
            assert (turn.status, turn.error) == ("complete", None)
            assert (turn.reasoning, turn.content) == (f"thought {n}", f"answer {n}")
        bodies = [r.json for r in up.requests]
    for n, body in enumerate(bodies, start=1):
        case.check(body)
        (case.replayed if policy == "preserved" else _nothing_replayed)(body, n)
