"""A model's capabilities in plain words, for the Providers page's "Edit" (admin only).

The stored profile (`ModelProfile`: a thinking control, an effort list, a reasoning
style, options…) is shown as the questions a person can answer: does it think, always or
on request, which efforts, what budget, where its reasoning comes back, what it takes.
`plain(profile)` reads a profile into those answers, `profile_fields(profile, answers)`
writes them back; both ask the server's own check (`reasoning.accepts`, `check_profile`)
rather than a second table, so the page says what the composer will offer.

The catalogue family that matches the model (`reasoning.catalogue`) gives each answer
its family value: an answer that differs is an override, shown as such, and can be reset.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from django import forms

from playground.models import ModelProfile
from reasoning import catalogue
from reasoning.accepts import accepted_controls
from reasoning.controls import CONTROL_KINDS, UnsupportedControl, check_controls, check_profile
from reasoning.request import EFFORT_LEVELS, Thinking

THINKING = [
    ("switch", "Can be turned on and off"),
    ("always", "Always on"),
    ("none", "Not a reasoning model"),
]
RETURNS = [
    ("native", "In a field of its own"),
    ("markup", "Inside the answer, in tags such as <think>…</think>"),
    ("hidden", "Hidden: only a count of reasoning tokens"),
]
STRUCTURED = [
    ("native", "Sent to the provider as a JSON Schema"),
    ("instructions", "Only as instructions in the system text"),
]
REPLAY = [
    ("", "The family's rule"),
    ("strip", "Left out: reasoning never goes back"),
    ("interleaved", "Sent back inside a tool loop"),
    ("preserved", "Sent back across user turns too"),
]
# Plain words for each way of asking for thinking (the profile's thinking_control).
CONTROL_LABELS = {
    "none": "Nothing is sent (its thinking is fixed)",
    "simulator": "Offline simulator",
    "reasoning_effort": "Effort levels (reasoning_effort)",
    "chat_template_kwargs": "On/off switch in the chat template (enable_thinking)",
    "chat_template_kwargs_thinking": "On/off switch in the chat template (thinking)",
    "chat_template_args": "On/off switch (Baseten chat_template_args)",
    "thinking_type": "Thinking enabled/disabled (DeepSeek, GLM, Kimi)",
    "openrouter": "OpenRouter reasoning (effort or budget)",
    "together": "Together reasoning on/off",
    "groq": "Groq reasoning (effort, parsed)",
    "friendli": "Friendli on/off switch (enable_thinking)",
    "anthropic_budget": "Token budget (Anthropic)",
    "anthropic_adaptive": "Adaptive thinking with effort (Anthropic)",
    "gemini_budget": "Token budget (Gemini 2.5)",
    "gemini_level": "Thinking level (Gemini 3)",
    "ollama_think": "Think on/off or level (Ollama)",
    "responses": "Effort with summaries (OpenAI Responses)",
}
# The plain answers, with the label the page shows for each (also the field's label).
LABELS = {
    "thinking": "Thinking",
    "control": "How thinking is asked for",
    "efforts": "Effort levels it accepts",
    "budget": "Takes a thinking budget",
    "budget_min": "Smallest budget (tokens)",
    "budget_max": "Largest budget (tokens)",
    "returns": "Where reasoning comes back",
    "temperature": "Takes a temperature",
    "tools": "Takes tools (function calls)",
    "structured": "Structured output",
    "context_window": "Context window (tokens)",
    "max_output": "Largest output (tokens)",
    "replay": "What goes back in tool loops",
}
# The stored name behind each answer, for the muted hint.
STORED = {
    "thinking": "reasoning, thinking_control, options.thinking_always_on",
    "control": "thinking_control",
    "efforts": "efforts",
    "budget": "supports_budget",
    "budget_min": "options.budget_min_tokens",
    "budget_max": "options.budget_max_tokens",
    "returns": "reasoning",
    "temperature": "supports_temperature",
    "tools": "options.supports_tools",
    "structured": "options.structured_output",
    "context_window": "context_window",
    "max_output": "max_output_tokens",
    "replay": "replay",
}
# How each answer is drawn: a group of radios or boxes, one box, else a labelled input.
SHAPES = {"thinking": "radios", "returns": "radios", "efforts": "boxes", "budget": "box", "temperature": "box",
          "tools": "box"}
# Options this form owns: a family's value for them replaces the stored one.
OWN_OPTIONS = ("thinking_always_on", "adaptive_only", "budget_min_tokens", "budget_max_tokens",
               "supports_tools", "structured_output")


def controls_for(kind: str) -> list[tuple[str, str]]:
    """The ways of asking for thinking that this provider kind can carry, in plain words."""
    names = [c for c, kinds in CONTROL_KINDS.items() if not kinds or kind in kinds or kind == "simulator"]
    if kind == "simulator":
        names.append("simulator")
    return [(c, CONTROL_LABELS.get(c, c)) for c in names]


def plain(profile: ModelProfile) -> dict[str, Any]:
    """The profile's answers to the page's questions."""
    options = profile.options or {}
    accepted = accepted_controls(profile.provider.kind, profile.spec(), profile.max_output_tokens)
    if profile.reasoning == "none" and profile.thinking_control == "none":
        thinking = "none"
    else:
        thinking = "switch" if accepted.thinking.get("off") is None else "always"
    return {
        "thinking": thinking,
        "control": profile.thinking_control,
        "efforts": [e for e in EFFORT_LEVELS if e in (profile.efforts or ())],
        "budget": bool(profile.supports_budget),
        "budget_min": options.get("budget_min_tokens"),
        "budget_max": options.get("budget_max_tokens"),
        "returns": profile.reasoning if profile.reasoning != "none" else "native",
        "temperature": bool(profile.supports_temperature),
        "tools": options.get("supports_tools", True) is not False,
        "structured": "instructions" if options.get("structured_output") == "instructions" else "native",
        "context_window": profile.context_window,
        "max_output": profile.max_output_tokens,
        "replay": profile.replay or "",
    }


@dataclass(frozen=True)
class Family:
    """The catalogue entry that matched, and the answers it gives."""

    name: str
    answers: dict[str, Any]  # every answer: the catalogue's where it decides, else the default
    decided: frozenset[str]  # the answers the catalogue itself decides
    replay_rule: catalogue.ReplayRule


def family_of(profile: ModelProfile) -> Family | None:
    provider = profile.provider
    caps = catalogue.capabilities(provider.kind, profile.model_id, provider.base_url, provider.effective_gateway)
    rule = catalogue.replay_rule(provider.kind, profile.model_id, provider.base_url, provider.effective_gateway)
    if caps is None:
        return None
    filled = catalogue.fill(provider.kind, profile.model_id, {}, provider.base_url, provider.effective_gateway)
    as_family = copy.copy(profile)
    options = {k: v for k, v in (profile.options or {}).items() if k not in OWN_OPTIONS}
    options.update(filled.pop("options", {}))
    as_family.options = options
    # What the catalogue leaves out is a new profile's default.
    as_family.replay, as_family.reasoning, as_family.supports_temperature = "", "native", True
    as_family.context_window = as_family.max_output_tokens = None
    for name, value in filled.items():
        setattr(as_family, name, value)
    decided = {"thinking", "control", "efforts", "budget", "replay"}
    if caps.reasoning not in (None, "none") or caps.markup is not None:
        decided.add("returns")
    return Family(caps.family, plain(as_family), frozenset(decided), rule)


def overrides(answers: dict[str, Any], family: Family | None) -> dict[str, Any]:
    """The answers that differ from the family's, with the family's value."""
    if family is None:
        return {}
    return {k: v for k, v in family.answers.items() if answers.get(k) != v}


def describe(name: str, value: Any, kind: str) -> str:
    """An answer in words (for "the family says …")."""
    if name == "thinking":
        return str(dict(THINKING)[value])
    if name == "control":
        return CONTROL_LABELS.get(value, str(value))
    if name == "efforts":
        return ", ".join(value) or "none"
    if name in ("budget", "temperature", "tools"):
        return "yes" if value else "no"
    if name == "returns":
        return str(dict(RETURNS)[value])
    if name == "structured":
        return str(dict(STRUCTURED)[value])
    if name == "replay":
        return str(dict(REPLAY)[value])
    return "not set" if value in (None, "") else str(value)


class CapabilitiesForm(forms.Form):
    thinking = forms.ChoiceField(label=LABELS["thinking"], choices=THINKING, widget=forms.RadioSelect)
    control = forms.ChoiceField(label=LABELS["control"], choices=[])
    efforts = forms.MultipleChoiceField(
        label=LABELS["efforts"], required=False, choices=[(e, e) for e in EFFORT_LEVELS],
        widget=forms.CheckboxSelectMultiple,
    )
    budget = forms.BooleanField(label=LABELS["budget"], required=False)
    budget_min = forms.IntegerField(label=LABELS["budget_min"], required=False, min_value=1, max_value=1_000_000)
    budget_max = forms.IntegerField(label=LABELS["budget_max"], required=False, min_value=1, max_value=1_000_000)
    returns = forms.ChoiceField(label=LABELS["returns"], choices=RETURNS, widget=forms.RadioSelect)
    temperature = forms.BooleanField(label=LABELS["temperature"], required=False)
    tools = forms.BooleanField(label=LABELS["tools"], required=False)
    structured = forms.ChoiceField(label=LABELS["structured"], choices=STRUCTURED)
    context_window = forms.IntegerField(
        label=LABELS["context_window"], required=False, min_value=1, max_value=100_000_000
    )
    max_output = forms.IntegerField(label=LABELS["max_output"], required=False, min_value=1, max_value=100_000_000)
    replay = forms.ChoiceField(label=LABELS["replay"], choices=REPLAY, required=False)

    def __init__(self, profile: ModelProfile, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profile = profile
        self.fields["control"].choices = controls_for(profile.provider.kind)  # type: ignore[attr-defined]
        rule = catalogue.replay_rule(
            profile.provider.kind, profile.model_id, profile.provider.base_url, profile.provider.effective_gateway
        )
        self.fields["replay"].choices = [  # type: ignore[attr-defined]
            ("", f"The family's rule ({dict(REPLAY)[rule.policy].lower()})"), *REPLAY[1:]
        ]
        self.stored: dict[str, Any] = {}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        low, high = data.get("budget_min"), data.get("budget_max")
        if low is not None and high is not None and low > high:
            self.add_error("budget_max", f"The largest budget ({high}) is below the smallest ({low}).")
            return data
        try:
            self.stored = profile_fields(self.profile, data)
        except UnsupportedControl as e:
            self.add_error(ANSWER_OF.get(e.parameter, "control"), _sentence(str(e)))
        return data


# The answer to mark when the server's check refuses a profile, by the parameter it names.
ANSWER_OF = {"thinking_control": "control", "efforts": "efforts", "effort": "efforts", "thinking": "thinking",
             "budget_tokens": "budget"}


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def profile_fields(profile: ModelProfile, answers: dict[str, Any]) -> dict[str, Any]:
    """The stored fields for these answers, checked as the server checks a turn; raises
    `UnsupportedControl` naming the parameter at fault. `profile` is not changed."""
    kind = profile.provider.kind
    options = dict(profile.options or {})
    for name, key in (("budget_min", "budget_min_tokens"), ("budget_max", "budget_max_tokens")):
        if answers.get(name) is not None and answers.get("budget"):
            options[key] = answers[name]
        else:
            options.pop(key, None)
    if answers.get("tools", True):
        options.pop("supports_tools", None)
    else:
        options["supports_tools"] = False
    if answers.get("structured") == "instructions":
        options["structured_output"] = "instructions"
    else:
        options.pop("structured_output", None)
    thinking = answers["thinking"]
    fields: dict[str, Any] = {
        "supports_temperature": bool(answers.get("temperature")),
        "context_window": answers.get("context_window"),
        "max_output_tokens": answers.get("max_output"),
        "replay": answers.get("replay") or "",
    }
    if thinking == "none":
        options.pop("thinking_always_on", None)
        fields.update(reasoning="none", thinking_control="none", efforts=[], supports_budget=False)
        for key in ("budget_min_tokens", "budget_max_tokens"):
            options.pop(key, None)
    else:
        efforts = [e for e in EFFORT_LEVELS if e in (answers.get("efforts") or ())]
        fields.update(
            reasoning=answers.get("returns") or "native", thinking_control=answers["control"], efforts=efforts,
            supports_budget=bool(answers.get("budget")),
        )
        if thinking == "switch":
            options.pop("thinking_always_on", None)
            options.pop("adaptive_only", None)
    candidate = copy.copy(profile)
    for name, value in fields.items():
        setattr(candidate, name, value)
    if thinking == "always":
        # Marked only where the control could otherwise turn thinking off.
        options.pop("thinking_always_on", None)
        candidate.options = options
        if _refusal_of_off(candidate) is None:
            options["thinking_always_on"] = True
    candidate.options = options
    fields["options"] = options
    check_profile(kind, candidate.spec())
    if thinking == "switch" and (refused := _refusal_of_off(candidate)) is not None:
        raise UnsupportedControl("thinking", f"thinking cannot be turned off this way: {refused}")
    if thinking != "none" and fields["supports_budget"]:
        accepted = accepted_controls(kind, candidate.spec(), candidate.max_output_tokens)
        if accepted.budget_reason is not None:
            raise UnsupportedControl(
                "budget_tokens", f"{CONTROL_LABELS.get(answers['control'], answers['control'])} takes no token "
                "budget: untick it, or choose a way of asking for thinking that takes one",
            )
    return fields


def _refusal_of_off(candidate: ModelProfile) -> str | None:
    try:
        check_controls(candidate.provider.kind, candidate.spec(), Thinking(mode="off"), candidate.max_output_tokens)
    except UnsupportedControl as e:
        return str(e)
    return None


def offered(profile: ModelProfile) -> list[tuple[str, str]]:
    """What the chat composer offers for the profile as stored: the same answer the
    composer itself renders from (`playground.turns.offer`)."""
    from playground.turns.offer import offer_for

    accepted = offer_for(profile)
    modes = ["Default", *(m.capitalize() for m, why in accepted.thinking.items() if why is None)]
    low, high = profile.options.get("budget_min_tokens"), profile.options.get("budget_max_tokens")
    span = f"{low or 1} to {high} tokens" if high else f"{low or 1} or more tokens"
    rows = [
        ("Thinking", ", ".join(modes) if accepted.thinking_switch else "not offered"),
        ("Effort", ", ".join(accepted.efforts) or "not offered"),
        ("Thinking budget", span if profile.supports_budget and accepted.budget else "not offered"),
        ("Temperature", "0 to 2" if profile.supports_temperature else "not offered"),
    ]
    return rows


def save(profile: ModelProfile, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.save(update_fields=list(fields))
