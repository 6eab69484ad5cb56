"""Cross-sectional momentum on a hand-made data set whose selections are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from qt.backtest.engine import BacktestEngine
from qt.config.instantiate import build
from qt.errors import ConfigError
from qt.execution.simulator import ExecutionSimulator
from qt.portfolio.optimizers import EqualWeight
from qt.rebalancing import Calendar
from qt.risk.sizing import Sizer
from qt.strategies.xmom_crosssec import CrossSectionalMomentum
from qt.testing.panels import daily_panel

NAN = np.nan
#            A     B     C     D     E
CLOSE = [
    [10.0, 10.0, 10.0, 10.0, NAN],  # t0  (E not yet listed)
    [11.0, 10.0, 9.0, 10.0, 10.0],  # t1
    [12.0, 10.0, 8.0, 11.0, 10.0],  # t2
    [13.0, 10.0, 7.0, 12.0, 11.0],  # t3
    [12.0, 10.0, 7.0, 14.0, 12.0],  # t4
]


def xmom(**kw) -> CrossSectionalMomentum:
    params = {"lookback": 2, "skip": 1, "quantile": 0.5, "rebalance": Calendar(frequency="daily")}
    return CrossSectionalMomentum(**{**params, **kw})


def run(strategy, capital=1000.0):
    panel = daily_panel(CLOSE)
    engine = BacktestEngine(
        strategy=strategy, portfolio=EqualWeight(), sizer=Sizer(), execution=ExecutionSimulator(), capital=capital
    )
    return panel, engine.run(panel, strategy.scores(panel))


def test_scores_are_the_skipped_trailing_return():
    panel = daily_panel(CLOSE)
    s = xmom().scores(panel)
    assert np.isnan(s[:2]).all()  # fewer than `lookback` bars of history
    # t2: close[1] / close[0] - 1; E has no price at t0, so it is not scored
    np.testing.assert_allclose(s[2, :4], [0.1, 0.0, -0.1, 0.0])
    assert np.isnan(s[2, 4])
    np.testing.assert_allclose(s[4], [13 / 12 - 1, 0.0, 7 / 8 - 1, 12 / 11 - 1, 11 / 10 - 1])


def test_selection_by_hand_with_ties_broken_by_symbol_order():
    _, result = run(xmom())
    targets = {d.t: d.target for d in result.decisions}
    # t0, t1: nothing scored -> cash
    assert not targets[0].any() and not targets[1].any()
    # t2: 4 scored -> k = floor(0.5 * 4) = 2: A (0.1), then B and D tie at 0 -> B by symbol order
    np.testing.assert_allclose(targets[2], [0.5, 0.5, 0, 0, 0])
    # t3: 5 scored -> k = 2: D (0.1) and A (0.0909)
    np.testing.assert_allclose(targets[3], [0.5, 0, 0, 0.5, 0])
    # t4: k = 2: E (0.1) and D (0.0909)
    np.testing.assert_allclose(targets[4], [0, 0, 0, 0.5, 0.5])


def test_nav_by_hand():
    _, result = run(xmom())
    nav2 = 1000.0  # bought A and B at t2's close
    nav3 = 500 / 12 * 13 + 500 / 10 * 10  # A 12 -> 13, B flat
    nav4 = nav3 / 2 / 13 * 12 + nav3 / 2 / 12 * 14  # A 13 -> 12, D 12 -> 14
    np.testing.assert_allclose(result.nav, [1000.0, 1000.0, nav2, nav3, nav4], rtol=1e-12)
    assert result.n_trades == 2 + 3 + 3  # buy A,B; sell B, buy D, resize A; sell A, buy E, resize D


def test_long_short_shorts_the_bottom_group():
    _, result = run(xmom(long_short=True))
    targets = {d.t: d.target for d in result.decisions}
    # t4: longs E, D; shorts the two worst: C (-0.125) and B (0); gross normalized to 1
    np.testing.assert_allclose(targets[4], [0, -0.25, -0.25, 0.25, 0.25])


def test_quantile_floor_keeps_at_least_one_name():
    _, result = run(xmom(quantile=0.1))
    targets = {d.t: d.target for d in result.decisions}
    np.testing.assert_allclose(targets[2], [1, 0, 0, 0, 0])


@pytest.mark.parametrize(
    ("kwargs", "key", "message"),
    [
        ({"lookback": -3}, "strategy.lookback", "greater than 0"),
        ({"quantile": 1.5}, "strategy.quantile", "less than or equal to 1"),
        ({"skip": 30, "lookback": 20}, "strategy", r"skip \(30\) must be < lookback \(20\)"),
        ({"lookbak": 5}, "strategy.lookbak", "did you mean 'lookback'"),
    ],
)
def test_bad_parameters_name_the_key(kwargs, key, message):
    node = {"_target_": "qt.strategies.xmom_crosssec.CrossSectionalMomentum", **kwargs}
    with pytest.raises(ConfigError, match=message) as info:
        build(node, "strategy")
    assert str(info.value).startswith(key)
