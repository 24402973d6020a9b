"""Reasoning modes per request (separate / inline / hidden) for a native-field and a
markup model, and the per-model `extra_body` merged into every request."""

from __future__ import annotations

import pytest

from reasoning.adapters import get_adapter
from reasoning.adapters.selection import adapter_for
from reasoning.events import Usage, fold_text
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, ReasoningStyle, Thinking
from reasoning.testing import FakeUpstream, Script, openai_chat_sse
from reasoning.wire import make_client

THOUGHT = "17*20 = 340, 17*3 = 51."
ANSWER = "391"
USAGE = Usage(prompt_tokens=9, completion_tokens=30, reasoning_tokens=22)

MODELS = {
    "native": (ModelSpec("deepseek-reasoner"), "reasoning_content"),
    "markup": (ModelSpec("qwen3", reasoning=ReasoningStyle.MARKUP, markup="think"), "markup"),
}
EXPECTED = {
    "separate": (THOUGHT, ANSWER),
    "inline": ("", f"<think>{THOUGHT}</think>{ANSWER}"),
    "hidden": ("", ANSWER),
}


@pytest.mark.parametrize("mode", list(EXPECTED))
@pytest.mark.parametrize("model", list(MODELS))
async def test_each_reasoning_mode_for_a_native_and_a_markup_model(model, mode):
    spec, field = MODELS[model]
    chunks = openai_chat_sse(THOUGHT, ANSWER, field=field, usage=USAGE, chunk_chars=4)
    async with FakeUpstream(Script(chunks=chunks)) as up, make_client(read_timeout=5) as client:
        request = ChatRequest(
            provider=ProviderConfig("openai", up.url + "/v1"),
            model=spec,
            messages=[Message("user", "17*23?")],
            thinking=Thinking(reasoning_mode=mode, include_reasoning=mode != "hidden"),
        )
        events = [e async for e in adapter_for(request).stream(request, client)]
    assert fold_text(events) == EXPECTED[mode]
    assert USAGE in events  # the reasoning-token count is kept, also when hidden


@pytest.mark.parametrize("kind", ["openai", "openai-responses", "anthropic", "gemini", "ollama"])
def test_the_models_extra_body_is_merged_into_every_request(kind):
    extra = {"parse_reasoning": True, "chat_template_args": {"enable_thinking": True}, "stream": True}
    request = ChatRequest(
        provider=ProviderConfig(kind, "http://127.0.0.1:9/v1"),
        model=ModelSpec("m", options={"extra_body": extra}),
        messages=[Message("user", "hi")],
    )
    body = get_adapter(kind).prepare(request).json
    assert body["parse_reasoning"] is True
    assert body["chat_template_args"] == {"enable_thinking": True}


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("openai", "https://api.openai.com/v1/chat/completions"),
        ("openai-responses", "https://api.openai.com/v1/responses"),
        ("anthropic", "https://api.anthropic.com/v1/messages"),
        ("gemini", "https://generativelanguage.googleapis.com/v1beta/models/m:streamGenerateContent?alt=sse"),
        ("ollama", "http://localhost:11434/api/chat"),
    ],
)
def test_an_empty_base_url_is_the_kinds_public_default(kind, url):
    request = ChatRequest(provider=ProviderConfig(kind, ""), model=ModelSpec("m"), messages=[Message("user", "hi")])
    assert get_adapter(kind).prepare(request).url == url
