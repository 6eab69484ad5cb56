"""The backtest's execution venue: the fill model over one panel, holding next-open orders for the next bar.

A live run puts a broker adapter (through the order router) where this venue stands.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from qt.data.panel import BarPanel
from qt.enums import OrderStatus
from qt.execution.simulator import ExecutionSimulator
from qt.types import FillBatch, OrderBatch


def expire(orders: OrderBatch, reason: str) -> FillBatch:
    """Every order of the batch CANCELLED with ``reason`` (e.g. no bar left to fill on)."""
    n = len(orders)
    return FillBatch(
        orders, orders.decided_at, np.full(n, OrderStatus.CANCELLED.value), np.zeros(n), np.zeros(n), np.full(n, reason)
    )


class SimulatedVenue:
    """The fill model as an execution venue over one panel: fills at close now, or at the next bar's open."""

    def __init__(self, model: ExecutionSimulator, panel: BarPanel) -> None:
        self.model = model
        self.panel = panel
        model.check(panel)
        self._pending: list[tuple[OrderBatch, np.ndarray | None]] = []
        self._outbox: list[FillBatch] = []

    def submit(self, orders: OrderBatch, t: int, notes: np.ndarray | None = None) -> None:
        """Fill at bar t's close, or hold for the next bar's open (cancelled if there is none)."""
        if len(orders) == 0:
            return
        if self.model.fill_lag == 0:
            self._outbox.append(_annotate(self.model.fill(orders, t, self.panel), notes))
        elif t + 1 < self.panel.n_bars:
            self._pending.append((orders, notes))
        else:
            self._outbox.append(expire(orders, "no bar after the decision to fill on"))

    def poll(self, t: int) -> list[FillBatch]:
        """Fill orders decided before bar ``t`` at its open; return everything not yet reported."""
        waiting = [(o, n) for o, n in self._pending if o.decided_at >= t]
        for orders, notes in self._pending:
            if orders.decided_at < t:
                self._outbox.append(_annotate(self.model.fill(orders, t, self.panel), notes))
        self._pending = waiting
        out, self._outbox = self._outbox, []
        return out

    def cancel_open(self, t: int, reason: str) -> list[FillBatch]:
        """Cancel the orders waiting for a later bar."""
        cancelled = [expire(orders, reason) for orders, _ in self._pending]
        self._pending = []
        return cancelled


def _annotate(batch: FillBatch, notes: np.ndarray | None) -> FillBatch:
    """Add each order's clip note to its reason."""
    if notes is None or not (notes != "").any():
        return batch
    reasons = np.array([f"{r}; {n}" if r and n else (r or n) for r, n in zip(batch.reasons, notes, strict=True)])
    return replace(batch, reasons=reasons)
