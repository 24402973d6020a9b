"""Setting up a sweep: its levels checked against what the model can take, its grader
checked, one SweepRun per (input, level, repeat).

A level is "off" (thinking off), an effort the model lists ("none", "low", … "max"),
or "budget:N" (a thinking budget of N tokens, for models with `supports_budget`).
Each level becomes the controls of its runs (`level_params`) and goes through the same
check every turn goes through (`clean_params` → `reasoning.controls.check_controls`),
so a level the model cannot take is refused when the sweep is set up, with the
reason, instead of failing (or being silently dropped) on the wire.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from playground.models import ModelProfile, Turn
from playground.sweeps.models import Sweep, SweepRun
from playground.turns.services import BadInput, check_prompt, clean_params, enabled_models
from reasoning.grading import BadGrader, check_grader
from reasoning.request import EFFORT_LEVELS

MAX_REPEATS = 20
MAX_RUNS = 200
DEFAULT_REPEATS = 3
BUDGETS = (1024, 4096, 16384)  # budget levels offered for budget models
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def level_params(level: str) -> dict[str, Any]:
    """The raw controls of one level (checked by `clean_params`)."""
    if level == "off":
        return {"thinking": "off"}
    if level.startswith("budget:"):
        try:
            budget = int(level.removeprefix("budget:"))
        except ValueError:
            raise BadInput(f"{level!r}: a budget is budget:N, N a number of tokens") from None
        return {"thinking": "on", "budget_tokens": budget}
    if level in EFFORT_LEVELS:
        return {"effort": level}
    raise BadInput(f"unknown level {level!r}: use off, an effort ({', '.join(EFFORT_LEVELS)}) or budget:N")


def check_level(model: ModelProfile, level: str, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The checked controls of `level` on `model`, or BadInput saying why it cannot be sent."""
    if level.startswith("budget:") and not model.supports_budget:
        raise BadInput(f"{model.label} takes no thinking budget ({level})")
    raw = {**(base or {}), **level_params(level)}
    try:
        return clean_params(raw, model)
    except BadInput as e:
        raise BadInput(f"level {level}: {e}") from None


def available_levels(model: ModelProfile) -> list[str]:
    """Every level this model can be swept over: off where thinking can be off, each
    effort it lists, and a few budgets for budget models; each one checked."""
    candidates = ["off", *[e for e in EFFORT_LEVELS if e in (model.efforts or [])]]
    if model.supports_budget:
        cap = model.max_output_tokens or max(BUDGETS) * 2
        candidates += [f"budget:{b}" for b in BUDGETS if b < cap]
    levels = []
    for level in candidates:
        try:
            check_level(model, level)
        except BadInput:
            continue
        levels.append(level)
    return levels


def fill(prompt: str, values: dict[str, Any]) -> str:
    """The prompt with its {{name}} variables replaced by `values` (a missing one: BadInput)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise BadInput(f"the input gives no value for {{{{{name}}}}}")
        return str(values[name])

    return _VARIABLE.sub(one, prompt)


def variables(prompt: str) -> list[str]:
    return list(dict.fromkeys(_VARIABLE.findall(prompt)))


def model_named(ref: Any) -> ModelProfile:
    """An enabled model by label or id."""
    models = enabled_models()
    found = None
    if isinstance(ref, ModelProfile):
        found = models.filter(pk=ref.pk).first()
    elif isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        found = models.filter(pk=int(ref)).first()
    if found is None and isinstance(ref, str):
        found = models.filter(label=ref).first()
    if found is None:
        raise BadInput(f"{ref!r} is no enabled model")
    return found


def create_sweep(
    owner: Any,
    model: ModelProfile,
    prompt: str,
    levels: Sequence[str],
    grader: dict[str, Any],
    *,
    repeats: int = DEFAULT_REPEATS,
    inputs: Sequence[dict[str, Any]] = (),
    params: dict[str, Any] | None = None,
    concurrency: int = 3,
    source_turn: Turn | None = None,
) -> Sweep:
    prompt = check_prompt(prompt)
    levels = list(dict.fromkeys(level.strip() for level in levels if level.strip()))
    if not levels:
        raise BadInput("choose at least one level")
    base = clean_params(dict(params or {}), model)
    for name in ("thinking", "effort", "budget_tokens"):
        base.pop(name, None)  # the level sets these
    for level in levels:
        check_level(model, level, base)
    if not 1 <= repeats <= MAX_REPEATS:
        raise BadInput(f"repeats must be between 1 and {MAX_REPEATS}")
    if any(not isinstance(values, dict) for values in inputs):
        raise BadInput('each input is an object of variable values, such as {"city": "Paris"}')
    inputs = [dict(values) for values in inputs]
    for values in inputs or [{}]:
        fill(prompt, values)  # every variable has a value in every input
    if (runs := len(levels) * repeats * max(1, len(inputs))) > MAX_RUNS:
        raise BadInput(f"{runs} runs is too many for one sweep (at most {MAX_RUNS})")
    try:
        grader = check_grader(grader)
    except BadGrader as e:
        raise BadInput(f"grader: {e}") from None
    if grader["kind"] == "judge":
        grader["judge"] = model_named(grader["judge"]).pk
    with transaction.atomic():
        sweep = Sweep.objects.create(
            owner=owner, model=model, model_label=model.label, prompt=prompt, inputs=inputs, params=base,
            levels=levels, repeats=repeats, grader=grader, concurrency=max(1, min(concurrency, 16)),
            source_turn=source_turn,
        )
        # Interleaved (repeat-major) so a stopped sweep has a few runs of every level.
        SweepRun.objects.bulk_create(
            SweepRun(sweep=sweep, level=level, input_index=i, repeat=r)
            for r in range(repeats)
            for i in range(max(1, len(inputs)))
            for level in levels
        )
    return sweep


def prompt_of(sweep: Sweep, run: SweepRun) -> str:
    values = sweep.inputs[run.input_index] if sweep.inputs else {}
    return fill(sweep.prompt, values)
