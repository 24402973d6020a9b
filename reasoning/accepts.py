"""Which of the UI's thinking controls a model accepts, with a short reason for each
one it does not, and refusals written for a person.

The answer is asked of the very check every entry point runs before anything is sent
(`controls.check_controls`): each control value is tried on its own, so a page built
from `accepted_controls` offers exactly what the server would take, and no second
table of capabilities can drift from the first.

Two views of the same answer: `accepted_controls` (the page's composer: which values to
offer, a short reason beside each one that is not) and `capabilities` (a control-by-
control map for `ask`, the model profile and the API: the values taken, or the full
refusal text of why not), e.g.

    capabilities(kind, model, supports_budget=..., supports_temperature=...)
    -> {"thinking": ("default", "on", "off"), "effort": ("low", "medium", "high"),
        "budget_tokens": "gpt-4o does not reason (its reasoning is none), so it takes …",
        "temperature": ("0-2",), "reasoning_mode": ("separate", "inline", "hidden")}
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reasoning.controls import ANTHROPIC_MIN_BUDGET, UnsupportedControl, budget_range, check_controls
from reasoning.request import EFFORT_LEVELS, REASONING_MODES, ModelSpec, ReasoningStyle, Thinking

# The budget tried when asking whether a model takes one: the smallest any provider accepts.
PROBE_BUDGET = ANTHROPIC_MIN_BUDGET

@dataclass(frozen=True)
class AcceptedControls:
    """What a model takes. `thinking` maps "on" and "off" to None when accepted, else to
    a short reason ("this model always thinks"); `efforts` are the levels it takes."""

    thinking: dict[str, str | None] = field(default_factory=dict)
    efforts: tuple[str, ...] = ()
    effort_reason: str | None = None
    budget_reason: str | None = None

    @property
    def thinking_switch(self) -> bool:
        return any(reason is None for reason in self.thinking.values())

    @property
    def budget(self) -> bool:
        return self.budget_reason is None

    def unavailable(self) -> list[tuple[str, str]]:
        """(what, why) for each control or value not offered, for a hint beside the controls."""
        out: list[tuple[str, str]] = []
        if not self.thinking_switch and not self.efforts:
            # Nothing about its thinking can be set: one line says why, not three.
            reason = self.thinking.get("off") or self.thinking.get("on")
            return [("Thinking controls", reason)] if reason else []
        if not self.thinking_switch:
            reason = self.thinking.get("off") or self.thinking.get("on")
            if reason:
                out.append(("Thinking on/off", reason))
        else:
            out += [(f"Thinking {mode}", reason) for mode, reason in self.thinking.items() if reason]
        if self.effort_reason:
            out.append(("Effort", self.effort_reason))
        if self.budget_reason:
            out.append(("Thinking budget", self.budget_reason))
        return out


def _refusal(kind: str, model: ModelSpec, thinking: Thinking, max_tokens: int | None) -> UnsupportedControl | None:
    try:
        check_controls(kind, model, thinking, max_tokens)
    except UnsupportedControl as e:
        return e
    return None


def accepted_controls(kind: str, model: ModelSpec, max_tokens: int | None = None) -> AcceptedControls:
    """Each thinking control tried alone against `check_controls` for this provider kind."""
    if model.reasoning is ReasoningStyle.NONE and model.thinking_control == "none":
        fixed = "this model does not reason"
        return AcceptedControls({"on": fixed, "off": fixed}, (), fixed, fixed)
    thinking: dict[str, str | None] = {}
    for mode in ("on", "off"):
        refused = _refusal(kind, model, Thinking(mode=mode), max_tokens)
        thinking[mode] = None if refused is None else _short_reason(model, mode, refused)
    efforts = tuple(e for e in model.efforts if _refusal(kind, model, Thinking(effort=e), max_tokens) is None)
    effort_reason = None if efforts else "this model has no effort levels"
    refused = _refusal(kind, model, Thinking(budget_tokens=probe_budget(model)), max_tokens)
    budget_reason = None
    if refused is not None:
        budget_reason = (
            "this model takes an effort, not a token budget" if efforts else "this model takes no thinking budget"
        )
    return AcceptedControls(thinking, efforts, effort_reason, budget_reason)


def probe_budget(model: ModelSpec) -> int:
    """A budget inside the profile's own range, to ask whether it takes one at all."""
    low, high = budget_range(model)
    probe = max(PROBE_BUDGET, low or 0)
    return min(probe, high) if high is not None else probe


def _short_reason(model: ModelSpec, mode: str, refused: UnsupportedControl) -> str:
    if model.thinking_control == "none":
        return "this model's thinking cannot be switched" if model.reasoning is not ReasoningStyle.NONE else (
            "this model does not reason"
        )
    if mode == "off":
        return "this model always thinks"
    return "this model cannot be asked to think"


def for_person(
    refused: UnsupportedControl, label: str, thinking: Thinking, accepted: AcceptedControls
) -> str:
    """A refusal that names the control as the page does and says what would work."""
    parameter = refused.parameter
    if parameter == "thinking" and thinking.mode in ("on", "off"):
        reason = accepted.thinking.get(thinking.mode) or "it is not available"
        options = ["Default"] + [m.capitalize() for m, why in accepted.thinking.items() if why is None]
        lowest = ""
        if thinking.mode == "off" and accepted.efforts:
            lowest = f", or the lowest effort ({accepted.efforts[0]})"
        return (
            f"Thinking {thinking.mode.capitalize()} is not available for {label}: {reason}. "
            f"Choose {' or '.join(options)}{lowest}."
        )
    if parameter == "effort" and thinking.mode == "off" and thinking.effort not in (None, "none"):
        return (
            f"Effort {thinking.effort} asks {label} to think, but Thinking is Off: "
            "set Thinking to Default or On, or Effort to Default."
        )
    if parameter == "effort" and thinking.mode == "on" and thinking.effort == "none":
        return (
            f"Effort none turns thinking off, but Thinking is On for {label}: "
            "choose another effort or Thinking Default."
        )
    if (parameter == "effort" and thinking.effort not in accepted.efforts) or (
        parameter == "thinking" and thinking.effort == "none"
    ):
        if accepted.efforts:
            return (
                f"Effort {thinking.effort!s} is not available for {label}. "
                f"It takes {', '.join(accepted.efforts)}, or Default."
            )
        why = accepted.effort_reason or "it has no effort levels"
        return f"Effort is not available for {label}: {why}. Leave Effort at Default."
    if parameter == "budget_tokens" and thinking.budget_tokens is not None and thinking.budget_tokens <= 0:
        return f"Thinking budget for {label} must be a positive number of tokens, or empty for none."
    if parameter == "budget_tokens" and accepted.budget_reason:
        instead = " Choose an effort instead." if accepted.efforts else " Leave it empty."
        return f"Thinking budget is not available for {label}: {accepted.budget_reason}.{instead}"
    return f"{label}: {refused}."


Accepted = tuple[str, ...] | str


def capabilities(
    kind: str, model: ModelSpec, *, supports_budget: bool = False, supports_temperature: bool = True
) -> dict[str, Accepted]:
    """Each control the page shows, with what this model takes or why not (above)."""
    name = model.model_id

    def refusal(thinking: Thinking) -> str | None:
        try:
            check_controls(kind, model, thinking)
        except UnsupportedControl as e:
            return str(e)
        return None

    out: dict[str, Accepted] = {}
    modes = ["default"] + [m for m in ("on", "off") if refusal(Thinking(mode=m)) is None]
    if model.reasoning == ReasoningStyle.NONE or len(modes) == 1:
        # Off alone is no choice for a model that does not reason: nothing to offer.
        out["thinking"] = refusal(Thinking(mode="on")) or f"{name} has no thinking switch"
    else:
        out["thinking"] = tuple(modes)

    efforts = tuple(e for e in EFFORT_LEVELS if e in model.efforts and refusal(Thinking(effort=e)) is None)
    if efforts:
        out["effort"] = efforts
    else:
        probe = model.efforts[0] if model.efforts else "high"
        out["effort"] = refusal(Thinking(effort=probe)) or f"{name} takes no effort"

    probe_tokens = probe_budget(model)
    if not supports_budget:
        out["budget_tokens"] = (
            refusal(Thinking(budget_tokens=probe_tokens))
            or f"{name}'s profile says it takes no thinking budget (supports_budget is off); choose an effort"
        )
    else:
        reason = refusal(Thinking(budget_tokens=probe_tokens))
        low, high = budget_range(model)
        minimum = max(ANTHROPIC_MIN_BUDGET if kind == "anthropic" else 1, low or 0)
        span = f"{minimum} to {high} tokens" if high is not None else f"{minimum} or more tokens"
        out["budget_tokens"] = reason or (span,)

    out["temperature"] = (
        ("0-2",) if supports_temperature
        else f"{name} takes no temperature (its provider fixes it, or refuses the field); leave it empty"
    )
    if model.reasoning == ReasoningStyle.NONE:
        out["reasoning_mode"] = f"{name} does not reason (its reasoning is none), so there is no reasoning to show"
    else:
        out["reasoning_mode"] = REASONING_MODES
    return out
