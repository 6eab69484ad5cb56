"""The nouns qt's stages pass to each other: frozen, typed values.

Panels ([T x N] numpy arrays) carry whole histories; these types carry what one
decision or one trade is about.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qt.enums import OrderStatus, OrderType, Side


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar of one symbol; NaN marks a field the data set lacks."""

    timestamp: np.datetime64
    symbol: str
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class TargetPositions:
    """A strategy's raw book at a decision: weights and the scores behind them.

    ``weights`` and ``scores`` are aligned with the panel's symbols; NaN in
    ``scores`` means "not scored" (no data), never "zero".
    """

    timestamp: np.datetime64
    weights: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True, slots=True)
class SolveReport:
    """What one decision's portfolio construction did: final status, solver, fallback steps taken, time."""

    status: str
    solver: str
    steps: tuple[str, ...] = ()
    solve_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class TargetWeights:
    """The portfolio stage's book at a decision: weights of NAV per symbol, and how they were found.

    ``report`` is None for constructors that solve nothing (equal weight).
    """

    timestamp: np.datetime64
    weights: np.ndarray
    report: SolveReport | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """An instruction to trade ``quantity`` shares (signed: + buys, - sells)."""

    order_id: int
    timestamp: np.datetime64
    symbol: str
    quantity: float
    order_type: OrderType = OrderType.MARKET

    @property
    def side(self) -> Side:
        """BUY for a positive quantity, SELL otherwise."""
        return Side.BUY if self.quantity > 0 else Side.SELL


@dataclass(frozen=True, slots=True)
class Fill:
    """An executed trade: ``quantity`` signed shares at ``price``, paying ``fees``."""

    order_id: int
    timestamp: np.datetime64
    symbol: str
    quantity: float
    price: float
    fees: float

    @property
    def cash_flow(self) -> float:
        """Change in cash caused by the fill: -quantity x price - fees."""
        return -self.quantity * self.price - self.fees


@dataclass(frozen=True, slots=True)
class Position:
    """Shares held in one symbol and their mark-to-market value."""

    symbol: str
    quantity: float
    price: float

    @property
    def market_value(self) -> float:
        """Quantity x price."""
        return self.quantity * self.price


@dataclass(frozen=True, slots=True)
class OrderBatch:
    """The orders of one decision, column-wise: asset indices into the panel's symbols.

    Columnar so that the engine never loops over assets in Python.
    """

    decided_at: int
    assets: np.ndarray
    quantities: np.ndarray

    def __len__(self) -> int:
        return int(self.assets.size)


@dataclass(frozen=True, slots=True)
class FillBatch:
    """What became of an OrderBatch: per order, its status, fill price and fees.

    Unfilled orders carry quantity, price and fees of 0 and a ``reason``.
    """

    orders: OrderBatch
    filled_at: int
    status: np.ndarray  # OrderStatus values
    prices: np.ndarray
    fees: np.ndarray
    reasons: np.ndarray  # str per order, "" when filled

    @property
    def filled(self) -> np.ndarray:
        """Boolean mask of orders that filled."""
        return self.status == OrderStatus.FILLED.value

    @property
    def cash_flow(self) -> float:
        """Total change in cash: -sum(quantity x price) - sum(fees) over filled orders."""
        m = self.filled
        q = self.orders.quantities[m]
        return float(-(q @ self.prices[m]) - self.fees[m].sum())
