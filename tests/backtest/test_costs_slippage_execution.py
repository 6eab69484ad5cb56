"""Costs, slippage and the execution simulator's fills."""

from __future__ import annotations

import numpy as np
import pytest

from qt.enums import OrderStatus
from qt.execution.costs import BpsCosts, NoCosts
from qt.execution.simulator import ExecutionSimulator
from qt.execution.slippage import FixedBps
from qt.testing.panels import daily_panel
from qt.types import OrderBatch


def test_bps_costs_with_a_minimum():
    fees = BpsCosts(bps=10, min_fee=1.0).fees(np.array([100.0, -5.0]), np.array([50.0, 10.0]))
    np.testing.assert_allclose(fees, [5.0, 1.0])  # 5000 * 0.001 = 5; 50 * 0.001 = 0.05 -> minimum 1
    assert NoCosts().fees(np.array([1.0]), np.array([1.0])).tolist() == [0.0]
    with pytest.raises(ValueError):
        BpsCosts(bps=-1)


def test_next_open_fills_at_the_open_with_slippage_and_cancels_missing_prices():
    panel = daily_panel([[10.0, 20.0], [11.0, 21.0]], open_=[[9.0, 19.0], [10.5, np.nan]])
    sim = ExecutionSimulator(timing="next_open", slippage=FixedBps(bps=100), costs=BpsCosts(bps=10))
    batch = sim.fill(OrderBatch(0, np.array([0, 1]), np.array([10.0, -5.0])), 1, panel)
    assert batch.status.tolist() == [OrderStatus.FILLED.value, OrderStatus.CANCELLED.value]
    assert batch.prices[0] == pytest.approx(10.5 * 1.01)
    assert batch.fees[0] == pytest.approx(10 * 10.5 * 1.01 * 0.001)
    assert batch.reasons[1] == "no open price at the fill bar"
    assert batch.cash_flow == pytest.approx(-10 * 10.5 * 1.01 - 10 * 10.5 * 1.01 * 0.001)
