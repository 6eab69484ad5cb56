"""Sizing: target weights of NAV -> orders in shares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat

from qt.types import OrderBatch


@dataclass(frozen=True)
class SizedOrders:
    """Orders to send, and orders dropped before sending with the reason for each."""

    orders: OrderBatch
    dropped: OrderBatch
    reasons: np.ndarray


class Sizer(BaseModel):
    """Shares to trade so that each tradable asset reaches its target weight of NAV.

    Fractional shares by default; with ``lot_size`` target holdings are rounded toward
    zero to whole lots (never above target). Assets without a price keep their holding.
    ``cash_buffer`` keeps that fraction of NAV out of the market (weights scaled by 1 - buffer);
    orders under ``min_trade_notional`` are dropped (recorded as rejected with the reason).

    Examples
    --------
    >>> o = Sizer(lot_size=10).orders(np.array([0.5, 0.5]), 1000.0, np.zeros(2),
    ...                               np.array([3.0, 7.0]), np.array([True, True]), t=0)
    >>> o.quantities.tolist()
    [160.0, 70.0]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lot_size: PositiveFloat | None = None
    min_trade_notional: NonNegativeFloat = 0.0
    cash_buffer: float = Field(0.0, ge=0.0, lt=1.0)

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
        return self.size(weights, nav, positions, prices, tradable, t).orders

    def size(
        self,
        weights: np.ndarray,
        nav: float,
        positions: np.ndarray,
        prices: np.ndarray,
        tradable: np.ndarray,
        t: int,
    ) -> SizedOrders:
        """Orders to send and those dropped under ``min_trade_notional`` (with reasons)."""
        safe = np.where(tradable, prices, 1.0)
        if self.cash_buffer:
            weights = weights * (1.0 - self.cash_buffer)
        target = np.where(tradable, weights * nav / safe, positions)
        if self.lot_size is not None:
            target = np.where(tradable, np.trunc(target / self.lot_size) * self.lot_size, positions)
        delta = target - positions
        notional = np.abs(delta * safe)
        tolerance = 1e-12 * max(abs(nav), 1.0)
        trade = tradable & (notional > tolerance)
        small = trade & (notional < self.min_trade_notional)
        keep, drop = np.flatnonzero(trade & ~small), np.flatnonzero(small)
        reasons = np.array(
            [f"rejected: notional {notional[a]:.2f} < min_trade_notional {self.min_trade_notional:g}" for a in drop],
            dtype=object,
        )
        return SizedOrders(OrderBatch(t, keep, delta[keep]), OrderBatch(t, drop, delta[drop]), reasons)
