"""Sizing can reserve room for fees: cash then never dips below zero after a rebalance."""

from __future__ import annotations

import numpy as np

from qt.backtest.engine import BacktestEngine
from qt.data.sources.sample import SampleData
from qt.execution.costs import BpsCosts
from qt.execution.simulator import ExecutionSimulator
from qt.portfolio.optimizers import EqualWeight
from qt.rebalancing import Calendar
from qt.risk.sizing import Sizer, fee_room
from qt.strategies.xmom_crosssec import CrossSectionalMomentum


def test_fee_room_by_hand():
    # all in cash, buy 60/40 at 10 bps: s + 0.001 s = 1
    assert abs(fee_room(np.array([0.6, 0.4]), np.zeros(2), 0.001) - 1 / 1.001) < 1e-12
    # already holding the target: nothing to pay, full size
    assert fee_room(np.array([0.6, 0.4]), np.array([0.6, 0.4]), 0.001) == 1.0
    # holding 50/50, target 60/40: s + 0.001 (|0.6 s - 0.5| + |0.4 s - 0.5|) = 1 at s < 1:
    # for s near 1 the bracket is (0.6 s - 0.5) + (0.5 - 0.4 s) = 0.2 s -> s (1 + 0.0002) = 1
    assert abs(fee_room(np.array([0.6, 0.4]), np.array([0.5, 0.5]), 0.001) - 1 / 1.0002) < 1e-12


def run(sizer: Sizer):
    panel = SampleData(dataset="sp500_20").load().between("2005-01-01", "2012-12-31")
    strategy = CrossSectionalMomentum(rebalance=Calendar(frequency="monthly"))
    engine = BacktestEngine(
        strategy=strategy,
        portfolio=EqualWeight(),
        sizer=sizer,
        execution=ExecutionSimulator(costs=BpsCosts(bps=10)),
        capital=1e6,
    )
    return engine.run(panel, strategy.scores(panel))


def test_default_sizing_pays_fees_on_top_and_the_fee_reserve_keeps_cash_non_negative():
    on_top = run(Sizer())
    assert on_top.cash.min() < -100.0  # documented: fees of a rebalance paid beyond w x NAV
    reserved = run(Sizer(reserve_fees_bps=10))
    assert reserved.cash.min() >= -1e-6
    assert reserved.gross_exposure.max() <= 1.0 + 1e-12
