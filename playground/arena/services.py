"""Starting a pool battle: two contenders drawn from the pool (`pairing.draw`), a blind
two-column comparison of them (shuffled, labels hidden until the vote, both columns
streaming as any comparison's do), remembered as an ArenaBattle."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from django.db import transaction

from playground.arena.models import ArenaBattle, ArenaEntrant
from playground.arena.pairing import draw, pair_key
from playground.compare.services import create_comparison
from playground.models import Comparison
from playground.turns.services import BadInput, Exchange, enabled_models

_rng = random.SystemRandom()


def pool() -> list[ArenaEntrant]:
    return list(ArenaEntrant.objects.filter(enabled=True, model__in=enabled_models())
                .select_related("model__provider"))


def played() -> Counter[tuple[int, int]]:
    counts: Counter[tuple[int, int]] = Counter()
    for first, second in ArenaBattle.objects.exclude(first=None).exclude(second=None).values_list("first", "second"):
        counts[pair_key(first, second)] += 1
    return counts


def start_battle(owner: Any, prompt: str, rng: random.Random | None = None) -> tuple[Comparison, list[Exchange]]:
    entrants = pool()
    try:
        left, right = draw(entrants, played(), rng or _rng)
    except ValueError as e:
        raise BadInput(str(e)) from None
    data: dict[str, Any] = {"prompt": prompt, "blind": "on"}
    for i, entrant in enumerate((left, right)):
        data[f"col{i}-model"] = str(entrant.model_id)
        for name, value in (entrant.params or {}).items():
            data[f"col{i}-{name}"] = value
    with transaction.atomic():
        comparison, started = create_comparison(owner, data)
        ArenaBattle.objects.create(comparison=comparison, first=left, second=right)
    return comparison, started
