"""What the composer and the compare columns offer for a model, and the server's
refusals in words for a person: both from `reasoning.accepts`, which asks the same
check that runs before every turn (so the page cannot offer what the server refuses)."""

from __future__ import annotations

from playground.models import ModelProfile
from reasoning.accepts import AcceptedControls, accepted_controls, for_person
from reasoning.controls import UnsupportedControl
from reasoning.request import Thinking

NO_TEMPERATURE = "this model sets its own temperature"
NO_BUDGET = "this model takes no thinking budget"
NO_TOOLS = "this model takes no tools"


def takes_tools(model: ModelProfile) -> bool:
    """Its capabilities (the Providers page's "Takes tools") do not say it takes none."""
    return (model.options or {}).get("supports_tools") is not False


def offer_for(model: ModelProfile) -> AcceptedControls:
    return accepted_controls(model.provider.kind, model.spec(), model.max_output_tokens)


def unavailable(model: ModelProfile, accepted: AcceptedControls) -> list[tuple[str, str]]:
    """(control, reason) for what the page does not offer this model."""
    out = accepted.unavailable()
    if not model.supports_temperature:
        out.append(("Temperature", NO_TEMPERATURE))
    if not takes_tools(model):
        out.append(("Tools", NO_TOOLS))
    return out


def refusal(model: ModelProfile, refused: UnsupportedControl, thinking: Thinking) -> str:
    return for_person(refused, model.label, thinking, offer_for(model))


def effort_refusal(model: ModelProfile, effort: str) -> str:
    return for_person(UnsupportedControl("effort", ""), model.label, Thinking(effort=effort), offer_for(model))
