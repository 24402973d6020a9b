"""What a model accepts, control by control, with the reason where it accepts
nothing: what the page offers, and what `ask` and the API check against.

    capabilities(kind, model, supports_budget=..., supports_temperature=...)
    -> {"thinking": ("default", "on", "off"),
        "effort": ("low", "medium", "high"),
        "budget_tokens": "gpt-4o does not reason (its reasoning is none), so it takes …",
        "temperature": ("0-2",),
        "reasoning_mode": ("separate", "inline", "hidden")}

A value is the tuple of settings the model takes; a string is why the control is
unavailable, written for a person (the same words the refusal would use, since every
answer comes from asking `reasoning.controls.check_controls` itself: what is offered
here is exactly what would be accepted).
"""

from __future__ import annotations

from reasoning.controls import ANTHROPIC_MIN_BUDGET, UnsupportedControl, check_controls
from reasoning.request import EFFORT_LEVELS, REASONING_MODES, ModelSpec, ReasoningStyle, Thinking

Accepted = tuple[str, ...] | str
PROBE_BUDGET = 4096


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

    if not supports_budget:
        out["budget_tokens"] = (
            refusal(Thinking(budget_tokens=PROBE_BUDGET))
            or f"{name}'s profile says it takes no thinking budget (supports_budget is off); choose an effort"
        )
    else:
        reason = refusal(Thinking(budget_tokens=PROBE_BUDGET))
        minimum = ANTHROPIC_MIN_BUDGET if kind == "anthropic" else 1
        out["budget_tokens"] = reason or (f"{minimum} or more tokens",)

    out["temperature"] = (
        ("0-2",) if supports_temperature
        else f"{name} takes no temperature (its provider fixes it, or refuses the field); leave it empty"
    )  # fmt: skip
    if model.reasoning == ReasoningStyle.NONE:
        out["reasoning_mode"] = f"{name} does not reason (its reasoning is none), so there is no reasoning to show"
    else:
        out["reasoning_mode"] = REASONING_MODES
    return out
