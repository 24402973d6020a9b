"""Drawing two contenders from the pool, balanced.

Every pair of entrants of different models is a possible battle (never one model
against itself, at whatever effort). Each battle goes to a pair among those played
the fewest times so far, at random among them, with the sides at random too: so over
many battles every pair is played about equally often (within one battle of each
other), and which one stands left is a coin toss (the leaderboard's position term
needs that to be measurable).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from itertools import combinations
from typing import Protocol, TypeVar


class Contender(Protocol):
    pk: int
    model_id: int


C = TypeVar("C", bound=Contender)


def pair_key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def possible_pairs(pool: Sequence[C]) -> list[tuple[C, C]]:
    return [(a, b) for a, b in combinations(pool, 2) if a.model_id != b.model_id]


def draw(pool: Sequence[C], played: Counter[tuple[int, int]], rng: random.Random) -> tuple[C, C]:
    """(left, right) for the next battle; ValueError when the pool has fewer than two models."""
    pairs = possible_pairs(pool)
    if not pairs:
        raise ValueError("The arena's pool needs entrants of at least two different models.")
    fewest = min(played[pair_key(a.pk, b.pk)] for a, b in pairs)
    a, b = rng.choice([(a, b) for a, b in pairs if played[pair_key(a.pk, b.pk)] == fewest])
    return (a, b) if rng.random() < 0.5 else (b, a)
