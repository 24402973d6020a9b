"""One mapping from the UI's thinking controls to each provider's request fields.

The UI has four controls (`reasoning.request.Thinking`): mode (default / on / off),
effort (none … max), budget tokens, and include reasoning. A model profile says how
*its* provider spells them in `ModelSpec.thinking_control`; `thinking_params(request)`
returns the body fields to merge into the request (use `merge_params`, which merges
nested objects, because Gemini's part lives under `generationConfig`).

Each control is one entry of the registry `CONTROLS` (name → the provider kinds that may
carry it and the function that spells the settings): `thinking_params` runs the checks
every control shares (`_Wanted`; a model that does not reason takes none), then the
entry. A new family or gateway with its own switch is one entry plus its tests. Adapters
raise a refusal found while preparing as `BadRequest` (`adapters.prepare_or_refuse`).

Sections (§) refer to /work/shared/spec/providers.md.

Each control, with the provider kinds it applies to ("simulator" may mimic any):

`none` (any kind): nothing is sent; the model's thinking is fixed. Mode on/off, an
    effort or a budget is refused (the message names the profile field that would help),
    except at the simulator, which reads the controls itself.
`reasoning_effort` (openai; §1 OpenAI, §9 xAI, gpt-oss): effort → `reasoning_effort`.
    Off → `reasoning_effort:"none"` when the model lists "none" (gpt-5.1), else ValueError
    (models before gpt-5.1 reject "none", §1). On alone sends nothing.
`chat_template_kwargs` (openai; §8 vLLM/SGLang, Qwen3, Nemotron):
    `{"chat_template_kwargs":{"enable_thinking":bool}}`; effort → `reasoning_effort`.
`chat_template_kwargs_thinking` (openai; §8 DeepSeek-V3.1, Granite, Kimi):
    `{"chat_template_kwargs":{"thinking":bool}}`; effort → `reasoning_effort`.
`chat_template_args` (openai; §9 Baseten): `{"chat_template_args":{"enable_thinking":bool}}`;
    effort → `reasoning_effort`.
`thinking_type` (openai; §3 DeepSeek, §9 GLM, Kimi): `{"thinking":{"type":"enabled"|"disabled"}}`;
    effort → `reasoning_effort` (§3, V4 takes high/max).
`openrouter` (openai; §6): `reasoning:{enabled:true}` for on, `reasoning:{effort:"none"}` for
    off (ValueError when the model lists efforts without "none": OpenRouter's `mandatory`),
    `reasoning.effort`, or `reasoning.max_tokens` from budget_tokens (not both: ValueError);
    include_reasoning=False → `reasoning.exclude:true`.
`together` (openai; §9 Together): `reasoning:{enabled:bool}`; effort → `reasoning_effort`
    (GPT-OSS).
`groq` (openai; §9 Groq): effort → `reasoning_effort`; off → `reasoning_effort:"none"` when
    listed (Qwen3), else ValueError. Always sends `reasoning_format:"parsed"` ("hidden" when
    include_reasoning is False), because Groq's default "raw" puts `<think>` in content; a
    model option `groq_switch: "include_reasoning"` sends `include_reasoning:bool` instead
    (GPT-OSS, which cannot take both).
`friendli` (openai; §9 Friendli): `chat_template_kwargs.enable_thinking` as the switch
    (effort → `reasoning_effort`), and always `parse_reasoning` / `include_reasoning`
    following the request's reasoning mode: separate → both true, hidden →
    `include_reasoning:false`, inline → `parse_reasoning:false` (the raw text).
`anthropic_budget` (anthropic; §4 manual mode): `thinking:{type:"enabled",budget_tokens}`
    plus `max_tokens` (below), or `thinking:{type:"disabled"}`; effort → budget (table below).
`anthropic_adaptive` (anthropic; §4 adaptive mode): `thinking:{type:"adaptive"}` plus
    `output_config.effort` (minimal → low, §11); off → `thinking:{type:"disabled"}`, a
    ValueError when the model option `adaptive_only` is true (Opus 4.7: 400, §4); a budget is
    a ValueError. For both Anthropic controls include_reasoning=False →
    `thinking.display:"omitted"` (§4).
`gemini_budget` (gemini; §5, 2.5 models): `generationConfig.thinkingConfig` with
    `thinkingBudget` (on alone → -1, dynamic; off → 0, a ValueError when the model option
    `thinking_always_on` is true, 2.5 Pro) and `includeThoughts` = include_reasoning (false
    when off); effort → budget (table below); budget_tokens sent as given.
`gemini_level` (gemini; §5, Gemini 3): `thinkingConfig.thinkingLevel` (upper case, as the
    SDK writes it), xhigh/max → "HIGH"
    (§6); off is a ValueError (Gemini 3 cannot turn thinking off, §11); a budget is a
    ValueError (level and budget together are a 400, §5).
`ollama_think` (ollama; §7): `think:true|false`, effort → `think:"low"|"medium"|"high"|"max"`
    with minimal → low and xhigh → max (Ollama's own mapping, §7).
`responses` (openai-responses; §2): `reasoning:{effort, summary:"auto"}`; summary is omitted
    when include_reasoning is False (no summary text comes back then); off →
    `reasoning.effort:"none"` when listed, else ValueError.

Rules common to every control:

* The model option `thinking_always_on` (any control) refuses mode "off" and effort
  "none": the profile says this model cannot stop thinking. `budget_min_tokens` and
  `budget_max_tokens` bound budget_tokens (the Providers page's capabilities form sets them).

* An effort must be one of `EFFORT_LEVELS` and one the model lists in `ModelSpec.efforts`;
  a model with no efforts takes none (ValueError). Effort `"none"` means thinking off,
  so it contradicts mode "on" (ValueError).
* Mode "default" with no effort and no budget sends nothing but the include-reasoning
  knob where one exists: the provider's own default applies.
* An effort or a budget with mode "default" implies thinking on.
* Anything the control cannot express raises `UnsupportedControl` (a `ValueError`)
  naming the parameter, saying why and what would work, except
  include_reasoning=False where no knob exists: it is dropped (reasoning still arrives
  and the caller may hide it), since refusing a request for that would help no one.

Budgets per effort (tokens):

| effort | anthropic_budget (§11, LiteLLM's newer table) | gemini_budget (§5, Google's mapping) |
|---|---|---|
| minimal | 1024 (§11, PR #27053) | 512 (§11, LiteLLM docs table; inside every 2.5 range of §5) |
| low | 1024 | 1024 |
| medium | 2048 | 8192 |
| high | 4096 | 24576 |
| xhigh | 8192 | 24576 (largest budget every 2.5 model accepts, §5 table) |
| max | 16384 | 24576 (same; 2.5 Pro's 32768 is reachable through budget_tokens) |

Anthropic mode "on" with neither effort nor budget uses the medium budget (2048).
Anthropic budgets must be ≥ 1024 and < max_tokens (§4): a smaller budget_tokens is refused
(effort budgets are never smaller); with `request.max_tokens` given, a budget that does not fit is lowered to
max_tokens - 1 (the user's output cap wins), and max_tokens ≤ 1024 is a ValueError;
without it, the returned `max_tokens` is max(16000, budget + 4096) so the answer keeps
room after the thinking. `anthropic_budget` is the one control that returns
`max_tokens`, because Anthropic requires it and ties it to the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reasoning.request import EFFORT_LEVELS, ChatRequest, ModelSpec, ReasoningStyle, Thinking

ANTHROPIC_BUDGETS: dict[str, int] = {
    "minimal": 1024,
    "low": 1024,
    "medium": 2048,
    "high": 4096,
    "xhigh": 8192,
    "max": 16384,
}
ANTHROPIC_MIN_BUDGET = 1024
ANTHROPIC_DEFAULT_BUDGET = ANTHROPIC_BUDGETS["medium"]
ANTHROPIC_DEFAULT_MAX_TOKENS = 16000
ANTHROPIC_ANSWER_ROOM = 4096

GEMINI_BUDGETS: dict[str, int] = {
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 24576,
    "max": 24576,
}
GEMINI_DYNAMIC_BUDGET = -1
# Spelt as google-genai writes its ThinkingLevel enum (the API also takes lower case).
GEMINI_LEVELS: dict[str, str] = {
    "minimal": "MINIMAL",
    "low": "LOW",
    "medium": "MEDIUM",
    "high": "HIGH",
    "xhigh": "HIGH",
    "max": "HIGH",
}
ANTHROPIC_EFFORTS: dict[str, str] = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}
OLLAMA_LEVELS: dict[str, str] = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "max",
    "max": "max",
}



class UnsupportedControl(ValueError):
    """A thinking setting this model cannot honour, found before anything is sent.

    `parameter` is the control at fault ("thinking", "effort", "budget_tokens",
    "max_tokens", "include_reasoning" or the profile's "thinking_control"); the message
    says why and what would work. The one exception type every caller (the page, `ask`,
    the API) turns into a refusal."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def check_controls(
    kind: str, model: ModelSpec, thinking: Thinking, max_tokens: int | None = None
) -> dict[str, Any]:
    """The thinking fields this request would send, or `UnsupportedControl`. Pure: the
    check every entry point runs before storing or sending anything."""
    from reasoning.adapters import BUILTIN
    from reasoning.request import ProviderConfig

    request = ChatRequest(ProviderConfig(kind), model, (), thinking=thinking, max_tokens=max_tokens)
    reads_controls_itself = kind not in BUILTIN or (  # adapters made for tests
        kind == "simulator" and model.thinking_control == "simulator"
    )
    if reads_controls_itself:
        _Wanted(request)  # still refuse what no model could take (an effort it lacks, …)
        return {}
    sent = thinking_params(request)
    extra_body(request)  # a stored extra_body that contradicts this request is refused too
    return sent


def check_profile(kind: str, model: ModelSpec) -> None:
    """A model profile's thinking control and effort list, checked against its
    provider kind: the control must apply to the kind and every listed effort must be
    one the control can send. Raises `UnsupportedControl` naming the first misfit."""
    control = model.thinking_control
    if kind == "simulator" and control == "simulator":
        return
    if control not in CONTROL_KINDS:
        raise UnsupportedControl(
            "thinking_control",
            f"unknown thinking_control {control!r}; expected one of {', '.join(THINKING_CONTROLS)}",
        )
    kinds = CONTROL_KINDS[control]
    if kinds and kind != "simulator" and kind not in kinds:
        raise UnsupportedControl(
            "thinking_control",
            f"thinking_control {control!r} applies to {', '.join(sorted(kinds))} providers, not {kind}",
        )
    for effort in model.efforts:
        if effort not in EFFORT_LEVELS:
            raise UnsupportedControl(
                "efforts", f"unknown effort {effort!r}; expected one of {', '.join(EFFORT_LEVELS)}"
            )
        try:
            check_controls(kind, model, Thinking(effort=effort))
        except UnsupportedControl as e:
            raise UnsupportedControl("efforts", f"effort {effort!r} cannot be sent with {control}: {e}") from None


def budget_range(model: ModelSpec) -> tuple[int | None, int | None]:
    """The smallest and largest thinking budget the profile allows (the model options
    `budget_min_tokens` / `budget_max_tokens`), None where it sets no bound."""

    def bound(name: str) -> int | None:
        value = model.options.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None

    return bound("budget_min_tokens"), bound("budget_max_tokens")


class _Wanted:
    """The UI's controls, validated against the model and normalised: effort "none"
    becomes mode "off", and an effort or budget with mode "default" becomes "on"."""

    __slots__ = ("budget", "effort", "include", "mode", "model_id", "reasoning_mode")

    def __init__(self, request: ChatRequest) -> None:
        thinking, model = request.thinking, request.model
        self.model_id = model.model_id
        effort = thinking.effort
        mode = thinking.mode
        if effort is not None:
            if effort not in EFFORT_LEVELS:
                raise UnsupportedControl(
                    "effort", f"unknown effort {effort!r}; expected one of {', '.join(EFFORT_LEVELS)}"
                )
            if not model.efforts:
                raise UnsupportedControl(
                    "effort",
                    f"{model.model_id} has no effort control; leave effort at default, or list the "
                    "levels it takes in the model's efforts",
                )
            if effort not in model.efforts:
                raise UnsupportedControl(
                    "effort",
                    f"{model.model_id} does not accept effort {effort!r}; "
                    f"it accepts {', '.join(model.efforts)}",
                )
            if mode == "off" and effort != "none":
                raise UnsupportedControl(
                    "effort", f"effort {effort!r} was given but thinking is off; turn thinking on or drop the effort"
                )
            if effort == "none":
                if mode == "on":
                    raise UnsupportedControl(
                        "effort", "effort 'none' turns thinking off, but thinking is set on"
                    )
                mode, effort = "off", None
        if mode == "off" and model.options.get("thinking_always_on"):
            raise UnsupportedControl(
                "thinking",
                f"{model.model_id} cannot turn thinking off (its profile says thinking is always on); "
                "leave thinking at default, or choose its lowest effort",
            )
        budget = thinking.budget_tokens
        if budget is not None and budget <= 0:
            raise UnsupportedControl("budget_tokens", f"budget_tokens must be positive, not {budget}")
        if budget is not None:
            low, high = budget_range(model)
            if low is not None and budget < low:
                raise UnsupportedControl(
                    "budget_tokens", f"{model.model_id} takes a thinking budget of {low} tokens or more, not {budget}"
                )
            if high is not None and budget > high:
                raise UnsupportedControl(
                    "budget_tokens", f"{model.model_id} takes a thinking budget of at most {high} tokens, not {budget}"
                )
        if mode == "off" and budget is not None:
            raise UnsupportedControl(
                "budget_tokens", "a thinking budget was given but thinking is off; turn thinking on or drop the budget"
            )
        if mode == "default" and (effort is not None or budget is not None):
            mode = "on"
        self.mode = mode
        self.effort = effort
        self.budget = budget
        self.include = thinking.include_reasoning and thinking.reasoning_mode != "hidden"
        self.reasoning_mode = thinking.reasoning_mode

    def no_budget(self, control: str) -> None:
        if self.budget is not None:
            hint = "" if control == "none" else "; choose an effort instead"
            raise UnsupportedControl(
                "budget_tokens", f"{self.model_id} ({control}) takes no thinking budget{hint}"
            )

    def no_effort(self, control: str) -> None:
        if self.effort is not None:
            raise UnsupportedControl("effort", f"{self.model_id} ({control}) takes no effort")


def thinking_params(request: ChatRequest) -> dict[str, Any]:
    """The body fields that express `request.thinking` for this model and provider.

    Returns a (possibly nested) dict to merge into the request body with
    `merge_params`; `{}` when nothing needs sending. Raises ValueError for a
    combination the model cannot express (see the module docstring).
    """
    control = request.model.thinking_control
    if control not in CONTROL_KINDS:
        raise UnsupportedControl(
            "thinking_control",
            f"unknown thinking_control {control!r}; expected one of {', '.join(THINKING_CONTROLS)}",
        )
    kinds = CONTROL_KINDS[control]
    kind = request.provider.kind
    if kinds and kind != "simulator" and kind not in kinds:
        raise UnsupportedControl(
            "thinking_control",
            f"thinking_control {control!r} does not apply to provider kind {kind!r}; "
            f"it applies to {', '.join(sorted(kinds))}",
        )
    if request.model.reasoning == ReasoningStyle.NONE:
        return _does_not_reason(request)
    wanted = _Wanted(request)
    return CONTROLS[control].send(wanted, request)


def extra_body(request: ChatRequest) -> dict[str, Any]:
    """The model option `extra_body`: vendor fields merged into every request body after
    everything else (nested objects merged), so knobs such as Friendli's
    `parse_reasoning`, Baseten's `chat_template_args` or vLLM's `thinking_token_budget`
    need no code. A field it sets that the request's controls also set, to another
    value, is refused (`UnsupportedControl("extra_body")`): a stored option never
    silently overrides what this request asked for (Reasoning: hidden against
    `include_reasoning: true`, thinking off against `enable_thinking: true`)."""
    extra = request.model.options.get("extra_body") or {}
    if not isinstance(extra, Mapping):
        raise UnsupportedControl("extra_body", f"the model option extra_body must be a table, not {extra!r}")
    conflict = _first_conflict(extra, thinking_params(request))
    if conflict is not None:
        path, stored, asked = conflict
        raise UnsupportedControl(
            "extra_body",
            f"{request.model.model_id}'s extra_body sets {path} = {_json(stored)}, but this request's "
            f"reasoning settings send {path} = {_json(asked)}; remove {path} from the model's extra_body "
            "(the controls set it per request), or choose settings that agree with it",
        )
    return dict(extra)


def _first_conflict(
    extra: Mapping[str, Any], sent: Mapping[str, Any], prefix: str = ""
) -> tuple[str, Any, Any] | None:
    for key, value in extra.items():
        if key not in sent:
            continue
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(sent[key], Mapping):
            found = _first_conflict(value, sent[key], path + ".")
            if found is not None:
                return found
        elif value != sent[key]:
            return path, value, sent[key]
    return None


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def merge_params(body: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `params` into `body` in place, descending into nested objects, and return it."""
    for key, value in params.items():
        current = body.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            merge_params(current, value)
        elif isinstance(value, Mapping):
            body[key] = merge_params({}, value)
        else:
            body[key] = value
    return body


def _off_effort(wanted: _Wanted, efforts: tuple[str, ...], control: str) -> str:
    if "none" not in efforts:
        raise UnsupportedControl(
            "thinking",
            f"{wanted.model_id} cannot turn thinking off ({control}: effort 'none' is not among its "
            "efforts); choose its lowest effort instead",
        )
    return "none"


def _effort_field(wanted: _Wanted, efforts: tuple[str, ...]) -> dict[str, Any]:
    if wanted.mode == "off":
        return {"reasoning_effort": _off_effort(wanted, efforts, "reasoning_effort")}
    if wanted.effort is not None:
        return {"reasoning_effort": wanted.effort}
    return {}


def _switch(wanted: _Wanted, switch: dict[str, Any]) -> dict[str, Any]:
    """An on/off switch plus an optional `reasoning_effort` next to it."""
    if wanted.mode == "default":
        return {}
    params = dict(switch)
    if wanted.effort is not None:
        params["reasoning_effort"] = wanted.effort
    return params


def _openrouter(wanted: _Wanted, efforts: tuple[str, ...]) -> dict[str, Any]:
    reasoning: dict[str, Any] = {}
    if wanted.mode == "off":
        if efforts and "none" not in efforts:
            raise UnsupportedControl(
                "thinking", f"{wanted.model_id} reasons always on OpenRouter (mandatory); choose a low effort"
            )
        reasoning["effort"] = "none"
    elif wanted.mode == "on":
        if wanted.effort is not None and wanted.budget is not None:
            raise UnsupportedControl("budget_tokens", "OpenRouter takes an effort or a budget, not both")
        if wanted.effort is not None:
            reasoning["effort"] = wanted.effort
        elif wanted.budget is not None:
            reasoning["max_tokens"] = wanted.budget
        else:
            reasoning["enabled"] = True
    if not wanted.include and wanted.mode != "off":
        reasoning["exclude"] = True
    return {"reasoning": reasoning} if reasoning else {}


def _anthropic_display(wanted: _Wanted, thinking: dict[str, Any], summarized: bool = False) -> dict[str, Any]:
    """`display`: "omitted" when no reasoning is wanted; "summarized" when it is and the
    model's default is "omitted" (model option `display_summarized`: Claude Opus 4.7 and
    later return empty thinking text otherwise, spec §13)."""
    if not wanted.include:
        thinking["display"] = "omitted"
    elif summarized:
        thinking["display"] = "summarized"
    return thinking


def _anthropic_budget(wanted: _Wanted, max_tokens: int | None, options: Mapping[str, Any]) -> dict[str, Any]:
    if wanted.mode == "default":
        return {}
    if wanted.mode == "off":
        return {"thinking": {"type": "disabled"}}
    if wanted.budget is not None and wanted.budget < ANTHROPIC_MIN_BUDGET:
        raise UnsupportedControl(
            "budget_tokens",
            f"Anthropic's smallest thinking budget is {ANTHROPIC_MIN_BUDGET} tokens, not {wanted.budget}; "
            f"give {ANTHROPIC_MIN_BUDGET} or more, or turn thinking off",
        )
    if wanted.budget is not None:
        budget = wanted.budget
    elif wanted.effort is not None:
        budget = ANTHROPIC_BUDGETS[wanted.effort]
    else:
        budget = ANTHROPIC_DEFAULT_BUDGET
    budget = max(budget, ANTHROPIC_MIN_BUDGET)
    if max_tokens is None:
        max_tokens = max(ANTHROPIC_DEFAULT_MAX_TOKENS, budget + ANTHROPIC_ANSWER_ROOM)
    elif max_tokens <= ANTHROPIC_MIN_BUDGET:
        raise UnsupportedControl(
            "max_tokens",
            f"max_tokens {max_tokens} leaves no room for Anthropic's minimum thinking budget "
            f"of {ANTHROPIC_MIN_BUDGET}; raise max_tokens above {ANTHROPIC_MIN_BUDGET} or turn thinking off",
        )
    else:
        budget = min(budget, max_tokens - 1)
    thinking = _anthropic_display(
        wanted, {"type": "enabled", "budget_tokens": budget}, bool(options.get("display_summarized"))
    )
    return {"max_tokens": max_tokens, "thinking": thinking}


def _anthropic_adaptive(wanted: _Wanted, options: Mapping[str, Any]) -> dict[str, Any]:
    wanted.no_budget("anthropic_adaptive")
    summarized = bool(options.get("display_summarized"))
    if wanted.mode == "default":
        # A model that thinks by default (Claude Opus 5+) still needs "summarized" to
        # show any of it; nothing else changes its default.
        if summarized and options.get("thinks_by_default") and wanted.include:
            return {"thinking": _anthropic_display(wanted, {"type": "adaptive"}, summarized)}
        return {}
    if wanted.mode == "off":
        if options.get("adaptive_only"):
            raise UnsupportedControl(
                "thinking",
                f"{wanted.model_id} cannot turn thinking off: it only supports adaptive thinking (Anthropic "
                "answers thinking.type disabled with a 400). Leave thinking at default, or choose effort low "
                "for the least thinking",
            )
        return {"thinking": {"type": "disabled"}}
    params: dict[str, Any] = {"thinking": _anthropic_display(wanted, {"type": "adaptive"}, summarized)}
    if wanted.effort is not None:
        params["output_config"] = {"effort": ANTHROPIC_EFFORTS[wanted.effort]}
    return params


def _gemini(config: dict[str, Any]) -> dict[str, Any]:
    return {"generationConfig": {"thinkingConfig": config}}


def _gemini_budget(wanted: _Wanted, always_on: bool) -> dict[str, Any]:
    if wanted.mode == "off":
        if always_on:
            raise UnsupportedControl(
                "thinking", f"{wanted.model_id} cannot turn thinking off; choose a small budget or effort low"
            )
        return _gemini({"thinkingBudget": 0, "includeThoughts": False})
    config: dict[str, Any] = {}
    if wanted.mode == "on":
        if wanted.budget is not None:
            config["thinkingBudget"] = wanted.budget
        elif wanted.effort is not None:
            config["thinkingBudget"] = GEMINI_BUDGETS[wanted.effort]
        else:
            config["thinkingBudget"] = GEMINI_DYNAMIC_BUDGET
    config["includeThoughts"] = wanted.include
    return _gemini(config)


def _gemini_level(wanted: _Wanted) -> dict[str, Any]:
    wanted.no_budget("gemini_level")
    if wanted.mode == "off":
        raise UnsupportedControl(
            "thinking", f"{wanted.model_id} cannot turn thinking off; choose its lowest effort"
        )
    config: dict[str, Any] = {}
    if wanted.effort is not None:
        config["thinkingLevel"] = GEMINI_LEVELS[wanted.effort]
    config["includeThoughts"] = wanted.include
    return _gemini(config)


def _responses(wanted: _Wanted, efforts: tuple[str, ...]) -> dict[str, Any]:
    wanted.no_budget("responses")
    reasoning: dict[str, Any] = {}
    if wanted.mode == "off":
        reasoning["effort"] = _off_effort(wanted, efforts, "responses")
        return {"reasoning": reasoning}
    if wanted.effort is not None:
        reasoning["effort"] = wanted.effort
    if wanted.include:
        # Without `summary` no reasoning text comes back at all (§2).
        reasoning["summary"] = "auto"
    return {"reasoning": reasoning} if reasoning else {}


def _none(wanted: _Wanted, request: ChatRequest) -> dict[str, Any]:
    wanted.no_effort("none")
    wanted.no_budget("none")
    if wanted.mode != "default":
        raise UnsupportedControl(
            "thinking",
            f"{wanted.model_id} has no thinking switch (its thinking_control is none), so "
            f"thinking {wanted.mode} cannot be sent; leave thinking at default, or set the "
            "model's thinking_control to how its provider switches thinking",
        )
    return {}


def _does_not_reason(request: ChatRequest) -> dict[str, Any]:
    """A model that does not reason (`reasoning = "none"`: gpt-4o, gpt-4.1, Claude 3 …)
    takes no thinking control at all, whatever its profile's control says: such
    models answer `reasoning_effort` or `thinking` with a 400. Thinking off is what
    it does anyway, so nothing is sent for it."""
    thinking = request.thinking
    what = f"{request.model.model_id} does not reason (its reasoning is none)"
    if thinking.effort not in (None, "none"):
        raise UnsupportedControl(
            "effort", f"{what}, so it takes no effort; leave effort at default, or pick a reasoning model"
        )
    if thinking.budget_tokens is not None:
        raise UnsupportedControl(
            "budget_tokens",
            f"{what}, so it takes no thinking budget; leave the budget empty, or pick a reasoning model",
        )
    if thinking.mode == "on":
        raise UnsupportedControl(
            "thinking", f"{what}, so thinking cannot be turned on; leave thinking at default, or pick a reasoning model"
        )
    return {}


def _reasoning_effort(wanted: _Wanted, request: ChatRequest) -> dict[str, Any]:
    wanted.no_budget("reasoning_effort")
    return _effort_field(wanted, request.model.efforts)


def _template_switch(field: str, key: str, control: str) -> Callable[[_Wanted, ChatRequest], dict[str, Any]]:
    """A chat-template on/off switch `{field: {key: bool}}` plus `reasoning_effort`."""

    def send(wanted: _Wanted, request: ChatRequest) -> dict[str, Any]:
        wanted.no_budget(control)
        return _switch(wanted, {field: {key: wanted.mode == "on"}})

    return send


def _thinking_type(wanted: _Wanted, request: ChatRequest) -> dict[str, Any]:
    wanted.no_budget("thinking_type")
    kind_of = "enabled" if wanted.mode == "on" else "disabled"
    return _switch(wanted, {"thinking": {"type": kind_of}})


def _together(wanted: _Wanted, request: ChatRequest) -> dict[str, Any]:
    wanted.no_budget("together")
    return _switch(wanted, {"reasoning": {"enabled": wanted.mode == "on"}})


def _groq(wanted: _Wanted, request: ChatRequest) -> dict[str, Any]:
    wanted.no_budget("groq")
    params = _effort_field(wanted, request.model.efforts)
    if request.model.options.get("groq_switch") == "include_reasoning":
        params["include_reasoning"] = wanted.include
    else:
        # Groq's default is "raw" (<think> tags inside content, §9): ask for the field.
        params["reasoning_format"] = "parsed" if wanted.include else "hidden"
    return params


def _ollama_think(wanted: _Wanted, request: ChatRequest) -> dict[str, Any]:
    wanted.no_budget("ollama_think")
    if wanted.mode == "default":
        return {}
    if wanted.mode == "off":
        return {"think": False}
    return {"think": OLLAMA_LEVELS[wanted.effort] if wanted.effort else True}


def _friendli(wanted: _Wanted, request: ChatRequest) -> dict[str, Any]:
    """Friendli (§9): the template switch, and reasoning parsed out and returned as the
    request's reasoning mode asks: Inline wants the raw text (no parsing), Hidden asks
    for none back (`include_reasoning: false`)."""
    wanted.no_budget("friendli")
    params = _switch(wanted, {"chat_template_kwargs": {"enable_thinking": wanted.mode == "on"}})
    if wanted.reasoning_mode == "inline":
        params["parse_reasoning"] = False
    else:
        params["parse_reasoning"] = True
        params["include_reasoning"] = wanted.include
    return params


@dataclass(frozen=True, slots=True)
class Control:
    """One thinking control: the provider kinds that may carry it (empty: any kind)
    and the function that spells the validated settings as body fields."""

    kinds: frozenset[str]
    send: Callable[[_Wanted, ChatRequest], dict[str, Any]]


# The registry: one entry per control, in the order the admin lists them. A new
# family or gateway that switches thinking its own way is one entry here plus its
# tests; `thinking_params` runs the checks every control shares, then the entry.
CONTROLS: dict[str, Control] = {
    "none": Control(frozenset(), _none),
    "reasoning_effort": Control(frozenset({"openai"}), _reasoning_effort),
    "chat_template_kwargs": Control(
        frozenset({"openai"}), _template_switch("chat_template_kwargs", "enable_thinking", "chat_template_kwargs")
    ),
    "chat_template_kwargs_thinking": Control(
        frozenset({"openai"}), _template_switch("chat_template_kwargs", "thinking", "chat_template_kwargs_thinking")
    ),
    "chat_template_args": Control(
        frozenset({"openai"}), _template_switch("chat_template_args", "enable_thinking", "chat_template_args")
    ),
    "thinking_type": Control(frozenset({"openai"}), _thinking_type),
    "openrouter": Control(frozenset({"openai"}), lambda w, r: _openrouter(w, r.model.efforts)),
    "together": Control(frozenset({"openai"}), _together),
    "groq": Control(frozenset({"openai"}), _groq),
    "anthropic_budget": Control(
        frozenset({"anthropic"}), lambda w, r: _anthropic_budget(w, r.max_tokens, r.model.options)
    ),
    "anthropic_adaptive": Control(frozenset({"anthropic"}), lambda w, r: _anthropic_adaptive(w, r.model.options)),
    "gemini_budget": Control(
        frozenset({"gemini"}), lambda w, r: _gemini_budget(w, bool(r.model.options.get("thinking_always_on")))
    ),
    "gemini_level": Control(frozenset({"gemini"}), lambda w, r: _gemini_level(w)),
    "ollama_think": Control(frozenset({"ollama"}), _ollama_think),
    "friendli": Control(frozenset({"openai"}), _friendli),
    "responses": Control(frozenset({"openai-responses"}), lambda w, r: _responses(w, r.model.efforts)),
}
# Which provider kinds may carry each control; "simulator" mimics any of them.
CONTROL_KINDS: dict[str, frozenset[str]] = {name: c.kinds for name, c in CONTROLS.items()}
THINKING_CONTROLS: tuple[str, ...] = tuple(CONTROLS)

