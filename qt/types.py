"""The nouns qt's stages pass to each other: frozen, typed values.

Panels ([T x N] numpy arrays) carry whole histories; these types carry what one
decision is about and, column-wise, its orders and their outcomes. Live trading's
per-order records (client order ids, executions) live in ``qt/live/broker.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qt.enums import OrderStatus


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
