"""Accounting: cash and share positions, changed only by fills.

Invariants (tested with hypothesis): NAV = cash + sum(positions x price); a fill
changes cash by exactly -quantity x price - fees and positions by quantity.
"""

from __future__ import annotations

import numpy as np

from qt.types import FillBatch


class Ledger:
    """Cash and positions (shares, aligned with the panel's symbols).

    Examples
    --------
    >>> book = Ledger(cash=1000.0, n_assets=2)
    >>> book.nav(np.array([10.0, 20.0]))
    1000.0
    """

    def __init__(self, *, cash: float, n_assets: int) -> None:
        self.cash = float(cash)
        self.positions = np.zeros(n_assets)

    def apply(self, fills: FillBatch) -> float:
        """Book the filled part of ``fills``; return the traded notional sum(|q x p|)."""
        filled = fills.filled
        assets = fills.orders.assets[filled]
        quantities = fills.orders.quantities[filled]
        prices = fills.prices[filled]
        np.add.at(self.positions, assets, quantities)
        self.cash += float(-(quantities @ prices) - fills.fees[filled].sum())
        return float(np.abs(quantities) @ prices)

    def nav(self, prices: np.ndarray) -> float:
        """Cash + sum(positions x prices)."""
        return self.cash + float(self.positions @ prices)

    def weights(self, prices: np.ndarray, nav: float) -> np.ndarray:
        """Position values as a fraction of ``nav`` (zeros when nav <= 0)."""
        return self.positions * prices / nav if nav > 0 else np.zeros_like(self.positions)
