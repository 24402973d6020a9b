"""Ranking models from comparison votes with the Bradley–Terry model.

Every vote becomes pairwise games between the columns of its comparison:

    "best is X"        X beats every other column          (n-1 games)
    "tie" / "all bad"  every pair of columns draws          (n(n-1)/2 games)

A draw counts as half a win for each side, as LMArena does. Bradley–Terry
gives each entrant a strength p with P(i beats j) = p_i / (p_i + p_j); the
maximum-likelihood strengths are found with Hunter's MM iteration (2004),

    p_i  <-  W_i / sum_j n_ij / (p_i + p_j)

which needs no library and, unlike Elo, does not depend on the order of the
votes. An entrant that never lost would have p = infinity, so by default each
entrant also plays one virtual draw against a fixed reference of strength 1
(`prior`): it keeps every rating finite and pulls entrants with few votes
towards the middle. Strengths are shown on the familiar Elo-like scale,
1000 + 400·log10(p / geometric mean of p).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import QuerySet

if TYPE_CHECKING:
    from playground.models import Vote


@dataclass(frozen=True)
class Game:
    """One pairwise result; `score` is 1 if `a` won, 0.5 for a draw, 0 if `b` won."""

    a: str
    b: str
    score: float


@dataclass(frozen=True)
class Standing:
    entrant: str
    rating: float
    strength: float
    wins: float  # draws count half
    games: int
    votes: int  # votes this entrant took part in

    @property
    def win_rate(self) -> float:
        return self.wins / self.games if self.games else 0.0


def pairwise_outcomes(entrants: Sequence[str], outcome: str, winner: int | None) -> list[Game]:
    """The games one vote stands for; `winner` is the index of the best column."""
    games: list[Game] = []
    if outcome == "best":
        if winner is None or not 0 <= winner < len(entrants):
            raise ValueError("a 'best' vote needs the winning column")
        for i, other in enumerate(entrants):
            if i != winner and other != entrants[winner]:
                games.append(Game(entrants[winner], other, 1.0))
    elif outcome in ("tie", "all_bad"):
        for i in range(len(entrants)):
            for j in range(i + 1, len(entrants)):
                if entrants[i] != entrants[j]:
                    games.append(Game(entrants[i], entrants[j], 0.5))
    else:
        raise ValueError(f"unknown outcome {outcome!r}")
    return games


def bradley_terry(
    games: Iterable[Game], *, prior: float = 1.0, iterations: int = 10_000, tolerance: float = 1e-10
) -> dict[str, float]:
    """Maximum-likelihood Bradley–Terry strengths, normalised to geometric mean 1.

    `prior` is the weight of the virtual draw each entrant plays against a
    reference of strength 1; 0 gives the plain MLE (which exists only when every
    entrant has won and lost something within a connected set of games).
    """
    wins: dict[str, float] = defaultdict(float)
    pairs: dict[tuple[str, str], float] = defaultdict(float)  # games played, keyed both ways
    names: set[str] = set()
    for g in games:
        names.update((g.a, g.b))
        wins[g.a] += g.score
        wins[g.b] += 1.0 - g.score
        pairs[g.a, g.b] += 1
        pairs[g.b, g.a] += 1
    if not names:
        return {}
    opponents: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for (a, b), n in pairs.items():
        opponents[a].append((b, n))

    strength = dict.fromkeys(names, 1.0)
    for _ in range(iterations):
        updated: dict[str, float] = {}
        for i in names:
            w = wins[i] + prior / 2
            denominator = sum(n / (strength[i] + strength[j]) for j, n in opponents[i])
            denominator += prior / (strength[i] + 1.0)
            updated[i] = w / denominator if denominator else strength[i]
        # Without the anchoring prior, the scale is free: fix it each step.
        if not prior:
            scale = _geometric_mean(updated.values())
            updated = {k: v / scale for k, v in updated.items()}
        change = max(abs(math.log(updated[k] / strength[k])) for k in names)
        strength = updated
        if change < tolerance:
            break
    scale = _geometric_mean(strength.values())
    return {k: v / scale for k, v in strength.items()}


def _geometric_mean(values: Iterable[float]) -> float:
    logs = [math.log(v) for v in values]
    return math.exp(sum(logs) / len(logs))


def rating(strength: float) -> float:
    return 1000 + 400 * math.log10(strength)


def standings(votes: Iterable[Sequence[Game]], *, prior: float = 1.0) -> list[Standing]:
    """Rank entrants from the games of each vote, strongest first."""
    all_games: list[Game] = []
    votes_by_entrant: dict[str, int] = defaultdict(int)
    for vote_games in votes:
        all_games.extend(vote_games)
        for name in {n for g in vote_games for n in (g.a, g.b)}:
            votes_by_entrant[name] += 1
    strength = bradley_terry(all_games, prior=prior)
    wins: dict[str, float] = defaultdict(float)
    played: dict[str, int] = defaultdict(int)
    for g in all_games:
        wins[g.a] += g.score
        wins[g.b] += 1 - g.score
        played[g.a] += 1
        played[g.b] += 1
    table = [
        Standing(name, rating(p), p, wins[name], played[name], votes_by_entrant[name]) for name, p in strength.items()
    ]
    return sorted(table, key=lambda s: (-s.strength, s.entrant))


def games_from_votes(votes: QuerySet[Vote]) -> list[list[Game]]:
    """The games of each stored vote (`votes`: a Vote queryset)."""
    from playground.models import ComparisonColumn

    votes = votes.select_related("winner")
    comparison_ids = {v.comparison_id for v in votes}
    columns: dict[int, list[ComparisonColumn]] = defaultdict(list)
    for column in ComparisonColumn.objects.filter(comparison_id__in=comparison_ids).order_by("position"):
        columns[column.comparison_id].append(column)
    out = []
    for vote in votes:
        cols = columns[vote.comparison_id]
        winner = next((i for i, c in enumerate(cols) if c.pk == vote.winner_id), None)
        out.append(pairwise_outcomes([c.entrant for c in cols], vote.outcome, winner))
    return out
