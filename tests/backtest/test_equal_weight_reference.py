"""qt's NAV against an equal-weight monthly rebalance computed independently with plain numpy."""

from __future__ import annotations

import numpy as np

from qt.backtest.engine import BacktestEngine
from qt.data.sources.sample import SampleData
from qt.data.sources.synthetic import SyntheticData
from qt.execution.simulator import ExecutionSimulator
from qt.portfolio.optimizers import EqualWeight
from qt.risk.sizing import Sizer
from qt.strategies.equal_weight import EqualWeightStrategy


def reference_nav(close: np.ndarray, timestamps: np.ndarray, capital: float) -> np.ndarray:
    """Cash until the first month end; at each month's last bar put NAV/N into each asset at its close."""
    months = timestamps.astype("datetime64[M]")
    month_end = np.r_[months[1:] != months[:-1], True]
    n_assets = close.shape[1]
    cash, shares = capital, np.zeros(n_assets)
    nav = np.empty(close.shape[0])
    for t in range(close.shape[0]):
        value = cash + float(shares @ close[t])
        if month_end[t]:
            shares = value / n_assets / close[t]
            cash = value - float(shares @ close[t])
        nav[t] = cash + float(shares @ close[t])
    return nav


def run_equal_weight(panel, capital: float = 1_000_000.0):
    strategy = EqualWeightStrategy()
    engine = BacktestEngine(
        strategy=strategy, portfolio=EqualWeight(), sizer=Sizer(), execution=ExecutionSimulator(), capital=capital
    )
    return engine.run(panel, strategy.scores(panel))


def test_equal_weight_matches_numpy_on_the_bundled_sample():
    panel = SampleData().load()
    result = run_equal_weight(panel)
    expected = reference_nav(panel.close, panel.timestamps, 1_000_000.0)
    np.testing.assert_allclose(result.nav, expected, rtol=1e-9, atol=0)
    # fully invested after the first month end, never levered
    first = int(np.argmax(result.gross_exposure > 0))
    assert str(panel.timestamps[first])[:10] == "1990-01-31"
    np.testing.assert_allclose(result.gross_exposure[first:], 1.0, rtol=1e-9)
    np.testing.assert_allclose(result.cash[first:], 0.0, atol=1e-6)


def test_equal_weight_matches_numpy_on_synthetic_data():
    panel = SyntheticData(n_assets=30, n_days=600, seed=3).load()
    result = run_equal_weight(panel, capital=250_000.0)
    np.testing.assert_allclose(result.nav, reference_nav(panel.close, panel.timestamps, 250_000.0), rtol=1e-9)
