"""Sizing target weights into shares."""

from __future__ import annotations

import numpy as np

from qt.risk.sizing import Sizer


def test_fractional_shares_hit_the_target_exactly():
    orders = Sizer().orders(
        np.array([0.25, 0.75]), 1000.0, np.array([10.0, 0.0]), np.array([5.0, 30.0]), np.array([True, True]), t=3
    )
    # A: 250 / 5 = 50 shares, holds 10 -> buy 40; B: 750 / 30 = 25 shares
    assert orders.decided_at == 3
    np.testing.assert_allclose(orders.quantities, [40.0, 25.0])


def test_lot_size_rounds_toward_zero_and_sells_too():
    orders = Sizer(lot_size=100).orders(
        np.array([0.5, -0.5]), 10_000.0, np.array([300.0, 0.0]), np.array([33.0, 7.0]), np.array([True, True]), t=0
    )
    # A: 5000 / 33 = 151.5 -> 100 shares: sell 200; B: -5000 / 7 = -714.3 -> -700
    np.testing.assert_allclose(orders.quantities, [-200.0, -700.0])


def test_assets_without_a_price_are_never_traded():
    orders = Sizer().orders(
        np.array([0.5, 0.5]), 1000.0, np.array([3.0, 0.0]), np.array([np.nan, 10.0]), np.array([False, True]), t=0
    )
    assert orders.assets.tolist() == [1]


def test_no_order_when_already_at_target():
    orders = Sizer().orders(
        np.array([0.5, 0.5]), 1000.0, np.array([50.0, 25.0]), np.array([10.0, 20.0]), np.array([True, True]), t=0
    )
    assert len(orders) == 0
