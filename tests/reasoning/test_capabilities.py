"""Controls that match the model (issue 20.4): a model that does not reason takes no
effort, budget or switch, and `capabilities` lists what each model takes or why not,
in the words of the refusal the same setting would get."""

from __future__ import annotations

import pytest

from reasoning import catalogue
from reasoning.accepts import capabilities
from reasoning.adapters import get_adapter
from reasoning.controls import UnsupportedControl, check_controls
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, ReasoningStyle, Thinking

NON_REASONING = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "openai/gpt-4o", "gpt-4-turbo",
                 "gpt-3.5-turbo", "chatgpt-4o-latest", "gpt-5-chat-latest"]


@pytest.mark.parametrize("model_id", NON_REASONING)
def test_non_reasoning_families_get_no_effort_control(model_id):
    caps = catalogue.capabilities("openai", model_id)
    assert caps is not None
    assert (caps.thinking_control, caps.efforts, caps.reasoning) == ("none", (), "none")


def test_reasoning_families_keep_theirs():
    for model_id in ("o4-mini", "gpt-5", "gpt-5.1", "openai/gpt-oss-120b"):
        caps = catalogue.capabilities("openai", model_id)
        assert caps is not None and caps.efforts, model_id


# A profile written before the catalogue knew better: reasoning none, yet an effort list.
STALE = ModelSpec("gpt-4o", reasoning=ReasoningStyle.NONE, thinking_control="reasoning_effort",
                  efforts=("low", "medium", "high"))


@pytest.mark.parametrize(
    ("thinking", "parameter"),
    [(Thinking(effort="low"), "effort"), (Thinking(mode="on", budget_tokens=2048), "budget_tokens"),
     (Thinking(mode="on"), "thinking")],
)
def test_a_model_with_reasoning_none_refuses_every_thinking_control(thinking, parameter):
    with pytest.raises(UnsupportedControl) as refused:
        check_controls("openai", STALE, thinking)
    assert refused.value.parameter == parameter
    assert "gpt-4o does not reason" in str(refused.value)


def test_thinking_off_for_a_model_that_does_not_reason_sends_nothing():
    request = ChatRequest(ProviderConfig("openai", "http://127.0.0.1:1/v1"), STALE, [Message("user", "hi")],
                          thinking=Thinking(mode="off"))
    body = get_adapter("openai").prepare(request).json
    assert "reasoning_effort" not in body


def test_capabilities_lists_what_a_model_takes_or_why_not():
    gpt4o = capabilities("openai", ModelSpec("gpt-4o", reasoning=ReasoningStyle.NONE))
    for control in ("thinking", "effort", "budget_tokens", "reasoning_mode"):
        assert isinstance(gpt4o[control], str) and "gpt-4o does not reason" in gpt4o[control], control
    assert gpt4o["temperature"] == ("0-2",)

    sonnet = capabilities(
        "anthropic", ModelSpec("claude-sonnet-4-5", thinking_control="anthropic_budget",
                               efforts=("low", "medium", "high")), supports_budget=True,
    )
    assert sonnet["thinking"] == ("default", "on", "off")
    assert sonnet["effort"] == ("low", "medium", "high")
    assert sonnet["budget_tokens"] == ("1024 or more tokens",)

    gemini3 = capabilities("gemini", ModelSpec("gemini-3-pro", thinking_control="gemini_level",
                                               efforts=("low", "high")))
    assert gemini3["thinking"] == ("default", "on")  # it cannot turn thinking off
    assert isinstance(gemini3["budget_tokens"], str) and "choose an effort" in gemini3["budget_tokens"]

    o4 = capabilities("openai", ModelSpec("o4-mini", thinking_control="reasoning_effort",
                                          efforts=("low", "medium", "high")), supports_temperature=False)
    assert isinstance(o4["temperature"], str) and "takes no temperature" in o4["temperature"]


def test_capabilities_offers_exactly_what_check_controls_accepts():
    for kind, model_id in [("openai", "deepseek-v4-pro"), ("anthropic", "claude-opus-4-7"),
                           ("gemini", "gemini-2.5-pro"), ("openai-responses", "gpt-5.1")]:
        fields = catalogue.fill(kind, model_id, {})
        spec = ModelSpec(model_id, thinking_control=fields["thinking_control"], efforts=tuple(fields["efforts"]),
                         options=fields.get("options", {}))
        offered = capabilities(kind, spec)
        for effort in spec.efforts:
            accepted = True
            try:
                check_controls(kind, spec, Thinking(effort=effort))
            except UnsupportedControl:
                accepted = False
            assert (effort in offered["effort"]) == accepted, (model_id, effort)


def test_a_model_given_as_not_reasoning_gets_no_effort_from_the_catalogue():
    assert catalogue.fill("openai", "my-own-model", {"reasoning": "none"}) == {
        "thinking_control": "none", "efforts": [], "supports_budget": False,
    }
    assert catalogue.fill("openai", "my-own-model", {})["efforts"] == ["low", "medium", "high"]
