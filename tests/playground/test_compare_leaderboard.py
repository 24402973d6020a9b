"""Bradley–Terry ranking from votes, checked against cases with known answers."""

from __future__ import annotations

import math
import random

import pytest

from playground.compare.leaderboard import Game, bradley_terry, fit, leaderboard, pairwise_outcomes, rating, standings


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
    # y stood in the middle: right of x, left of z.
    assert pairwise_outcomes(["x", "y", "z"], "best", 1) == [Game("y", "x", 1.0, False), Game("y", "z", 1.0, True)]


def test_a_tie_or_all_bad_vote_is_a_draw_between_every_pair():
    expected = [Game("x", "y", 0.5, True), Game("x", "z", 0.5, True), Game("y", "z", 0.5, True)]
    assert pairwise_outcomes(["x", "y", "z"], "tie", None) == expected
    assert pairwise_outcomes(["x", "y", "z"], "all_bad", None) == expected


def test_columns_of_the_same_entrant_do_not_play_themselves():
    assert pairwise_outcomes(["x", "x", "y"], "best", 0) == [Game("x", "y", 1.0, True)]


def test_it_refuses_a_best_vote_without_a_winner():
    with pytest.raises(ValueError):
        pairwise_outcomes(["x", "y"], "best", None)


def test_standings_count_votes_not_games():
    table = standings([pairwise_outcomes(["x", "y", "z"], "best", 0)])
    by_name = {s.entrant: s for s in table}
    assert by_name["x"].votes == 1 and by_name["x"].games == 2
    assert by_name["y"].votes == 1 and by_name["y"].wins == 0


def sided(left: str, right: str, left_wins: int, right_wins: int) -> list[Game]:
    return [Game(left, right, 1.0, True)] * left_wins + [Game(left, right, 0.0, True)] * right_wins


def test_the_position_term_recovers_strengths_and_side_from_exact_counts():
    # p_A = 2, p_B = 1, θ = 2: A on the left wins 4 of 5 (θ·2 / (θ·2 + 1)), B on the left
    # wins 2 of 4 (θ·1 / (θ·1 + 2)). These counts solve the likelihood equations exactly.
    result = fit(sided("A", "B", 4, 1) + sided("B", "A", 2, 2), prior=0)
    assert result.strength["A"] / result.strength["B"] == pytest.approx(2.0, rel=1e-6)
    assert result.left_odds == pytest.approx(2.0, rel=1e-6)


def test_the_position_term_keeps_a_model_shown_on_the_left_more_often_from_gaining():
    # Equal models and a reader who prefers the left 2 : 1; A stood left in 6 of 9 games.
    data = sided("A", "B", 4, 2) + sided("B", "A", 2, 1)
    plain = bradley_terry(data, prior=0)
    assert plain["A"] / plain["B"] == pytest.approx(1.25, rel=1e-6)  # A wins 5 of 9: the side flatters it
    result = fit(data, prior=0)
    assert result.strength["A"] / result.strength["B"] == pytest.approx(1.0, rel=1e-6)
    assert result.left_odds == pytest.approx(2.0, rel=1e-6)


def test_the_position_term_is_found_in_simulated_votes():
    rng = random.Random(3)
    truth, theta = {"A": 3.0, "B": 1.5, "C": 1.0}, 1.4
    data = []
    for _ in range(20_000):
        left, right = rng.sample(sorted(truth), 2)
        p_left = theta * truth[left] / (theta * truth[left] + truth[right])
        data.append(Game(left, right, 1.0 if rng.random() < p_left else 0.0, True))
    result = fit(data, prior=0)
    assert result.left_odds == pytest.approx(theta, rel=0.05)
    assert result.strength["A"] / result.strength["C"] == pytest.approx(3.0, rel=0.08)
    assert result.strength["B"] / result.strength["C"] == pytest.approx(1.5, rel=0.08)


def vote_list(left: str, right: str, left_wins: int, right_wins: int) -> list[list[Game]]:
    return [[g] for g in sided(left, right, left_wins, right_wins)]


def test_the_bootstrap_gives_intervals_that_narrow_with_more_votes_and_ranks_like_lmarena():
    few = vote_list("A", "B", 3, 1) + vote_list("B", "A", 1, 3) + vote_list("A", "B", 2, 2)  # 12 votes, 8 : 4
    many = few * 10
    narrow, wide = leaderboard(many, bootstrap=200), leaderboard(few, bootstrap=200)
    for board in (narrow, wide):
        for s in board.standings:
            assert s.rating_low <= s.rating <= s.rating_high
        assert board.left_low <= board.left_odds <= board.left_high
    def width(board, name):
        return next(s.rating_high - s.rating_low for s in board.standings if s.entrant == name)

    assert width(narrow, "A") < width(wide, "A") / 2
    assert leaderboard(many, bootstrap=50, seed=1) == leaderboard(many, bootstrap=50, seed=1)  # seeded: stable
    # With few votes A and B overlap and share rank 1; with many, B ranks below A.
    assert [s.rank for s in wide.standings] == [1, 1]
    assert [(s.entrant, s.rank) for s in narrow.standings] == [("A", 1), ("B", 2)]


def test_the_left_share_reads_theta_as_a_chance():
    board = leaderboard(vote_list("A", "B", 2, 1) + vote_list("B", "A", 2, 1), prior=0)
    assert board.left_odds == pytest.approx(2.0, rel=1e-6)
    assert board.left_share == pytest.approx(2 / 3)


def test_too_few_votes_get_no_interval():
    board = leaderboard(vote_list("A", "B", 5, 4), bootstrap=100)  # 9 votes
    assert board.bootstrap == 0 and board.votes == 9
    assert all(s.rating_low is None for s in board.standings)
    assert [s.rank for s in board.standings] == [1, 2]  # plain order without intervals
