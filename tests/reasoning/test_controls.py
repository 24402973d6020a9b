from __future__ import annotations

from typing import Any

import pytest

from reasoning.controls import THINKING_CONTROLS, UnsupportedControl, merge_params, thinking_params
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, Thinking

ALL_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
NO_NONE = ("minimal", "low", "medium", "high", "xhigh", "max")

KIND_OF = {
    "anthropic_budget": "anthropic",
    "anthropic_adaptive": "anthropic",
    "gemini_budget": "gemini",
    "gemini_level": "gemini",
    "ollama_think": "ollama",
    "responses": "openai-responses",
}


def ask(
    control: str,
    mode: str = "default",
    effort: str | None = None,
    *,
    efforts: tuple[str, ...] = ALL_EFFORTS,
    budget: int | None = None,
    include: bool = True,
    max_tokens: int | None = None,
    options: dict[str, Any] | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    request = ChatRequest(
        provider=ProviderConfig(kind=kind or KIND_OF.get(control, "openai")),
        model=ModelSpec(
            model_id="m", thinking_control=control, efforts=efforts, options=options or {}
        ),
        messages=[Message(role="user", content="hi")],
        thinking=Thinking(
            mode=mode,  # type: ignore[arg-type]
            effort=effort,
            budget_tokens=budget,
            include_reasoning=include,
        ),
        max_tokens=max_tokens,
    )
    return thinking_params(request)


def gemini(config: dict[str, Any]) -> dict[str, Any]:
    return {"generationConfig": {"thinkingConfig": config}}


# (control, mode, effort, expected body fields)
TABLE: list[tuple[str, str, str | None, dict[str, Any]]] = [
    ("none", "default", None, {}),
    ("reasoning_effort", "default", None, {}),
    ("reasoning_effort", "on", None, {}),
    ("reasoning_effort", "off", None, {"reasoning_effort": "none"}),
    ("reasoning_effort", "default", "none", {"reasoning_effort": "none"}),
    ("reasoning_effort", "default", "minimal", {"reasoning_effort": "minimal"}),
    ("reasoning_effort", "on", "low", {"reasoning_effort": "low"}),
    ("reasoning_effort", "on", "medium", {"reasoning_effort": "medium"}),
    ("reasoning_effort", "on", "high", {"reasoning_effort": "high"}),
    ("reasoning_effort", "on", "xhigh", {"reasoning_effort": "xhigh"}),
    ("reasoning_effort", "on", "max", {"reasoning_effort": "max"}),
    ("chat_template_kwargs", "default", None, {}),
    ("chat_template_kwargs", "on", None, {"chat_template_kwargs": {"enable_thinking": True}}),
    ("chat_template_kwargs", "off", None, {"chat_template_kwargs": {"enable_thinking": False}}),
    (
        "chat_template_kwargs",
        "default",
        "none",
        {"chat_template_kwargs": {"enable_thinking": False}},
    ),
    (
        "chat_template_kwargs",
        "default",
        "high",
        {"chat_template_kwargs": {"enable_thinking": True}, "reasoning_effort": "high"},
    ),
    ("chat_template_kwargs_thinking", "default", None, {}),
    ("chat_template_kwargs_thinking", "on", None, {"chat_template_kwargs": {"thinking": True}}),
    ("chat_template_kwargs_thinking", "off", None, {"chat_template_kwargs": {"thinking": False}}),
    ("chat_template_args", "default", None, {}),
    ("chat_template_args", "on", None, {"chat_template_args": {"enable_thinking": True}}),
    ("chat_template_args", "off", None, {"chat_template_args": {"enable_thinking": False}}),
    (
        "chat_template_args",
        "on",
        "low",
        {"chat_template_args": {"enable_thinking": True}, "reasoning_effort": "low"},
    ),
    ("thinking_type", "default", None, {}),
    ("thinking_type", "on", None, {"thinking": {"type": "enabled"}}),
    ("thinking_type", "off", None, {"thinking": {"type": "disabled"}}),
    ("thinking_type", "on", "max", {"thinking": {"type": "enabled"}, "reasoning_effort": "max"}),
    (
        "thinking_type",
        "default",
        "high",
        {"thinking": {"type": "enabled"}, "reasoning_effort": "high"},
    ),
    ("openrouter", "default", None, {}),
    ("openrouter", "on", None, {"reasoning": {"enabled": True}}),
    ("openrouter", "off", None, {"reasoning": {"effort": "none"}}),
    ("openrouter", "default", "none", {"reasoning": {"effort": "none"}}),
    ("openrouter", "on", "minimal", {"reasoning": {"effort": "minimal"}}),
    ("openrouter", "default", "xhigh", {"reasoning": {"effort": "xhigh"}}),
    ("together", "default", None, {}),
    ("together", "on", None, {"reasoning": {"enabled": True}}),
    ("together", "off", None, {"reasoning": {"enabled": False}}),
    ("together", "on", "medium", {"reasoning": {"enabled": True}, "reasoning_effort": "medium"}),
    ("friendli", "default", None, {"parse_reasoning": True, "include_reasoning": True}),
    (
        "friendli", "off", None,
        {"chat_template_kwargs": {"enable_thinking": False}, "parse_reasoning": True, "include_reasoning": True},
    ),
    ("groq", "default", None, {"reasoning_format": "parsed"}),
    ("groq", "on", "high", {"reasoning_effort": "high", "reasoning_format": "parsed"}),
    ("groq", "off", None, {"reasoning_effort": "none", "reasoning_format": "parsed"}),
    ("anthropic_budget", "default", None, {}),
    ("anthropic_budget", "off", None, {"thinking": {"type": "disabled"}}),
    ("anthropic_budget", "default", "none", {"thinking": {"type": "disabled"}}),
    (
        "anthropic_budget",
        "on",
        None,
        {"max_tokens": 16000, "thinking": {"type": "enabled", "budget_tokens": 2048}},
    ),
    (
        "anthropic_budget",
        "on",
        "minimal",
        {"max_tokens": 16000, "thinking": {"type": "enabled", "budget_tokens": 1024}},
    ),
    (
        "anthropic_budget",
        "on",
        "low",
        {"max_tokens": 16000, "thinking": {"type": "enabled", "budget_tokens": 1024}},
    ),
    (
        "anthropic_budget",
        "default",
        "medium",
        {"max_tokens": 16000, "thinking": {"type": "enabled", "budget_tokens": 2048}},
    ),
    (
        "anthropic_budget",
        "on",
        "high",
        {"max_tokens": 16000, "thinking": {"type": "enabled", "budget_tokens": 4096}},
    ),
    (
        "anthropic_budget",
        "on",
        "xhigh",
        {"max_tokens": 16000, "thinking": {"type": "enabled", "budget_tokens": 8192}},
    ),
    (
        "anthropic_budget",
        "on",
        "max",
        {"max_tokens": 20480, "thinking": {"type": "enabled", "budget_tokens": 16384}},
    ),
    ("anthropic_adaptive", "default", None, {}),
    ("anthropic_adaptive", "on", None, {"thinking": {"type": "adaptive"}}),
    ("anthropic_adaptive", "off", None, {"thinking": {"type": "disabled"}}),
    (
        "anthropic_adaptive",
        "on",
        "minimal",
        {"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}},
    ),
    (
        "anthropic_adaptive",
        "default",
        "medium",
        {"thinking": {"type": "adaptive"}, "output_config": {"effort": "medium"}},
    ),
    (
        "anthropic_adaptive",
        "on",
        "max",
        {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}},
    ),
    ("gemini_budget", "default", None, gemini({"includeThoughts": True})),
    ("gemini_budget", "on", None, gemini({"thinkingBudget": -1, "includeThoughts": True})),
    ("gemini_budget", "off", None, gemini({"thinkingBudget": 0, "includeThoughts": False})),
    ("gemini_budget", "default", "none", gemini({"thinkingBudget": 0, "includeThoughts": False})),
    ("gemini_budget", "on", "minimal", gemini({"thinkingBudget": 512, "includeThoughts": True})),
    ("gemini_budget", "on", "low", gemini({"thinkingBudget": 1024, "includeThoughts": True})),
    ("gemini_budget", "on", "medium", gemini({"thinkingBudget": 8192, "includeThoughts": True})),
    ("gemini_budget", "on", "high", gemini({"thinkingBudget": 24576, "includeThoughts": True})),
    ("gemini_budget", "on", "xhigh", gemini({"thinkingBudget": 24576, "includeThoughts": True})),
    ("gemini_budget", "on", "max", gemini({"thinkingBudget": 24576, "includeThoughts": True})),
    ("gemini_level", "default", None, gemini({"includeThoughts": True})),
    ("gemini_level", "on", None, gemini({"includeThoughts": True})),
    (
        "gemini_level",
        "on",
        "minimal",
        gemini({"thinkingLevel": "MINIMAL", "includeThoughts": True}),
    ),
    ("gemini_level", "on", "low", gemini({"thinkingLevel": "LOW", "includeThoughts": True})),
    ("gemini_level", "on", "medium", gemini({"thinkingLevel": "MEDIUM", "includeThoughts": True})),
    ("gemini_level", "on", "high", gemini({"thinkingLevel": "HIGH", "includeThoughts": True})),
    ("gemini_level", "on", "xhigh", gemini({"thinkingLevel": "HIGH", "includeThoughts": True})),
    ("gemini_level", "on", "max", gemini({"thinkingLevel": "HIGH", "includeThoughts": True})),
    ("ollama_think", "default", None, {}),
    ("ollama_think", "on", None, {"think": True}),
    ("ollama_think", "off", None, {"think": False}),
    ("ollama_think", "default", "none", {"think": False}),
    ("ollama_think", "on", "minimal", {"think": "low"}),
    ("ollama_think", "on", "low", {"think": "low"}),
    ("ollama_think", "on", "medium", {"think": "medium"}),
    ("ollama_think", "on", "high", {"think": "high"}),
    ("ollama_think", "on", "xhigh", {"think": "max"}),
    ("ollama_think", "on", "max", {"think": "max"}),
    ("responses", "default", None, {"reasoning": {"summary": "auto"}}),
    ("responses", "on", None, {"reasoning": {"summary": "auto"}}),
    ("responses", "off", None, {"reasoning": {"effort": "none"}}),
    ("responses", "on", "low", {"reasoning": {"effort": "low", "summary": "auto"}}),
    ("responses", "default", "xhigh", {"reasoning": {"effort": "xhigh", "summary": "auto"}}),
]


@pytest.mark.parametrize(("control", "mode", "effort", "expected"), TABLE)
def test_it_maps_each_control_mode_and_effort_to_exact_fields(
    control: str, mode: str, effort: str | None, expected: dict[str, Any]
) -> None:
    assert ask(control, mode, effort) == expected


def test_it_covers_every_control_in_the_table() -> None:
    assert {row[0] for row in TABLE} == set(THINKING_CONTROLS)


@pytest.mark.parametrize(
    ("control", "expected"),
    [
        ("openrouter", {"reasoning": {"exclude": True}}),
        ("groq", {"reasoning_format": "hidden"}),
        ("gemini_budget", gemini({"includeThoughts": False})),
        ("gemini_level", gemini({"includeThoughts": False})),
        ("responses", {}),
        ("reasoning_effort", {}),
        ("ollama_think", {}),
    ],
)
def test_it_maps_include_reasoning_false_where_a_knob_exists(
    control: str, expected: dict[str, Any]
) -> None:
    assert ask(control, include=False) == expected


def test_it_hides_anthropic_thinking_with_display_omitted() -> None:
    assert ask("anthropic_budget", "on", "low", include=False)["thinking"] == {
        "type": "enabled",
        "budget_tokens": 1024,
        "display": "omitted",
    }
    assert ask("anthropic_adaptive", "on", include=False) == {
        "thinking": {"type": "adaptive", "display": "omitted"}
    }


def test_it_uses_include_reasoning_for_groq_gpt_oss() -> None:
    options = {"groq_switch": "include_reasoning"}
    assert ask("groq", "on", "low", options=options) == {
        "reasoning_effort": "low",
        "include_reasoning": True,
    }
    assert ask("groq", include=False, options=options) == {"include_reasoning": False}


def test_it_sends_budget_tokens_as_given() -> None:
    assert ask("anthropic_budget", budget=3000) == {
        "max_tokens": 16000,
        "thinking": {"type": "enabled", "budget_tokens": 3000},
    }
    assert ask("gemini_budget", budget=800) == gemini(
        {"thinkingBudget": 800, "includeThoughts": True}
    )
    assert ask("openrouter", budget=2000, include=False) == {
        "reasoning": {"max_tokens": 2000, "exclude": True}
    }


@pytest.mark.parametrize("budget", [1, 100, 1023])
def test_it_refuses_an_anthropic_budget_below_the_minimum(budget: int) -> None:
    with pytest.raises(UnsupportedControl, match="smallest thinking budget is 1024") as refused:
        ask("anthropic_budget", budget=budget)
    assert refused.value.parameter == "budget_tokens"


@pytest.mark.parametrize("mode", ["on", "off"])
def test_a_model_with_no_thinking_switch_refuses_on_and_off_instead_of_dropping_them(mode: str) -> None:
    with pytest.raises(UnsupportedControl, match=f"thinking {mode} cannot be sent") as refused:
        ask("none", mode)
    assert refused.value.parameter == "thinking"
    assert "thinking_control" in str(refused.value)  # what would work


def test_it_grows_max_tokens_for_a_big_budget_when_none_was_given() -> None:
    assert ask("anthropic_budget", budget=30000)["max_tokens"] == 34096


def test_it_keeps_the_users_max_tokens_and_lowers_the_budget_under_it() -> None:
    params = ask("anthropic_budget", "on", "max", max_tokens=5000)
    assert params == {"max_tokens": 5000, "thinking": {"type": "enabled", "budget_tokens": 4999}}
    params = ask("anthropic_budget", "on", "low", max_tokens=5000)
    assert params == {"max_tokens": 5000, "thinking": {"type": "enabled", "budget_tokens": 1024}}


def test_it_refuses_a_max_tokens_with_no_room_for_anthropic_thinking() -> None:
    with pytest.raises(ValueError, match="minimum thinking budget"):
        ask("anthropic_budget", "on", max_tokens=1024)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"control": "reasoning_effort", "effort": "high", "efforts": ()}, "has no effort control"),
        (
            {"control": "reasoning_effort", "effort": "max", "efforts": ("low", "high")},
            "does not accept",
        ),
        ({"control": "reasoning_effort", "effort": "extreme"}, "unknown effort"),
        (
            {"control": "reasoning_effort", "mode": "off", "efforts": NO_NONE},
            "cannot turn thinking off",
        ),
        ({"control": "responses", "mode": "off", "efforts": NO_NONE}, "cannot turn thinking off"),
        (
            {"control": "groq", "mode": "off", "efforts": ("low", "high")},
            "cannot turn thinking off",
        ),
        ({"control": "openrouter", "mode": "off", "efforts": NO_NONE}, "mandatory"),
        ({"control": "openrouter", "effort": "high", "budget": 2000}, "not both"),
        ({"control": "reasoning_effort", "mode": "on", "effort": "none"}, "turns thinking off"),
        ({"control": "reasoning_effort", "mode": "off", "effort": "high"}, "thinking is off"),
        ({"control": "reasoning_effort", "budget": 1000}, "takes no thinking budget"),
        ({"control": "chat_template_kwargs", "budget": 1000}, "takes no thinking budget"),
        ({"control": "none", "effort": "high"}, "takes no effort"),
        ({"control": "anthropic_adaptive", "budget": 2000}, "takes no thinking budget"),
        (
            {"control": "anthropic_adaptive", "mode": "off", "options": {"adaptive_only": True}},
            "only supports adaptive",
        ),
        (
            {"control": "gemini_budget", "mode": "off", "options": {"thinking_always_on": True}},
            "cannot turn thinking off",
        ),
        ({"control": "gemini_level", "mode": "off"}, "cannot turn thinking off"),
        ({"control": "gemini_level", "budget": 500}, "takes no thinking budget"),
        ({"control": "ollama_think", "budget": 500}, "takes no thinking budget"),
        ({"control": "anthropic_budget", "mode": "off", "budget": 2000}, "thinking is off"),
        ({"control": "anthropic_budget", "budget": -5}, "must be positive"),
        ({"control": "anthropic_budget", "kind": "openai"}, "does not apply"),
        ({"control": "gemini_level", "kind": "anthropic"}, "does not apply"),
        ({"control": "made_up"}, "unknown thinking_control"),
    ],
)
def test_it_refuses_what_the_model_cannot_express(kwargs: dict[str, Any], message: str) -> None:
    control = kwargs.pop("control")
    with pytest.raises(ValueError, match=message):
        ask(control, **kwargs)


def test_it_lets_the_simulator_mimic_any_control() -> None:
    assert ask("gemini_level", "on", "low", kind="simulator") == gemini(
        {"thinkingLevel": "LOW", "includeThoughts": True}
    )


def test_it_merges_nested_params_without_losing_siblings() -> None:
    body: dict[str, Any] = {"model": "g", "generationConfig": {"maxOutputTokens": 100}}
    merge_params(body, gemini({"thinkingBudget": 0, "includeThoughts": False}))
    assert body == {
        "model": "g",
        "generationConfig": {
            "maxOutputTokens": 100,
            "thinkingConfig": {"thinkingBudget": 0, "includeThoughts": False},
        },
    }
    assert merge_params({"max_tokens": 10}, {"max_tokens": 20}) == {"max_tokens": 20}


def test_it_does_not_share_nested_dicts_between_params_and_body() -> None:
    params = gemini({"includeThoughts": True})
    body = merge_params({}, params)
    body["generationConfig"]["thinkingConfig"]["includeThoughts"] = False
    assert params == gemini({"includeThoughts": True})
