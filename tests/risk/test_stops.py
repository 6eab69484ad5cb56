"""Post-trade limits in the engine: drawdown stop flattens and halts; daily loss de-risks; events recorded."""

from __future__ import annotations

import numpy as np
import pytest

from qt.backtest.engine import BacktestEngine
from qt.execution.simulator import ExecutionSimulator
from qt.portfolio.optimizers import EqualWeight
from qt.rebalancing import Calendar
from qt.risk.sizing import Sizer
from qt.risk.stops import DailyLossLimit, DrawdownStop
from qt.testing.panels import daily_panel
from qt.types import TargetPositions


class AllIn:
    rebalance = Calendar(frequency="daily")

    def scores(self, panel):
        return np.ones(panel.close.shape)

    def target(self, ctx, scores):
        return TargetPositions(ctx.timestamp, np.ones(len(ctx.symbols)), scores)


def run(close, post_trade):
    panel = daily_panel(close)
    engine = BacktestEngine(
        strategy=AllIn(),
        portfolio=EqualWeight(),
        sizer=Sizer(),
        execution=ExecutionSimulator(),
        capital=1000.0,
        post_trade=post_trade,
    )
    return engine.run(panel, np.ones(panel.close.shape))


def test_drawdown_stop_flattens_and_halts():
    close = np.array([[10.0], [11.0], [9.0], [8.0], [12.0]])  # peak 1100, then 900: drawdown 18.2%
    result = run(close, [DrawdownStop(max_drawdown=0.15)])
    assert [(e.t, e.kind, e.halt) for e in result.events] == [(2, "drawdown_stop", True)]
    assert result.events[0].detail == "drawdown 18.18% >= max_drawdown 15.00%"
    np.testing.assert_allclose(result.nav, [1000.0, 1100.0, 900.0, 900.0, 900.0])  # flat, no more decisions
    assert len(result.decisions) == 3
    stop = result.fills[-1]
    assert stop.reasons.tolist() == ["drawdown_stop"] and stop.orders.quantities.tolist() == [-100.0]


def test_daily_loss_derisks_without_halting():
    close = np.array([[10.0], [9.0], [9.0], [9.0]])  # -10% on bar 1
    result = run(close, [DailyLossLimit(max_loss=0.05, derisk_to=0.5)])
    assert [(e.t, e.kind, e.scale, e.halt) for e in result.events] == [(1, "daily_loss", 0.5, False)]
    halved = [f for f in result.fills if f.filled_at == 1][-1]
    assert halved.orders.quantities.tolist() == [-50.0] and halved.reasons.tolist() == ["daily_loss"]
    assert len(result.decisions) == 4  # trading resumes at the next decision


def test_with_next_open_fills_the_stop_fills_on_the_next_bar():
    close = np.array([[10.0], [11.0], [9.0], [8.0], [12.0]])
    panel = daily_panel(close, open_=close)
    engine = BacktestEngine(
        strategy=AllIn(),
        portfolio=EqualWeight(),
        sizer=Sizer(),
        execution=ExecutionSimulator(timing="next_open"),
        capital=1000.0,
        post_trade=[DrawdownStop(max_drawdown=0.15, action="derisk", derisk_to=0.25)],
    )
    result = engine.run(panel, np.ones(close.shape))
    event = result.events[0]
    assert (event.kind, event.scale) == ("drawdown_stop", 0.25)
    stop = next(f for f in result.fills if f.reasons.tolist() and f.reasons[0] == "drawdown_stop")
    assert stop.filled_at == event.t + 1 and stop.prices.tolist() == [close[event.t + 1, 0]]
    held = sum(f.orders.quantities[f.filled].sum() for f in result.fills)
    assert held == pytest.approx(
        0.25 * sum(f.orders.quantities[f.filled].sum() for f in result.fills if f.filled_at <= event.t)
    )
