"""Allocators: sleeves combined by fixed, equal, inverse-vol and risk-parity weights."""

from __future__ import annotations

import numpy as np
import pytest

from qt.rebalancing import Calendar
from qt.risk_budget import risk_contributions
from qt.strategies.multi import MultiStrategy
from qt.testing.panels import daily_panel
from qt.types import TargetPositions


class Holds:
    """A sleeve that always holds one asset."""

    rebalance = Calendar()

    def __init__(self, asset):
        self.asset = asset

    def scores(self, panel):
        s = np.zeros(panel.close.shape)
        s[:, self.asset] = 1.0
        return s

    def target(self, ctx, scores):
        w = np.zeros(len(ctx.symbols))
        w[self.asset] = 2.0  # not normalized: the allocator normalizes each sleeve to gross 1
        return TargetPositions(ctx.timestamp, w, scores)


def setup(allocation, **kw):
    rng = np.random.default_rng(4)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (200, 3)) * np.array([1.0, 3.0, 1.0]), axis=0))
    panel = daily_panel(close)
    multi = MultiStrategy(sleeves={"a": Holds(0), "b": Holds(1)}, rebalance=Calendar(), allocation=allocation, **kw)
    scores = multi.scores(panel)
    from qt.context import DecisionContext

    ctx = DecisionContext(199, panel.timestamps[199], 1e6, np.zeros(3), panel)
    return multi, ctx, scores[199], close


def test_fixed_and_equal():
    multi, ctx, s, _ = setup("fixed", weights={"a": 0.75, "b": 0.25})
    assert multi.target(ctx, s).weights.tolist() == [0.75, 0.25, 0.0]
    multi, ctx, s, _ = setup("equal")
    assert multi.target(ctx, s).weights.tolist() == [0.5, 0.5, 0.0]


def test_inverse_vol_and_risk_parity_of_sleeve_returns():
    multi, ctx, s, close = setup("inverse_vol", lookback=100)
    r = close[99:200, :2]
    r = r[1:] / r[:-1] - 1
    vol = r.std(axis=0, ddof=1)
    np.testing.assert_allclose(multi.target(ctx, s).weights[:2], (1 / vol) / (1 / vol).sum(), rtol=1e-12)
    multi, ctx, s, _ = setup("risk_parity", lookback=100)
    w = multi.target(ctx, s).weights[:2]
    np.testing.assert_allclose(risk_contributions(w, np.cov(r.T)), [0.5, 0.5], atol=1e-9)


def test_scores_are_the_mean_zscore_of_the_sleeves():
    _, _, s, _ = setup("equal")
    # sleeve a scores (1, 0, 0) -> z (√2, -1/√2, -1/√2); sleeve b likewise; the mean of the two:
    np.testing.assert_allclose(s[0], [1 / (2 * np.sqrt(2)), 1 / (2 * np.sqrt(2)), -1 / np.sqrt(2)], rtol=1e-12)


def test_bad_allocator_config_is_named():
    with pytest.raises(ValueError, match="allocation: 'best'"):
        MultiStrategy(sleeves={"a": Holds(0)}, rebalance=Calendar(), allocation="best")
    with pytest.raises(ValueError, match=r"weights: fixed allocation needs a weight for each sleeve: \['a', 'b'\]"):
        MultiStrategy(
            sleeves={"a": Holds(0), "b": Holds(1)}, rebalance=Calendar(), allocation="fixed", weights={"a": 1}
        )
