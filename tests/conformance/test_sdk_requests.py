"""Every adapter × every thinking control × a matrix of control settings × turns 1, 2
and 3: the body `prepare` builds is checked by the provider's own SDK types.

Earlier turns are real: each comes from running the adapter over a fake stream that
carries what the provider sends (signatures, redacted thinking, encrypted reasoning
items, thought signatures, reasoning_details) and folding its `ReplayData` the way
the run stores it (`reasoning.replay.fold`). A turn of another model sits in the
history too; its replay data must never be sent.

A setting the model cannot honour must be refused (`ValueError` from `prepare`)
rather than dropped: a setting that is accepted must change the body.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from reasoning import replay as stored_replay
from reasoning.adapters import get_adapter
from reasoning.events import ContentDelta, ReasoningDelta, ReplayData
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, Thinking
from reasoning.testing import FakeUpstream, Script, openai_chat_sse, openai_responses_sse
from reasoning.testing.formats_native import anthropic_sse, gemini_sse, ollama_ndjson
from reasoning.wire import make_client
from tests.conformance import oracle


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass(frozen=True)
class Kind:
    kind: str
    stream: Callable[[int], list[bytes]]  # earlier turn n as the provider streams it
    check: Callable[[dict[str, Any]], Any]
    content_type: str = "text/event-stream"
    path: str = ""


KINDS = {
    "openai": Kind(
        "openai",
        lambda n: openai_chat_sse(f"thought {n}", f"answer {n}", field="openrouter", signature=f"sig-{n}"),
        oracle.check_chat_body,
        path="/v1",
    ),
    "openai-responses": Kind(
        "openai-responses",
        lambda n: [
            c.replace(b"rs_fake", f"rs_{n}".encode())
            for c in openai_responses_sse(f"thought {n}", f"answer {n}", encrypted_content=f"enc-{n}")
        ],
        oracle.check_responses_body,
        path="/v1",
    ),
    "anthropic": Kind(
        "anthropic",
        lambda n: anthropic_sse(f"thought {n}", f"answer {n}", signature=f"sig-{n}", redacted=f"red-{n}"),
        oracle.check_anthropic_body,
    ),
    "gemini": Kind(
        "gemini",
        lambda n: gemini_sse(f"thought {n}", f"answer {n}", signature=b64(f"sig-{n}")),
        oracle.check_gemini_body,
    ),
    "ollama": Kind(
        "ollama",
        lambda n: ollama_ndjson(f"thought {n}", f"answer {n}"),
        oracle.check_ollama_body,
        content_type="application/x-ndjson",
    ),
}

# (kind, control, model fields): every control of reasoning.controls, on the kind it serves.
CONTROLS: list[tuple[str, str, dict[str, Any]]] = [
    ("openai", "none", {}),
    ("openai", "reasoning_effort", {"efforts": ("none", "low", "medium", "high")}),
    ("openai", "chat_template_kwargs", {"efforts": ("low", "medium", "high")}),
    ("openai", "chat_template_kwargs_thinking", {}),
    ("openai", "chat_template_args", {}),
    ("openai", "thinking_type", {"efforts": ("high",), "options": {"echo_reasoning_content": True}}),
    ("openai", "openrouter", {"efforts": ("none", "low", "medium", "high"), "options": {"replay": "preserved"}}),
    ("openai", "together", {"options": {"echo_reasoning_field": "reasoning"}}),
    ("openai", "groq", {"efforts": ("none", "low", "medium", "high")}),
    ("openai-responses", "responses", {"efforts": ("none", "low", "medium", "high")}),
    ("openai-responses", "responses", {"efforts": ("low", "high"), "options": {"replay": "preserved"}}),
    ("anthropic", "anthropic_budget", {"efforts": ("low", "medium", "high"), "options": {"replay_thinking": True}}),
    ("anthropic", "anthropic_adaptive", {"efforts": ("low", "medium", "high")}),
    ("gemini", "gemini_budget", {"efforts": ("low", "medium", "high"), "options": {"replay": "preserved"}}),
    ("gemini", "gemini_level", {"efforts": ("low", "high")}),
    ("ollama", "ollama_think", {"efforts": ("low", "medium", "high"), "options": {"replay_thinking": True}}),
]

SETTINGS: dict[str, Thinking] = {
    "default": Thinking(),
    "on": Thinking(mode="on"),
    "off": Thinking(mode="off"),
    "effort-high": Thinking(effort="high"),
    "effort-low-no-text": Thinking(effort="low", include_reasoning=False),
    "budget-2048": Thinking(mode="on", budget_tokens=2048),
}

# Fields an OpenAI-compatible body may carry beyond OpenAI's own types, per control
# (what SDK users would pass through `extra_body`), and on assistant messages.
VENDOR_TOP: dict[str, set[str]] = {
    "none": set(),
    "reasoning_effort": set(),
    "chat_template_kwargs": {"chat_template_kwargs"},
    "chat_template_kwargs_thinking": {"chat_template_kwargs"},
    "chat_template_args": {"chat_template_args"},
    "thinking_type": {"thinking"},
    "openrouter": {"reasoning"},
    "together": {"reasoning"},
    "groq": {"reasoning_format", "include_reasoning"},
}
# Controls whose model reasons whatever is sent: "on" alone may leave the body as is.
THINKS_ANYWAY = {"reasoning_effort", "responses", "gemini_level", "groq"}

_HISTORY: dict[str, list[Message]] = {}


async def _history(kind: Kind, model_id: str) -> list[Message]:
    """Two finished exchanges of this kind and model, as the run would store them, plus
    one exchange of another model of the same kind carrying its own replay data."""
    key = f"{kind.kind}:{model_id}"
    if key in _HISTORY:
        return _HISTORY[key]
    messages: list[Message] = []
    async with FakeUpstream() as up, make_client(read_timeout=5) as client:
        for n, source in ((1, model_id), (2, "another-model"), (3, model_id)):
            up.enqueue(Script(chunks=kind.stream(n), headers={"content-type": kind.content_type}))
            request = ChatRequest(
                provider=ProviderConfig(kind.kind, up.url + kind.path, "sk-test"),
                model=ModelSpec(source),
                messages=[Message("user", f"question {n}")],
            )
            reasoning, content, replay = [], [], None
            async for event in get_adapter(kind.kind).stream(request, client):
                if isinstance(event, ReasoningDelta):
                    reasoning.append(event.text)
                elif isinstance(event, ContentDelta):
                    content.append(event.text)
                elif isinstance(event, ReplayData):
                    replay = stored_replay.fold(replay, event.payload)
            assert replay is not None or kind.kind == "ollama", f"{kind.kind} gave no replay data"
            messages += [
                Message("user", f"question {n}"),
                Message(
                    "assistant",
                    "".join(content),
                    reasoning="".join(reasoning),
                    replay=replay,
                    source=f"{kind.kind}:{source}",
                ),
            ]
    _HISTORY[key] = messages
    return messages


def _request(
    kind: Kind, control: str, fields: dict[str, Any], thinking: Thinking, history: list[Message]
) -> ChatRequest:
    model = ModelSpec("the-model", thinking_control=control, **fields)
    return ChatRequest(
        provider=ProviderConfig(kind.kind, "http://127.0.0.1:9" + kind.path, "sk-test"),
        model=model,
        messages=[*history, Message("user", "next question")],
        system="Be brief.",
        thinking=thinking,
    )


def _prepare(request: ChatRequest) -> dict[str, Any] | ValueError:
    try:
        body: dict[str, Any] = get_adapter(request.provider.kind).prepare(request).json
    except ValueError as refused:
        return refused
    return body


CASES = [
    pytest.param(kind, control, fields, setting, turn, id=f"{control}-{setting}-turn{turn}")
    for kind, control, fields in CONTROLS
    for setting in SETTINGS
    for turn in (1, 2, 3)
]
# Two entries of one control differ by their replay policy: their ids say which.
CASES = [
    pytest.param(*case.values, id=case.id + ("-preserved" if "replay" in case.values[2].get("options", {}) else ""))
    for case in CASES
]


@pytest.mark.parametrize(("kind_name", "control", "fields", "setting", "turn"), CASES)
async def test_the_sdk_accepts_the_body_and_no_setting_is_dropped(kind_name, control, fields, setting, turn):
    kind = KINDS[kind_name]
    full = await _history(kind, "the-model")
    history = full[: 2 * (turn - 1)] if turn < 3 else full  # turn 3: after the other model's turn too
    body = _prepare(_request(kind, control, fields, SETTINGS[setting], history))
    default = _prepare(_request(kind, control, fields, Thinking(), history))
    assert not isinstance(default, ValueError), f"the default setting was refused: {default}"
    if isinstance(body, ValueError):
        assert str(body), "a refusal says why"
        return
    vendor = kind.check(body)
    if kind_name == "openai":
        assert set(vendor.top) <= VENDOR_TOP[control], f"undocumented vendor fields {vendor.top}"
        allowed = {"reasoning_details"} | ({"reasoning_content"} if control == "thinking_type" else set())
        allowed |= {"reasoning"} if control == "together" else set()
        assert all(set(extra) <= allowed for extra in vendor.messages), vendor.messages
    if setting == "off" or setting.startswith("effort") or (setting == "on" and control not in THINKS_ANYWAY):
        assert body != default, f"{setting} was accepted but changed nothing in the body"
    if setting.startswith("effort"):
        lowered = json.dumps(body).lower()
        assert "low" in lowered or "high" in lowered or "budget" in lowered
    _check_replay(kind_name, control, fields, body, turn)


def _check_replay(kind: str, control: str, fields: dict[str, Any], body: dict[str, Any], turn: int) -> None:
    text = json.dumps(body)
    assert "sig-2" not in text and "enc-2" not in text and "red-2" not in text, "another model's replay was sent"
    assert b64("sig-2") not in text
    if turn == 1:
        return
    options = fields.get("options", {})
    # Across user turns an earlier answer's reasoning goes back only under "preserved"
    # (the model option `replay`, or the legacy `replay_thinking`); there is no tool chain.
    # (An echo option on a model of no known family means "preserved" too.)
    kept = options.get("replay") == "preserved" or bool(
        options.get("replay_thinking") or options.get("echo_reasoning_content") or options.get("echo_reasoning_field")
    )
    if kind == "openai-responses":
        assert ('"encrypted_content": "enc-1"' in text) == kept
    elif kind == "anthropic":
        assert ('"signature": "sig-1"' in text) == kept
        assert ('"data": "red-1"' in text) == kept
    elif kind == "gemini":
        assert (b64("sig-1") in text) == kept
    elif kind == "openai":
        assert ('"signature": "sig-1"' in text) == kept  # OpenRouter's reasoning_details, unmodified
        echo = options.get("echo_reasoning_field") or (
            "reasoning_content" if options.get("echo_reasoning_content") else None
        )
        sent = echo if echo and (kept or options.get("echo_reasoning_content")) else None
        first = next(m for m in body["messages"] if m["role"] == "assistant")
        assert {k for k in ("reasoning_content", "reasoning") if k in first} == ({sent} if sent else set())
        if sent:
            assert first[sent] == ("thought 1" if kept else "")
    elif kind == "ollama":
        assert ("thought 1" in text) == kept
    if turn == 3:
        assert "thought 2" not in text, "another model's reasoning was echoed"
