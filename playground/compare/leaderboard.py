"""Ranking models from comparison votes with the Bradley–Terry model.

Every vote becomes pairwise games between the columns of its comparison:

    "best is X"        X beats every other column          (n-1 games)
    "tie" / "all bad"  every pair of columns draws          (n(n-1)/2 games)

A draw counts as half a win for each side, as LMArena does. Bradley–Terry
gives each entrant a strength p with P(i beats j) = p_i / (p_i + p_j); the
maximum-likelihood strengths are found with Newton's method on log p (`fit`),
which needs no library and, unlike Elo, does not depend on the order of the
votes. An entrant that never lost would have p = infinity, so by default each
entrant also plays one virtual draw against a fixed reference of strength 1
(`prior`): it keeps every rating finite and pulls entrants with few votes
towards the middle. Strengths are shown on the familiar Elo-like scale,
1000 + 400·log10(p / geometric mean of p).

Position. Readers favour one side (LMArena's leaderboard now fits a position
term for it). Each game knows which of its two columns stood further left, and
`fit` estimates a left-side factor θ with the strengths, as a home advantage
(Hunter 2004, §4): P(left i beats right j) = θ·p_i / (θ·p_i + p_j). θ = 1 is no
bias; the strengths are then what remains once the side is accounted for.

Uncertainty. `leaderboard(..., bootstrap=B)` refits B times on votes drawn with
replacement (a vote's games stay together: they share one reader's judgement)
and reports the 2.5–97.5 percentile interval of each rating and of θ, and
LMArena's rank: 1 + the number of entrants whose interval lies wholly above.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from django.db.models import QuerySet

if TYPE_CHECKING:
    from playground.models import Vote


@dataclass(frozen=True)
class Game:
    """One pairwise result; `score` is 1 if `a` won, 0.5 for a draw, 0 if `b` won.

    `a_left`: True when `a`'s column stood left of `b`'s, False when right, None unknown."""

    a: str
    b: str
    score: float
    a_left: bool | None = None
    # Style covariates, a minus b, each (x_a - x_b) / (x_a + x_b): answer length, markdown
    # elements. None when the answers are unknown (style control leaves the game out).
    style: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Standing:
    entrant: str
    rating: float
    strength: float
    wins: float  # draws count half
    games: int
    votes: int  # votes this entrant took part in
    rating_low: float | None = None  # the bootstrap's 95% interval
    rating_high: float | None = None
    # 1 + the entrants whose interval lies wholly above this one's; without intervals, the plain order.
    rank: int = 0

    @property
    def win_rate(self) -> float:
        return self.wins / self.games if self.games else 0.0


def pairwise_outcomes(entrants: Sequence[str], outcome: str, winner: int | None) -> list[Game]:
    """The games one vote stands for; `entrants` in screen order, left to right, and
    `winner` the index of the best column."""
    games: list[Game] = []
    if outcome == "best":
        if winner is None or not 0 <= winner < len(entrants):
            raise ValueError("a 'best' vote needs the winning column")
        for i, other in enumerate(entrants):
            if i != winner and other != entrants[winner]:
                games.append(Game(entrants[winner], other, 1.0, winner < i))
    elif outcome in ("tie", "all_bad"):
        for i in range(len(entrants)):
            for j in range(i + 1, len(entrants)):
                if entrants[i] != entrants[j]:
                    games.append(Game(entrants[i], entrants[j], 0.5, True))
    else:
        raise ValueError(f"unknown outcome {outcome!r}")
    return games


Meetings = dict[tuple[str, str, bool], list[float]]  # (left, right, on a side) -> [games, left's score]


@dataclass(frozen=True)
class Fit:
    strength: dict[str, float]  # geometric mean 1
    left_odds: float  # θ: how much a column's side multiplies its odds when it stands left


def fit(
    games: Iterable[Game], *, prior: float = 1.0, position: bool = True,
    iterations: int = 100, tolerance: float = 1e-10,
) -> Fit:
    """Maximum-likelihood Bradley–Terry strengths and, with `position`, the left-side factor θ.

    `prior` is the weight of the virtual draw each entrant plays against a
    reference of strength 1 (and θ against no bias); 0 gives the plain MLE (which
    exists only when every entrant has won and lost something within a connected
    set of games). Games without a side, or all games when `position` is off,
    are played on neutral ground.

    Newton's method on the log-likelihood in β = log p and γ = log θ: the
    likelihood is concave there, and a handful of steps reach what Hunter's MM
    iteration needs thousands for (the bootstrap refits hundreds of times).
    """
    return _fit(_meetings(games, position), prior=prior, iterations=iterations, tolerance=tolerance)


def _meetings(games: Iterable[Game], position: bool) -> Meetings:
    meetings: Meetings = defaultdict(lambda: [0.0, 0.0])
    for g in games:
        on_side = position and g.a_left is not None
        left, right, score = (g.a, g.b, g.score) if not on_side or g.a_left else (g.b, g.a, 1.0 - g.score)
        if not on_side and left > right:  # neutral ground: one key per pair
            left, right, score = right, left, 1.0 - score
        m = meetings[left, right, on_side]
        m[0] += 1
        m[1] += score
    return meetings


def _fit(meetings: Meetings, *, prior: float, iterations: int, tolerance: float) -> Fit:
    names = {name for left, right, _ in meetings for name in (left, right)}
    if not names:
        return Fit({}, 1.0)
    order = sorted(names)
    index = {name: k for k, name in enumerate(order)}
    n = len(order)
    side_term = any(on_side for _, _, on_side in meetings)
    size = n + 1  # the last parameter is γ
    beta = [0.0] * size

    for _ in range(iterations):
        grad = [0.0] * size
        info = [[0.0] * size for _ in range(size)]  # minus the Hessian
        for (left, right, on_side), (count, score) in meetings.items():
            i, j = index[left], index[right]
            x = beta[i] - beta[j] + (beta[n] if on_side else 0.0)
            p = _logistic(x)
            g, w = score - count * p, count * p * (1 - p)
            terms = [(i, 1.0), (j, -1.0)] + ([(n, 1.0)] if on_side else [])
            for a, sa in terms:
                grad[a] += sa * g
                for b, sb in terms:
                    info[a][b] += sa * sb * w
        for a in range(size if side_term else n):  # the virtual draws against no advantage
            p = _logistic(beta[a])
            grad[a] += prior * (0.5 - p)
            info[a][a] += prior * p * (1 - p)
        if not side_term:
            info[n][n] = 1.0  # γ stays 0
        if not prior:
            # The scale of β is free without the prior: pin its mean (a rank-one term that
            # changes no step orthogonal to it), and recentre below.
            for a in range(n):
                for b in range(n):
                    info[a][b] += 1.0 / n
        step = _solve(info, grad)
        largest = max(abs(v) for v in step)
        if largest > 4:  # far from the optimum (a near-unbeaten entrant): no wild jumps
            step = [v * 4 / largest for v in step]
        beta = [b + v for b, v in zip(beta, step, strict=True)]
        if largest < tolerance:
            break
    mean = sum(beta[:n]) / n
    return Fit({name: math.exp(beta[index[name]] - mean) for name in order}, math.exp(beta[n]))


def _logistic(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """x with matrix·x = vector (Gaussian elimination with partial pivoting; small systems)."""
    size = len(vector)
    rows = [[*row, vector[k]] for k, row in enumerate(matrix)]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        if abs(rows[col][col]) < 1e-300:
            continue
        for r in range(col + 1, size):
            factor = rows[r][col] / rows[col][col]
            if factor:
                for c in range(col, size + 1):
                    rows[r][c] -= factor * rows[col][c]
    x = [0.0] * size
    for r in range(size - 1, -1, -1):
        if abs(rows[r][r]) < 1e-300:
            continue
        x[r] = (rows[r][size] - sum(rows[r][c] * x[c] for c in range(r + 1, size))) / rows[r][r]
    return x


def bradley_terry(
    games: Iterable[Game], *, prior: float = 1.0, iterations: int = 100, tolerance: float = 1e-10
) -> dict[str, float]:
    """Plain Bradley–Terry strengths (no position term), normalised to geometric mean 1."""
    return fit(games, prior=prior, position=False, iterations=iterations, tolerance=tolerance).strength


def rating(strength: float) -> float:
    return 1000 + 400 * math.log10(strength)


MIN_VOTES_FOR_INTERVALS = 10


@dataclass(frozen=True)
class Board:
    standings: list[Standing]
    left_odds: float  # θ, 1 = no side preferred
    left_low: float | None = None  # the bootstrap's 95% interval of θ
    left_high: float | None = None
    bootstrap: int = 0  # refits behind the intervals; 0 with fewer than MIN_VOTES_FOR_INTERVALS votes
    votes: int = 0

    @property
    def left_share(self) -> float:
        """The left column's chance to win between two equal entrants: θ / (θ + 1)."""
        return self.left_odds / (self.left_odds + 1)


def _interval(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    last = len(ordered) - 1
    return ordered[round(0.025 * last)], ordered[round(0.975 * last)]


def leaderboard(
    votes: Sequence[Sequence[Game]], *, prior: float = 1.0, position: bool = True, bootstrap: int = 0, seed: int = 0
) -> Board:
    """Rank entrants from the games of each vote, strongest first, with the side term.

    With `bootstrap` > 0, each rating and θ get a 95% interval from that many refits
    on resampled votes (seeded, so a page shows the same intervals on reload)."""
    all_games = [g for vote_games in votes for g in vote_games]
    votes_by_entrant: dict[str, int] = defaultdict(int)
    for vote_games in votes:
        for name in {n for g in vote_games for n in (g.a, g.b)}:
            votes_by_entrant[name] += 1
    result = fit(all_games, prior=prior, position=position)
    wins: dict[str, float] = defaultdict(float)
    played: dict[str, int] = defaultdict(int)
    for g in all_games:
        wins[g.a] += g.score
        wins[g.b] += 1 - g.score
        played[g.a] += 1
        played[g.b] += 1

    samples: dict[str, list[float]] = defaultdict(list)
    thetas: list[float] = []
    rng = random.Random(seed)
    per_vote = [list(_meetings(vote_games, position).items()) for vote_games in votes]
    # Resampling a handful of votes mostly redraws the same few: no interval to speak of.
    bootstrap = bootstrap if len(votes) >= MIN_VOTES_FOR_INTERVALS else 0
    for _ in range(bootstrap):
        # A resample as counts per vote: each vote's meetings are added once, times its count.
        drawn = Counter(rng.choices(range(len(votes)), k=len(votes)))
        resampled: Meetings = defaultdict(lambda: [0.0, 0.0])
        for k, times in drawn.items():
            for key, (count, score) in per_vote[k]:
                m = resampled[key]
                m[0] += times * count
                m[1] += times * score
        refit = _fit(resampled, prior=prior, iterations=100, tolerance=1e-6)
        for name, p in refit.strength.items():
            samples[name].append(rating(p))
        thetas.append(refit.left_odds)
    intervals = {name: _interval(values) for name, values in samples.items()}

    table = []
    for name, p in result.strength.items():
        low, high = intervals.get(name, (None, None))
        table.append(Standing(name, rating(p), p, wins[name], played[name], votes_by_entrant[name], low, high))
    table.sort(key=lambda s: (-s.strength, s.entrant))
    ranked = []
    for position_index, s in enumerate(table):
        if s.rating_high is None:
            rank = position_index + 1
        else:
            rank = 1 + sum(1 for o in table if o.rating_low is not None and o.rating_low > s.rating_high)
        ranked.append(replace(s, rank=rank))
    left_low, left_high = _interval(thetas) if thetas else (None, None)
    return Board(ranked, result.left_odds, left_low, left_high, bootstrap, len(votes))


def standings(votes: Iterable[Sequence[Game]], *, prior: float = 1.0, position: bool = False) -> list[Standing]:
    """Rank entrants from the games of each vote, strongest first (plain Bradley–Terry by default)."""
    return leaderboard(list(votes), prior=prior, position=position).standings


def games_from_votes(votes: QuerySet[Vote], *, style: bool = False) -> list[list[Game]]:
    """The games of each stored vote (`votes`: a Vote queryset); with `style`, each game
    carries the style difference of the two answers of the voted round."""
    from playground.models import ComparisonColumn, Turn

    votes = votes.select_related("winner")
    comparison_ids = {v.comparison_id for v in votes}
    columns: dict[int, list[ComparisonColumn]] = defaultdict(list)
    for column in ComparisonColumn.objects.filter(comparison_id__in=comparison_ids).order_by("position"):
        columns[column.comparison_id].append(column)
    answers: dict[int, list[str]] = defaultdict(list)  # conversation -> its answers, round by round
    if style:
        conversation_ids = [c.conversation_id for cols in columns.values() for c in cols]
        for conversation_id, content in (
            Turn.objects.filter(conversation_id__in=conversation_ids, role=Turn.Role.ASSISTANT)
            .order_by("created_at", "pk").values_list("conversation_id", "content")
        ):
            answers[conversation_id].append(content)
    out = []
    for vote in votes:
        cols = columns[vote.comparison_id]
        winner = next((i for i, c in enumerate(cols) if c.pk == vote.winner_id), None)
        games = pairwise_outcomes([c.entrant for c in cols], vote.outcome, winner)
        if style:
            text = {}
            for c in cols:
                said = answers.get(c.conversation_id, [])
                if len(said) >= vote.round:
                    text[c.entrant] = said[vote.round - 1]
            games = [replace(g, style=style_difference(text[g.a], text[g.b])) if g.a in text and g.b in text else g
                     for g in games]
        out.append(games)
    return out


# ---- style control ----------------------------------------------------------------------------
#
# As LMArena does it: the same Bradley–Terry fit with the answers' style as covariates,
# P(a beats b) = σ(β_a − β_b + γ·side + Σ δ_k·d_k), d_k the normalised difference of
# style feature k between the two answers (answer length in words; markdown elements:
# headers, list items, bold spans, code blocks). The ratings are then what remains once
# "longer and prettier wins" is accounted for; δ says how much style itself sways readers.

STYLE_FEATURES = ("length", "markdown")
_MARKDOWN = re.compile(r"^\s{0,3}#{1,6}\s|^\s*(?:[-*+]|\d+[.)])\s|\*\*[^*]+\*\*|^```", re.M)


def style_features(text: str) -> tuple[float, float]:
    return float(len(text.split())), float(len(_MARKDOWN.findall(text)))


def style_difference(a: str, b: str) -> tuple[float, ...]:
    out = []
    for x, y in zip(style_features(a), style_features(b), strict=True):
        out.append((x - y) / (x + y) if x + y else 0.0)
    return tuple(out)


@dataclass(frozen=True)
class StyleFit:
    strength: dict[str, float]
    left_odds: float
    coefficients: dict[str, float]  # δ per style feature (log-odds per unit of normalised difference)


def fit_with_style(games: Sequence[Game], *, prior: float = 1.0, iterations: int = 50,
                   tolerance: float = 1e-8) -> StyleFit:
    """Bradley–Terry with the position term and the style covariates (games with no
    style are left out). Newton's method per game: the covariates differ per game."""
    games = [g for g in games if g.style is not None]
    names = sorted({n for g in games for n in (g.a, g.b)})
    if not names:
        return StyleFit({}, 1.0, dict.fromkeys(STYLE_FEATURES, 0.0))
    index = {name: k for k, name in enumerate(names)}
    n, k = len(names), len(STYLE_FEATURES)
    size = n + 1 + k
    beta = [0.0] * size
    for _ in range(iterations):
        grad = [0.0] * size
        info = [[0.0] * size for _ in range(size)]
        for g in games:
            assert g.style is not None
            side = 0.0 if g.a_left is None else (1.0 if g.a_left else -1.0)
            terms = [(index[g.a], 1.0), (index[g.b], -1.0), (n, side)]
            terms += [(n + 1 + f, d) for f, d in enumerate(g.style)]
            x = sum(beta[a] * sa for a, sa in terms)
            p = _logistic(x)
            r, w = g.score - p, p * (1 - p)
            for a, sa in terms:
                if sa:
                    grad[a] += sa * r
                    for b, sb in terms:
                        info[a][b] += sa * sb * w
        for a in range(n + 1):  # the virtual draws, as in `fit`
            p = _logistic(beta[a])
            grad[a] += prior * (0.5 - p)
            info[a][a] += prior * p * (1 - p)
        for a in range(n + 1, size):  # a weak ridge keeps δ finite when style separates the games
            grad[a] -= 0.01 * beta[a]
            info[a][a] += 0.01
        if not prior:  # the strengths are fixed only up to a common factor: pin their mean
            for a in range(n):
                for b in range(n):
                    info[a][b] += 1.0 / n
        step = _solve(info, grad)
        largest = max(abs(v) for v in step)
        if largest > 4:
            step = [v * 4 / largest for v in step]
        beta = [b + v for b, v in zip(beta, step, strict=True)]
        if largest < tolerance:
            break
    mean = sum(beta[:n]) / n
    return StyleFit(
        {name: math.exp(beta[index[name]] - mean) for name in names},
        math.exp(beta[n]),
        {feature: beta[n + 1 + f] for f, feature in enumerate(STYLE_FEATURES)},
    )


@dataclass(frozen=True)
class StyleBoard:
    ratings: dict[str, tuple[float, float | None, float | None]]  # entrant -> (rating, low, high)
    coefficients: dict[str, float]
    bootstrap: int


def style_board(votes: Sequence[Sequence[Game]], *, prior: float = 1.0, bootstrap: int = 0,
                seed: int = 0) -> StyleBoard:
    """Style-controlled ratings with bootstrap intervals (votes resampled, as `leaderboard`)."""
    result = fit_with_style([g for v in votes for g in v], prior=prior)
    samples: dict[str, list[float]] = defaultdict(list)
    rng = random.Random(seed)
    bootstrap = bootstrap if len(votes) >= MIN_VOTES_FOR_INTERVALS else 0
    for _ in range(bootstrap):
        drawn = [votes[i] for i in rng.choices(range(len(votes)), k=len(votes))]
        refit = fit_with_style([g for v in drawn for g in v], prior=prior, iterations=30, tolerance=1e-6)
        for name, p in refit.strength.items():
            samples[name].append(rating(p))
    ratings: dict[str, tuple[float, float | None, float | None]] = {}
    for name, p in result.strength.items():
        low, high = _interval(samples[name]) if samples.get(name) else (None, None)
        ratings[name] = (rating(p), low, high)
    return StyleBoard(ratings, result.coefficients, bootstrap)
