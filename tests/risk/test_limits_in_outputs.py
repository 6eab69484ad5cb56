"""Limits through the engine: clipped and rejected orders land in orders.parquet with their reasons."""

from __future__ import annotations

import numpy as np

from qt.backtest.engine import BacktestEngine
from qt.execution.simulator import ExecutionSimulator
from qt.portfolio.optimizers import EqualWeight
from qt.rebalancing import Calendar
from qt.results.writer import decisions_table, orders_table
from qt.risk.limits import MaxPositionWeight, RestrictedList
from qt.risk.models import ValueAtRisk
from qt.risk.sizing import Sizer
from qt.testing.panels import daily_panel
from qt.types import TargetPositions


class Fixed:
    rebalance = Calendar(frequency="daily")

    def __init__(self, w):
        self.w = np.asarray(w, float)

    def scores(self, panel):
        return np.ones(panel.close.shape)

    def target(self, ctx, scores):
        return TargetPositions(ctx.timestamp, self.w, scores)


def run(weights, *, limits=None, sizer=None, timing="close", var=None):
    close = np.array([[10.0, 20.0, 5.0]] * 3)
    panel = daily_panel(close, symbols=["A", "B", "C"], open_=close)
    engine = BacktestEngine(
        strategy=Fixed(weights),
        portfolio=EqualWeight(),
        sizer=sizer or Sizer(),
        execution=ExecutionSimulator(timing=timing),
        capital=10_000.0,
        limits=limits,
        var=var,
    )
    return engine.run(panel, np.ones(close.shape))


def test_clipped_orders_fill_with_the_reason():
    for timing in ("close", "next_open"):
        result = run([0.6, 0.3, 0.1], limits=[MaxPositionWeight(max_position_weight=0.4)], timing=timing)
        orders = orders_table(result).to_pandas()
        first = orders[orders.decided_at == orders.decided_at.min()]
        assert first.status.tolist() == ["filled"] * 3
        np.testing.assert_allclose(first.quantity, [400.0, 150.0, 200.0])
        assert first.reason.tolist() == ["clipped: position weight 0.6 > max_position_weight 0.4", "", ""]


def test_rejected_orders_are_recorded_and_not_filled():
    result = run([0.6, 0.3, 0.1], limits=[RestrictedList(restricted=["B"])], sizer=Sizer(min_trade_notional=2000.0))
    orders = orders_table(result).to_pandas()
    first = orders[orders.decided_at == orders.decided_at.min()].sort_values("symbol")
    assert first.status.tolist() == ["filled", "rejected", "rejected"]
    assert first.reason.tolist() == [
        "",
        "rejected: restricted list",
        "rejected: notional 1000.00 < min_trade_notional 2000",
    ]
    assert result.n_trades == 1


def test_var_is_stored_per_decision():
    table = decisions_table(run([0.5, 0.5, 0.0], var=ValueAtRisk())).to_pandas()
    assert {"var_historical", "cvar_parametric", "var_cornish_fisher"} <= set(table.columns)
    assert len(table) == 3
