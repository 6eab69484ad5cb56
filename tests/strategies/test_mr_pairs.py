"""Pairs: a synthetic cointegrated pair passes Engle-Granger with its hedge ratio recovered; independent walks are rejected."""

from __future__ import annotations

import numpy as np
import pytest

from qt.config.instantiate import build
from qt.context import DecisionContext
from qt.errors import ConfigError
from qt.strategies.mr_pairs import PairsTrading, engle_granger
from qt.strategies.registry import STRATEGIES
from qt.testing.panels import daily_panel


def cointegrated(rng, n=500, beta=1.3, alpha=0.2):
    x = 4.0 + np.cumsum(rng.normal(0, 0.01, n))
    spread = np.zeros(n)
    for t in range(1, n):  # AR(1) spread, phi = 0.8: mean-reverting
        spread[t] = 0.8 * spread[t - 1] + rng.normal(0, 0.01)
    return alpha + beta * x + spread, x


def test_cointegrated_pair_passes_and_hedge_ratio_is_recovered():
    rng = np.random.default_rng(5)
    y, x = cointegrated(rng)
    fit = engle_granger(y, x)
    assert fit.p_value < 0.01
    assert fit.hedge_ratio == pytest.approx(1.3, abs=0.05)
    assert fit.intercept == pytest.approx(0.2, abs=0.25)


def test_independent_random_walks_are_rejected_most_of_the_time():
    rng = np.random.default_rng(6)
    passed = 0
    for _ in range(40):
        a = np.cumsum(rng.normal(0, 0.01, 500))
        b = np.cumsum(rng.normal(0, 0.01, 500))
        passed += engle_granger(a, b).p_value < 0.05
    assert passed <= 6  # ~5% expected false positives


def pair_panel(seed=8, n=600):
    rng = np.random.default_rng(seed)
    y, x = cointegrated(rng, n=n)
    noise = 4.0 + np.cumsum(rng.normal(0, 0.01, size=(n, 2)), axis=0)
    return daily_panel(np.exp(np.column_stack([y, x, noise])), symbols=["Y", "X", "N1", "N2"])


def test_strategy_picks_the_cointegrated_pair_and_trades_it_dollar_neutral():
    panel = pair_panel()
    strategy = PairsTrading(formation=250, reform_every=100, max_pairs=2, min_correlation=0.0, candidates=6)
    pairs = strategy.choose_pairs(np.log(panel.close[:250]))
    assert [(p.y, p.x) for p in pairs][:1] in ([(0, 1)], [(1, 0)])
    scores = strategy.scores(panel)
    assert np.isnan(scores).sum() == 0
    assert (scores[:250] == 0).all()  # nothing before the first formation window ends
    np.testing.assert_allclose(scores.sum(axis=1), 0.0, atol=1e-12)  # dollar-neutral every bar
    held = np.abs(scores[:, :2]).sum(axis=1) > 0
    assert held.any()
    target = strategy.target(DecisionContext(400, panel.timestamps[400], 1.0, np.zeros(4), panel), scores[400])
    np.testing.assert_array_equal(target.weights, scores[400])


def test_positions_follow_the_zscore_rules_by_hand():
    panel = pair_panel()
    strategy = PairsTrading(
        formation=250, reform_every=350, max_pairs=1, min_correlation=0.0, candidates=6, entry=1.5, exit=0.3, stop=3.5
    )
    pair = strategy.choose_pairs(np.log(panel.close[:250]))[0]
    logp = np.log(panel.close)
    z = (logp[250:, pair.y] - pair.intercept - pair.hedge_ratio * logp[250:, pair.x] - pair.mean) / pair.std
    expected, position, stopped = [], 0.0, False
    for v in z:  # the rules, written out again
        if position and (abs(v) >= 3.5 or abs(v) <= 0.3):
            stopped, position = abs(v) >= 3.5, 0.0
        elif not position and stopped and abs(v) <= 0.3:
            stopped = False
        elif not position and not stopped and 1.5 <= abs(v) < 3.5:
            position = -np.sign(v)
        expected.append(position)
    got = np.sign(strategy.scores(panel)[250:, pair.y])
    np.testing.assert_array_equal(got, np.array(expected))
    assert np.abs(np.array(expected)).sum() > 0


def test_thresholds_must_be_ordered():
    with pytest.raises(ConfigError, match=r"need exit < entry < stop"):
        build({"_target_": "mr_pairs", "entry": 2.0, "exit": 2.5, "stop": 4.0}, "strategy", names=STRATEGIES)
