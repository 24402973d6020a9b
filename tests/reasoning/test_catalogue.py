"""The catalogue of model families: what a profile gets when it names only a kind and id."""

from __future__ import annotations

import pytest

from reasoning import catalogue
from reasoning.controls import check_profile
from reasoning.request import ModelSpec


@pytest.mark.parametrize(
    ("kind", "model_id", "control", "efforts"),
    [
        ("anthropic", "claude-opus-4-7", "anthropic_adaptive", ("low", "medium", "high", "xhigh", "max")),
        ("anthropic", "claude-sonnet-4-5-20250929", "anthropic_budget", ("low", "medium", "high")),
        ("anthropic", "claude-3-5-haiku-latest", "none", ()),
        ("gemini", "gemini-3-pro-preview", "gemini_level", ("low", "high")),
        ("gemini", "models/gemini-2.5-pro", "gemini_budget", ("low", "medium", "high")),
        ("openai-responses", "gpt-5.1", "responses", ("none", "low", "medium", "high", "xhigh")),
        ("openai-responses", "gpt-5-mini", "responses", ("minimal", "low", "medium", "high")),
        ("openai", "o4-mini", "reasoning_effort", ("low", "medium", "high")),
        ("openai", "deepseek-reasoner", "none", ()),
        ("openai", "deepseek-v4-pro", "thinking_type", ("high", "max")),
        ("openai", "deepseek-ai/DeepSeek-V3.1", "chat_template_kwargs_thinking", ()),
        ("openai", "Qwen/Qwen3-32B", "chat_template_kwargs", ()),
        ("openai", "Qwen/Qwen3-235B-A22B-Thinking-2507", "none", ()),
        ("openai", "openai/gpt-oss-120b", "reasoning_effort", ("low", "medium", "high")),
        ("ollama", "gpt-oss:20b", "ollama_think", ("low", "medium", "high")),
        ("ollama", "qwen3:8b", "ollama_think", ()),
        ("openai", "kimi-k2-thinking", "thinking_type", ()),
        ("openai", "zai-org/GLM-4.6", "thinking_type", ()),
        ("openai", "ibm-granite/granite-3.3-8b-instruct", "chat_template_kwargs_thinking", ()),
        ("openai", "nvidia/NVIDIA-Nemotron-Nano-9B-v2", "chat_template_kwargs", ()),
        ("openai", "some-unknown-model", "reasoning_effort", ("low", "medium", "high")),
    ],
)
def test_it_knows_the_families(kind, model_id, control, efforts):
    caps = catalogue.capabilities(kind, model_id)
    assert caps is not None
    assert (caps.thinking_control, caps.efforts) == (control, efforts)


def test_a_gateway_is_known_by_its_base_url():
    caps = catalogue.capabilities("openai", "anthropic/claude-sonnet-4.5", "https://openrouter.ai/api/v1")
    assert caps is not None and caps.thinking_control == "openrouter"
    groq = catalogue.capabilities("openai", "qwen/qwen3-32b", "https://api.groq.com/openai/v1")
    assert groq is not None and groq.thinking_control == "groq"


def test_explicit_values_win_and_a_given_control_keeps_its_own_efforts():
    assert catalogue.fill("openai", "deepseek-v4-pro", {"efforts": ["high"]}) == {
        "thinking_control": "thinking_type",
        "supports_budget": False,
        "options": {"echo_reasoning_content": True},
    }
    # Naming another control: the family's efforts and options are not borrowed for it.
    assert catalogue.fill("openai", "deepseek-v4-pro", {"thinking_control": "none"}) == {}
    assert catalogue.fill("gemini", "gemini-2.5-pro", {"options": {"x": 1}})["options"] == {
        "thinking_always_on": True,
        "x": 1,
    }


@pytest.mark.parametrize(
    ("kinds", "pattern", "caps"), catalogue.FAMILIES, ids=[c.family for _, _, c in catalogue.FAMILIES]
)
def test_every_entry_is_a_profile_its_kind_can_carry(kinds, pattern, caps):
    for kind in kinds:
        check_profile(kind, ModelSpec("m", thinking_control=caps.thinking_control, efforts=caps.efforts,
                                      options=caps.options))


def test_every_default_and_gateway_is_a_profile_its_kind_can_carry():
    for kind, caps in catalogue.DEFAULT_MECHANISM.items():
        check_profile(kind, ModelSpec("m", thinking_control=caps.thinking_control, efforts=caps.efforts))
    for _, caps in catalogue.GATEWAYS:
        check_profile("openai", ModelSpec("m", thinking_control=caps.thinking_control, efforts=caps.efforts))
