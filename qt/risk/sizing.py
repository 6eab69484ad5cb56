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
    ``reserve_fees_bps`` scales the book down just enough that buying it and paying that many
    basis points of the traded notional in fees leaves cash >= 0 (by default orders are sized to
    w x NAV and fees are paid on top, so cash can dip below zero by a rebalance's fees);
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
    reserve_fees_bps: NonNegativeFloat = 0.0

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
        if self.reserve_fees_bps:
            held = np.where(tradable, positions * safe / nav, 0.0) if nav > 0 else np.zeros_like(weights)
            weights = weights * fee_room(np.where(tradable, weights, 0.0), held, self.reserve_fees_bps * 1e-4)
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


def fee_room(weights: np.ndarray, held: np.ndarray, rate: float) -> float:
    """The largest scale s in [0, 1] with s x sum(w) + rate x sum|s x w - held| <= 1 (cash stays >= 0 after fees).

    The left side grows with s (piecewise linearly), so bisection finds it to 1e-12.

    Examples
    --------
    >>> round(fee_room(np.array([0.5, 0.5]), np.zeros(2), 0.001), 9)  # s + 0.001 s = 1
    0.999000999
    """

    def spend(s: float) -> float:
        return float(s * weights.sum() + rate * np.abs(s * weights - held).sum())

    if spend(1.0) <= 1.0:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if spend(mid) <= 1.0 else (lo, mid)
    return lo
