"""The prompts every user gets. Plain data: migration 0005 loads them, and a
change here needs a new data migration to reach existing databases."""

from __future__ import annotations

from typing import Any

BUILTIN_PROMPTS: list[dict[str, Any]] = [
    {
        "name": "Step by step",
        "system": "You are a careful assistant. Answer accurately and concisely.",
        "chain_of_thought": True,
        "thinking_instructions": "",  # empty: the default, "Think step by step, explaining your reasoning."
    },
    {
        "name": "Plan, then answer",
        "system": "You are a careful assistant who plans before acting.",
        "chain_of_thought": True,
        "thinking_instructions": (
            "Before answering, write a short plan: what is being asked, what you need to work out, "
            "and the steps you will take. Then carry the plan out, noting anything that does not fit."
        ),
    },
    {
        "name": "Critique your draft",
        "system": "You are a careful assistant who checks its own work.",
        "chain_of_thought": True,
        "thinking_instructions": (
            "Write a first draft of the answer. Then critique it: look for errors, gaps and unclear "
            "parts, and say how each should be fixed. Do not write the final answer yet."
        ),
    },
]


def ensure_builtin_prompts(prompt_model: Any = None) -> None:
    """Create or reset the built-in prompts (the migration passes its historical model)."""
    if prompt_model is None:
        from playground.models import Prompt as prompt_model
    for fields in BUILTIN_PROMPTS:
        prompt_model.objects.update_or_create(owner=None, name=fields["name"], defaults=fields)
