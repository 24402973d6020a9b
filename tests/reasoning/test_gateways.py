"""Gateways in the catalogue (issue 20.4): the provider's gateway, inferred from the
public base URL's host or set, picks the family's switch there. Checked against
loopback fakes that accept and refuse fields as Baseten and Friendli document
(`reasoning.testing.gateways`)."""

from __future__ import annotations

from typing import Any

import pytest

from reasoning import catalogue
from reasoning.adapters import get_adapter
from reasoning.controls import UnsupportedControl, check_controls
from reasoning.errors import BadRequest
from reasoning.events import fold_text
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, ReasoningStyle, Thinking
from reasoning.testing import FakeUpstream
from reasoning.testing.gateways import ANSWER, THOUGHT, baseten, friendli
from reasoning.wire import make_client


@pytest.mark.parametrize(
    ("url", "gateway"),
    [
        ("https://inference.baseten.co/v1", "baseten"),
        ("https://model-abc123.api.baseten.co/environments/production/sync/v1", "baseten"),
        ("https://api.friendli.ai/serverless/v1", "friendli"),
        ("https://openrouter.ai/api/v1", "openrouter"),
        ("https://api.together.xyz/v1", "together"),
        ("https://api.groq.com/openai/v1", "groq"),
        ("https://api.fireworks.ai/inference/v1", "fireworks"),
        ("https://api.deepseek.com", ""),
        ("http://127.0.0.1:8000/v1", ""),
        ("http://localhost:11434/v1", ""),
        ("https://notbaseten.co.example/v1", ""),
        ("", ""),
    ],
)
def test_the_gateway_is_inferred_from_the_public_host(url, gateway):
    assert catalogue.gateway_of(url) == gateway


def spec_from_catalogue(model_id: str, gateway: str, **given: Any) -> ModelSpec:
    """The profile `providers import` and the admin's Fetch models make from an id alone."""
    fields = catalogue.fill("openai", model_id, given, "http://127.0.0.1:1/v1", gateway)
    return ModelSpec(
        model_id,
        reasoning=ReasoningStyle(fields.get("reasoning", "native")),
        thinking_control=fields.get("thinking_control", "none"),
        efforts=tuple(fields.get("efforts", ())),
        options=fields.get("options", {}),
    )


async def ask(responder, model: ModelSpec, thinking: Thinking) -> tuple[tuple[str, str], dict[str, Any]]:
    async with FakeUpstream(responder) as up, make_client(read_timeout=5) as client:
        request = ChatRequest(ProviderConfig("openai", up.url + "/v1"), model, [Message("user", "17*23?")],
                              thinking=thinking)
        check_controls("openai", model, thinking)
        events = [e async for e in get_adapter("openai").stream(request, client)]
        return fold_text(events), up.requests[0].json


BASETEN_OPT_IN = ["moonshotai/Kimi-K2.5", "moonshotai/Kimi-K2.6", "zai-org/GLM-4.7", "zai-org/GLM-5"]


@pytest.mark.parametrize("model_id", BASETEN_OPT_IN)
async def test_baseten_opt_in_models_reason_when_thinking_is_on(model_id):
    model = spec_from_catalogue(model_id, "baseten")
    text, body = await ask(baseten, model, Thinking(mode="on"))
    assert text == (THOUGHT, ANSWER)
    assert body["chat_template_args"] == {"enable_thinking": True}
    text, body = await ask(baseten, model, Thinking(mode="off"))
    assert text == ("", ANSWER)
    assert body["chat_template_args"] == {"enable_thinking": False}


@pytest.mark.parametrize("effort", ["low", "medium", "high", "xhigh"])
async def test_baseten_deepseek_v4_pro_takes_its_four_efforts_as_reasoning_effort_alone(effort):
    model = spec_from_catalogue("deepseek-ai/DeepSeek-V4-Pro", "baseten")
    assert model.efforts == ("low", "medium", "high", "xhigh")
    text, body = await ask(baseten, model, Thinking(effort=effort))
    assert text == (THOUGHT, ANSWER)
    assert body["reasoning_effort"] == effort
    assert "thinking" not in body and "chat_template_kwargs" not in body


def test_baseten_deepseek_v4_pro_refuses_max_before_sending():
    model = spec_from_catalogue("deepseek-ai/DeepSeek-V4-Pro", "baseten")
    with pytest.raises(UnsupportedControl) as refused:
        check_controls("openai", model, Thinking(effort="max"))
    assert "low, medium, high, xhigh" in str(refused.value)


@pytest.mark.parametrize("effort", ["low", "medium", "high"])
async def test_baseten_gpt_oss_takes_low_medium_high(effort):
    model = spec_from_catalogue("openai/gpt-oss-120b", "baseten")
    assert model.efforts == ("low", "medium", "high")
    text, body = await ask(baseten, model, Thinking(effort=effort))
    assert text == (THOUGHT, ANSWER) and body["reasoning_effort"] == effort


async def test_the_same_ids_at_the_familys_own_api_keep_its_switch():
    # Without the gateway (a loopback or unknown host) Kimi K2.5 is Moonshot's own API.
    own = spec_from_catalogue("kimi-k2.5", "")
    assert own.thinking_control == "thinking_type"
    assert spec_from_catalogue("kimi-k2.5", "baseten").thinking_control == "chat_template_args"


@pytest.mark.parametrize(
    ("mode", "sent", "expected"),
    [
        ("separate", {"parse_reasoning": True, "include_reasoning": True}, (THOUGHT, ANSWER)),
        ("hidden", {"parse_reasoning": True, "include_reasoning": False}, ("", ANSWER)),
        ("inline", {"parse_reasoning": False}, ("", f"<think>{THOUGHT}</think>{ANSWER}")),
    ],
)
async def test_friendli_parses_and_returns_reasoning_as_the_mode_asks(mode, sent, expected):
    model = spec_from_catalogue("deepseek-ai/DeepSeek-R1", "friendli")
    assert model.thinking_control == "friendli"
    thinking = Thinking(reasoning_mode=mode, include_reasoning=mode != "hidden")
    from reasoning.adapters.selection import adapter_for

    async with FakeUpstream(friendli) as up, make_client(read_timeout=5) as client:
        request = ChatRequest(ProviderConfig("openai", up.url + "/v1"), model, [Message("user", "17*23?")],
                              thinking=thinking)
        events = [e async for e in adapter_for(request).stream(request, client)]
        body = up.requests[0].json
    assert {k: body[k] for k in ("parse_reasoning", "include_reasoning") if k in body} == sent
    assert fold_text(events) == expected


async def test_a_models_extra_body_never_overrides_the_requests_mode():
    model = ModelSpec(
        "deepseek-ai/DeepSeek-R1", thinking_control="friendli",
        options={"extra_body": {"parse_reasoning": True, "include_reasoning": True}},
    )
    hidden = Thinking(reasoning_mode="hidden", include_reasoning=False)
    with pytest.raises(UnsupportedControl) as refused:
        check_controls("openai", model, hidden)
    assert refused.value.parameter == "extra_body"
    assert "include_reasoning" in str(refused.value) and "extra_body" in str(refused.value)
    async with FakeUpstream(friendli) as up, make_client(read_timeout=5) as client:
        request = ChatRequest(ProviderConfig("openai", up.url + "/v1"), model, [Message("user", "hi")],
                              thinking=hidden)
        with pytest.raises(BadRequest):
            async for _ in get_adapter("openai").stream(request, client):
                pass
        assert up.requests == []
    # The same extra_body agrees with the Shown mode: sent as it is.
    assert check_controls("openai", model, Thinking()) == {"parse_reasoning": True, "include_reasoning": True}


def test_the_echo_field_follows_the_server():
    assert spec_from_catalogue("deepseek-v3.2", "vllm").options["echo_reasoning_field"] == "reasoning"
    assert "echo_reasoning_field" not in spec_from_catalogue("deepseek-v3.2", "sglang").options


def test_a_server_that_reads_reasoning_gets_it_in_that_field_for_any_family_that_carries_it():
    # Kimi self-hosted has no echo option, but its replay carrier is reasoning_content:
    # at vLLM (and Ollama's /v1) it goes back as `reasoning`.
    for gateway in ("vllm", "ollama"):
        options = spec_from_catalogue("moonshotai/Kimi-K2-Thinking", gateway).options
        assert options["echo_reasoning_field"] == "reasoning"
    assert "echo_reasoning_field" not in spec_from_catalogue("moonshotai/Kimi-K2-Thinking", "sglang").options
    assert "echo_reasoning_field" not in spec_from_catalogue("Qwen/Qwen3-8B", "vllm").options  # strips


def test_the_replay_default_follows_a_gateway_that_is_set():
    from reasoning.context import rule_of

    loopback = "http://127.0.0.1:1/v1"
    assert catalogue.replay_rule("openai", "some/model", loopback).family == "OpenAI-compatible"
    assert catalogue.replay_rule("openai", "some/model", loopback, "openrouter").family == "OpenRouter"
    request = ChatRequest(ProviderConfig("openai", loopback, gateway="openrouter"), ModelSpec("some/model"), [])
    assert rule_of(request).carrier == "reasoning_details"
