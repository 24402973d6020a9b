"""What a model accepts (reasoning.accepts) agrees with the check every turn runs:
each value offered is sent without a refusal, each one withheld is refused; and the
refusals name the control as the page does and say what would work."""

from __future__ import annotations

import pytest

from reasoning.accepts import accepted_controls, for_person
from reasoning.controls import CONTROL_KINDS, UnsupportedControl, check_controls
from reasoning.request import EFFORT_LEVELS, ModelSpec, ReasoningStyle, Thinking

KIND_OF = {
    control: next(iter(kinds)) if kinds else "openai" for control, kinds in CONTROL_KINDS.items()
}
EFFORT_LISTS = [(), ("low", "medium", "high"), ("none", "low", "high"), ("minimal", "low", "medium", "high", "max")]


def cases():
    for control, kind in KIND_OF.items():
        for efforts in EFFORT_LISTS:
            for options in ({}, {"adaptive_only": True}, {"thinking_always_on": True}):
                yield kind, ModelSpec(
                    model_id="m", reasoning=ReasoningStyle.NATIVE, thinking_control=control,
                    efforts=efforts, options=options,
                )


def refused(kind: str, model: ModelSpec, thinking: Thinking) -> bool:
    try:
        check_controls(kind, model, thinking)
    except UnsupportedControl:
        return True
    return False


@pytest.mark.parametrize(("kind", "model"), list(cases()))
def test_it_offers_exactly_what_the_check_accepts(kind, model):
    accepted = accepted_controls(kind, model)
    for mode in ("on", "off"):
        assert (accepted.thinking[mode] is None) == (not refused(kind, model, Thinking(mode=mode))), mode
    for effort in EFFORT_LEVELS:
        offered = effort in accepted.efforts
        assert offered == (effort in model.efforts and not refused(kind, model, Thinking(effort=effort))), effort
    assert accepted.budget == (not refused(kind, model, Thinking(budget_tokens=1024)))
    for what, why in accepted.unavailable():
        assert what and why and why[0].islower()


def test_a_model_that_always_thinks_says_so_and_the_refusal_says_what_works():
    model = ModelSpec(
        model_id="o3", reasoning=ReasoningStyle.NATIVE, thinking_control="reasoning_effort",
        efforts=("low", "medium", "high"),
    )
    accepted = accepted_controls("openai", model)
    assert accepted.thinking == {"on": None, "off": "this model always thinks"}
    assert ("Thinking off", "this model always thinks") in accepted.unavailable()
    with pytest.raises(UnsupportedControl) as e:
        check_controls("openai", model, Thinking(mode="off"))
    message = for_person(e.value, "OpenAI o3", Thinking(mode="off"), accepted)
    assert message == (
        "Thinking Off is not available for OpenAI o3: this model always thinks. "
        "Choose Default or On, or the lowest effort (low)."
    )
    assert "reasoning_effort" not in message


def test_a_model_that_does_not_reason_has_one_reason_for_all_its_thinking_controls():
    model = ModelSpec(model_id="chat", reasoning=ReasoningStyle.NONE)
    accepted = accepted_controls("openai", model)
    assert not accepted.thinking_switch and not accepted.efforts and not accepted.budget
    assert accepted.unavailable() == [("Thinking controls", "this model does not reason")]


def test_an_effort_refusal_lists_the_levels_the_model_takes():
    model = ModelSpec(
        model_id="g", reasoning=ReasoningStyle.NATIVE, thinking_control="gemini_level", efforts=("low", "high")
    )
    accepted = accepted_controls("gemini", model)
    message = for_person(UnsupportedControl("effort", ""), "Gemini 3", Thinking(effort="max"), accepted)
    assert message == "Effort max is not available for Gemini 3. It takes low, high, or Default."
