"""Drift rebalancing: decide when a weight drifts past the threshold; combined with a calendar."""

from __future__ import annotations

import numpy as np

from qt.backtest.engine import BacktestEngine
from qt.execution.simulator import ExecutionSimulator
from qt.portfolio.optimizers import EqualWeight
from qt.rebalancing import CalendarDrift, Drift
from qt.risk.sizing import Sizer
from qt.testing.panels import daily_panel
from qt.types import TargetPositions


class Half:
    def __init__(self, rebalance):
        self.rebalance = rebalance

    def scores(self, panel):
        return np.ones(panel.close.shape)

    def target(self, ctx, scores):
        return TargetPositions(ctx.timestamp, np.array([1.0, 1.0]), scores)


# A rises 10% a day, B flat; 50/50 book. Weight of A after k days: 1.1^k / (1.1^k + 1)
CLOSE = np.column_stack([1.1 ** np.arange(8), np.ones(8)])


def decided(rule):
    panel = daily_panel(CLOSE)
    engine = BacktestEngine(
        strategy=Half(rule), portfolio=EqualWeight(), sizer=Sizer(), execution=ExecutionSimulator(), capital=1e4
    )
    return [d.t for d in engine.run(panel, np.ones(CLOSE.shape)).decisions]


def test_drift_decides_when_a_weight_moves_past_the_threshold():
    # after 1 day A is 52.4% (drift 2.4%), after 2 days 54.8% (4.8%), after 3 days 57.1% (7.1%)
    assert decided(Drift(threshold=0.06)) == [0, 3, 6]
    assert decided(Drift(threshold=0.04)) == [0, 2, 4, 6]


def test_calendar_and_drift_combined():
    # weekly calendar bars of 2024-01-01.. (Mon) -> Sunday 2024-01-07 is bar 6; drift 0.06 adds bar 3
    assert decided(CalendarDrift(frequency="weekly", threshold=0.06)) == [0, 3, 6, 7]  # 7: last bar of the data
    schedule = CalendarDrift(frequency="weekly", threshold=0.5).forced(daily_panel(CLOSE).timestamps)
    assert np.flatnonzero(schedule).tolist() == [6, 7]
