"""Bradley–Terry ranking from votes, checked against cases with known answers."""

from __future__ import annotations

import math
import random

import pytest

from playground.compare.leaderboard import Game, bradley_terry, pairwise_outcomes, rating, standings


def games(a: str, b: str, a_wins: int, b_wins: int, draws: int = 0) -> list[Game]:
    return [Game(a, b, 1.0)] * a_wins + [Game(a, b, 0.0)] * b_wins + [Game(a, b, 0.5)] * draws


def test_it_finds_the_odds_of_a_single_pair():
    # A won 3 of 4: the MLE has p_A / p_B = 3 exactly.
    p = bradley_terry(games("A", "B", 3, 1), prior=0)
    assert p["A"] / p["B"] == pytest.approx(3.0, rel=1e-6)


def test_it_recovers_strengths_when_the_counts_match_them_exactly():
    # Counts drawn exactly from strengths 4 : 2 : 1 satisfy the likelihood
    # equations, so the MLE is those strengths (up to scale).
    data = games("A", "B", 4, 2) + games("B", "C", 2, 1) + games("A", "C", 4, 1)
    p = bradley_terry(data, prior=0)
    assert p["A"] / p["C"] == pytest.approx(4.0, rel=1e-6)
    assert p["B"] / p["C"] == pytest.approx(2.0, rel=1e-6)
    assert math.prod(p.values()) == pytest.approx(1.0)  # geometric mean 1


def test_it_does_not_depend_on_the_order_of_votes():
    data = games("A", "B", 5, 2, 1) + games("B", "C", 3, 3) + games("C", "A", 1, 4, 2)
    shuffled = data[:]
    random.Random(7).shuffle(shuffled)
    assert bradley_terry(data) == pytest.approx(bradley_terry(shuffled))


def test_it_rates_entrants_that_only_draw_equally():
    p = bradley_terry(games("A", "B", 0, 0, 5) + games("B", "C", 0, 0, 2))
    assert p["A"] == pytest.approx(p["B"]) == pytest.approx(p["C"]) == pytest.approx(1.0)


def test_it_keeps_an_unbeaten_entrant_finite_and_first():
    table = standings([games("A", "B", 3, 0), games("B", "C", 2, 1)])
    assert [s.entrant for s in table] == ["A", "B", "C"]
    assert all(math.isfinite(s.rating) for s in table)
    assert table[0].wins == 3 and table[0].games == 3


def test_it_pulls_a_single_lucky_win_less_far_than_many_wins():
    one = bradley_terry(games("A", "B", 1, 0))
    many = bradley_terry(games("A", "B", 10, 0))
    assert 1 < one["A"] / one["B"] < many["A"] / many["B"]


def test_it_shows_strength_on_an_elo_like_scale():
    assert rating(1.0) == 1000
    assert rating(10.0) == pytest.approx(1400)


def test_a_best_vote_is_a_win_over_every_other_column():
    assert pairwise_outcomes(["x", "y", "z"], "best", 1) == [Game("y", "x", 1.0), Game("y", "z", 1.0)]


def test_a_tie_or_all_bad_vote_is_a_draw_between_every_pair():
    expected = [Game("x", "y", 0.5), Game("x", "z", 0.5), Game("y", "z", 0.5)]
    assert pairwise_outcomes(["x", "y", "z"], "tie", None) == expected
    assert pairwise_outcomes(["x", "y", "z"], "all_bad", None) == expected


def test_columns_of_the_same_entrant_do_not_play_themselves():
    assert pairwise_outcomes(["x", "x", "y"], "best", 0) == [Game("x", "y", 1.0)]


def test_it_refuses_a_best_vote_without_a_winner():
    with pytest.raises(ValueError):
        pairwise_outcomes(["x", "y"], "best", None)


def test_standings_count_votes_not_games():
    table = standings([pairwise_outcomes(["x", "y", "z"], "best", 0)])
    by_name = {s.entrant: s for s in table}
    assert by_name["x"].votes == 1 and by_name["x"].games == 2
    assert by_name["y"].votes == 1 and by_name["y"].wins == 0
