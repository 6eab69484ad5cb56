"""The execution-venue protocol: where orders go and fills come from.

The backtest's simulator, the paper broker and the Interactive Brokers adapter implement it.
A venue accepts orders (``submit``) and reports what became of them when it knows
(``poll``): fills (whole or partial), cancels and rejects, each with its reason. The
session never assumes an order filled until the venue says so.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from qt.types import FillBatch, OrderBatch


@runtime_checkable
class ExecutionVenue(Protocol):
    """Accepts orders and reports fills, cancels and rejects as they happen."""

    def submit(self, orders: OrderBatch, t: int, notes: np.ndarray | None = None) -> None:
        """Send the orders decided at bar ``t``; ``notes`` (per order) travel to their fill records."""
        ...

    def poll(self, t: int) -> list[FillBatch]:
        """What became of submitted orders by bar ``t`` (in the order it happened); each outcome is reported once."""
        ...

    def cancel_open(self, t: int, reason: str) -> list[FillBatch]:
        """Cancel every order still open at bar ``t`` with ``reason``; the cancellations."""
        ...
