"""The arena: contenders drawn from the pool only, balanced over many battles (tested
statistically with a fixed seed), never one model against itself, blind until the
vote; the leaderboard ranks pool battles apart from hand-set-up ones, its intervals
shrink as votes grow, and it computes both the raw and the style-controlled ratings."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

import pytest
from asgiref.sync import sync_to_async

from playground.arena.models import ArenaBattle, ArenaEntrant
from playground.arena.pairing import draw, pair_key, possible_pairs
from playground.compare import leaderboard
from playground.compare.leaderboard import Game, style_board, style_difference
from playground.models import Comparison, ModelProfile, Vote
from tests.playground import test_compare
from tests.playground.test_compare import columns_of, finish_runs

three_models = test_compare.three_models


@dataclass(frozen=True)
class E:
    pk: int
    model_id: int


POOL = [E(1, 10), E(2, 10), E(3, 20), E(4, 30), E(5, 30), E(6, 40)]  # models 10 and 30 at two efforts each


def test_draws_are_from_the_pool_never_one_model_twice_and_balanced():
    rng = random.Random(20261207)
    played: Counter[tuple[int, int]] = Counter()
    left: Counter[int] = Counter()
    appearances: Counter[int] = Counter()
    allowed = {pair_key(a.pk, b.pk) for a, b in possible_pairs(POOL)}
    assert len(allowed) == 13  # 15 pairs less the two same-model ones
    battles = 13 * 40
    for _ in range(battles):
        a, b = draw(POOL, played, rng)
        assert a in POOL and b in POOL and a.model_id != b.model_id
        played[pair_key(a.pk, b.pk)] += 1
        left[a.pk] += 1
        appearances[a.pk] += 1
        appearances[b.pk] += 1
    assert set(played) == allowed
    # Every pair played equally often: chi-square against uniform is 0 (p = 1), far inside p > 0.05.
    expected = battles / len(allowed)
    chi2 = sum((played[p] - expected) ** 2 / expected for p in allowed)
    assert chi2 < 21.03  # the 95 % point of chi-square with 12 degrees of freedom
    assert max(played.values()) - min(played.values()) <= 1
    # Sides are a coin toss: each entrant's left share within 3 standard deviations of 1/2.
    for pk, n in appearances.items():
        assert abs(left[pk] - n / 2) <= 3 * math.sqrt(n / 4), (pk, left[pk], n)


def test_a_pool_of_one_model_cannot_battle():
    with pytest.raises(ValueError, match="two different models"):
        draw([E(1, 10), E(2, 10)], Counter(), random.Random(0))


def synthetic_votes(n: int, seed: int, strengths: dict[str, float]) -> list[list[Game]]:
    rng = random.Random(seed)
    names = sorted(strengths)
    votes = []
    for _ in range(n):
        a, b = rng.sample(names, 2)
        p = strengths[a] / (strengths[a] + strengths[b])
        votes.append([Game(a, b, 1.0 if rng.random() < p else 0.0, rng.random() < 0.5, (0.0, 0.0))])
    return votes


def test_intervals_shrink_as_votes_grow():
    strengths = {"x": 4.0, "y": 2.0, "z": 1.0}
    widths = {}
    for n in (40, 400):
        board = leaderboard.leaderboard(synthetic_votes(n, 1, strengths), bootstrap=60)
        widths[n] = {s.entrant: s.rating_high - s.rating_low for s in board.standings}
        styled = style_board(synthetic_votes(n, 1, strengths), bootstrap=30)
        widths[n, "style"] = {name: high - low for name, (_, low, high) in styled.ratings.items()}
    for name in strengths:
        assert widths[400][name] < widths[40][name] * 0.6
        assert widths[400, "style"][name] < widths[40, "style"][name] * 0.6


def test_style_control_takes_the_length_advantage_out():
    """Two equal models; readers pick the longer answer 85 % of the time, and "verbose"
    writes the longer one 80 % of the time. Raw Bradley–Terry ranks verbose far above; with style
    control the two are close and the length coefficient is large."""
    rng = random.Random(3)
    votes = []
    for _ in range(1500):
        verbose_longer = rng.random() < 0.8
        long, short = "word " * 300, "word " * 60
        a_text, b_text = (long, short) if verbose_longer else (short, long)
        a_wins = (len(a_text) > len(b_text)) == (rng.random() < 0.85)
        votes.append([Game("verbose", "terse", 1.0 if a_wins else 0.0, rng.random() < 0.5,
                           style_difference(a_text, b_text))])
    raw = {s.entrant: s.rating for s in leaderboard.leaderboard(votes).standings}
    styled = style_board(votes)
    assert raw["verbose"] - raw["terse"] > 100  # verbose wins 0.8·0.85 + 0.2·0.15 = 71 %: about 155
    assert abs(styled.ratings["verbose"][0] - styled.ratings["terse"][0]) < 50
    assert styled.coefficients["length"] > 1.5
    assert style_difference("a b c d", "a b") == pytest.approx((1 / 3, 0.0))
    assert style_difference("# Title\n- one\n- two **bold**", "plain words here")[1] == 1.0


# ---- battles in the app ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_battle_is_blind_from_the_pool_and_ranked_apart(async_client, owner, scripted, three_models):
    alpha, bravo, charlie = three_models

    def make_pool():
        for model, params in ((alpha, {}), (bravo, {"effort": "high"}), (bravo, {"effort": "low"})):
            ArenaEntrant.objects.create(model=model, params=params)

    await sync_to_async(make_pool)()
    await async_client.aforce_login(owner)
    page = (await async_client.get("/arena/")).content.decode()
    assert "3 entrants of 2 models" in page
    response = await async_client.post("/arena/", {"prompt": "Why is the sky blue?"})
    assert response.status_code == 302
    pk = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    await finish_runs()

    comparison = await Comparison.objects.aget(pk=pk)
    assert comparison.blind and comparison.labels_hidden
    battle = await ArenaBattle.objects.select_related("first", "second").aget(comparison=comparison)
    columns = await columns_of(pk)
    models = {c.model_id for c, _ in columns}
    assert models == {alpha.pk, bravo.pk}  # never Bravo against Bravo; Charlie is not in the pool
    assert {c.entrant for c, _ in columns} == {battle.first.name, battle.second.name}
    shown = (await async_client.get(f"/compare/{pk}/")).content.decode()
    for name in ("Alpha Sage", "Bravo Reasoner", "effort high", "effort low"):
        assert name not in shown  # blind until the vote
    await async_client.post(f"/compare/{pk}/vote", {"choice": "A"})
    shown = (await async_client.get(f"/compare/{pk}/")).content.decode()
    assert "Alpha Sage" in shown and "Bravo Reasoner" in shown

    # A hand-set-up comparison of the same models is ranked apart.
    hand = await test_compare.create(async_client, owner, test_compare.setup_form([alpha, charlie]))
    await finish_runs()
    await async_client.post(f"/compare/{hand}/vote", {"choice": "B"})
    assert await Vote.objects.acount() == 2
    pool_board = (await async_client.get("/compare/leaderboard/?ranking=pool")).content.decode()
    hand_board = (await async_client.get("/compare/leaderboard/?ranking=hand")).content.decode()
    assert 'data-ranking="pool"' in pool_board and "pool battles" in pool_board
    assert "Charlie Thinker" not in pool_board.split('id="ranking-shown"')[1]
    assert 'data-ranking="hand"' in hand_board and "Charlie Thinker" in hand_board
    assert "Style-controlled" in pool_board and 'id="style-term"' in pool_board
    default = (await async_client.get("/compare/leaderboard/")).content.decode()
    assert 'data-ranking="pool"' in default  # pool battles first, once there are any


@pytest.mark.django_db
def test_the_admin_form_refuses_a_setting_the_model_cannot_take(three_models):
    from playground.arena.admin import ArenaEntrantForm

    charlie = three_models[2]
    form = ArenaEntrantForm(data={"model": charlie.pk, "params": '{"effort": "low"}', "enabled": "on"})
    assert not form.is_valid() and "low" in str(form.errors)
    form = ArenaEntrantForm(data={"model": charlie.pk, "params": '{"effort": "high"}', "enabled": "on"})
    assert form.is_valid(), form.errors
    assert form.save().name == "Charlie Thinker · effort high"
    assert ModelProfile.objects.filter(pk=charlie.pk).exists()
