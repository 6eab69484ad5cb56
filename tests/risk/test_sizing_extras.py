"""Sizing: cash buffer and minimum trade notional (dropped orders carry the reason)."""

from __future__ import annotations

import numpy as np

from qt.risk.sizing import Sizer


def test_cash_buffer_keeps_a_fraction_of_nav_in_cash():
    orders = Sizer(cash_buffer=0.1).orders(
        np.array([0.5, 0.5]), 1000.0, np.zeros(2), np.array([1.0, 2.0]), np.array([True, True]), t=0
    )
    np.testing.assert_allclose(orders.quantities, [450.0, 225.0])


def test_min_trade_notional_drops_small_orders_with_the_reason():
    sized = Sizer(min_trade_notional=100.0).size(
        np.array([0.5, 0.5]), 1000.0, np.array([480.0, 0.0]), np.array([1.0, 2.0]), np.array([True, True]), t=4
    )
    assert sized.orders.assets.tolist() == [1] and sized.orders.quantities.tolist() == [250.0]
    assert sized.dropped.assets.tolist() == [0] and sized.dropped.quantities.tolist() == [20.0]
    assert sized.reasons.tolist() == ["rejected: notional 20.00 < min_trade_notional 100"]
