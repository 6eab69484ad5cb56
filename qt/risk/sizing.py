"""Sizing: target weights of NAV -> orders in shares."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, PositiveFloat

from qt.types import OrderBatch


class Sizer(BaseModel):
    """Shares to trade so that each tradable asset reaches its target weight of NAV.

    Fractional shares by default; with ``lot_size`` target holdings are rounded toward
    zero to whole lots (never above target). Assets without a price keep their holding.

    Examples
    --------
    >>> o = Sizer(lot_size=10).orders(np.array([0.5, 0.5]), 1000.0, np.zeros(2),
    ...                               np.array([3.0, 7.0]), np.array([True, True]), t=0)
    >>> o.quantities.tolist()
    [160.0, 70.0]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lot_size: PositiveFloat | None = None

    def orders(
        self,
        weights: np.ndarray,
        nav: float,
        positions: np.ndarray,
        prices: np.ndarray,
        tradable: np.ndarray,
        t: int,
    ) -> OrderBatch:
        """The OrderBatch that moves ``positions`` to ``weights`` x ``nav`` at ``prices``."""
        safe = np.where(tradable, prices, 1.0)
        target = np.where(tradable, weights * nav / safe, positions)
        if self.lot_size is not None:
            target = np.where(tradable, np.trunc(target / self.lot_size) * self.lot_size, positions)
        delta = target - positions
        tolerance = 1e-12 * max(abs(nav), 1.0)
        assets = np.flatnonzero(tradable & (np.abs(delta * safe) > tolerance))
        return OrderBatch(t, assets, delta[assets])
