"""What the pages and the leaderboard call a model at a setting. A leaf module (no
models imported) so the arena's models can name their entrants without a circle."""

from __future__ import annotations

from typing import Any


def settings_summary(params: dict[str, Any]) -> str:
    """The controls that change how a model thinks, in a few words."""
    parts = []
    if params.get("thinking") in ("on", "off"):
        parts.append(f"thinking {params['thinking']}")
    if params.get("effort"):
        parts.append(f"effort {params['effort']}")
    if params.get("budget_tokens") is not None:
        parts.append(f"budget {params['budget_tokens']:,}")
    if params.get("temperature") is not None:
        parts.append(f"T {params['temperature']:g}")
    if params.get("max_tokens") is not None:
        parts.append(f"max {params['max_tokens']:,}")
    return " · ".join(parts)


def entrant_name(model: Any, params: dict[str, Any]) -> str:
    """What the leaderboard ranks: one model at one thinking setting.

    Temperature and max tokens are left out so they do not split a model's votes."""
    ranked: dict[str, Any] = {k: params[k] for k in ("thinking", "effort", "budget_tokens") if k in params}
    summary = settings_summary(ranked)
    return f"{model.label} · {summary}" if summary else model.label
