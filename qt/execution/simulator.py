"""The execution simulator: fills orders at the configured bar price, with slippage and costs.

``ExecutionSimulator`` is the configuration (timing, slippage, costs); ``open(panel)`` gives a
``SimulatedVenue`` that implements the execution-venue protocol over one panel: it owns the
orders waiting for the next bar's open and their expiry. A broker adapter takes its place live.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from pydantic import BaseModel, ConfigDict, InstanceOf

from qt.data.panel import BarPanel
from qt.enums import Field, FillTiming, OrderStatus
from qt.execution.costs import CostModel, NoCosts
from qt.execution.slippage import NoSlippage, SlippageModel
from qt.types import FillBatch, OrderBatch


class ExecutionSimulator(BaseModel):
    """Fill at the decision bar's close (``timing=close``) or the next bar's open (``next_open``).

    An order whose fill bar has no price for its asset is CANCELLED with the reason.

    Examples
    --------
    >>> ExecutionSimulator(timing="next_open").fill_lag
    1
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timing: FillTiming = FillTiming.CLOSE
    slippage: InstanceOf[SlippageModel] = NoSlippage()
    costs: InstanceOf[CostModel] = NoCosts()

    @property
    def fill_lag(self) -> int:
        """Bars between decision and fill: 0 at close, 1 at next open."""
        return 0 if self.timing is FillTiming.CLOSE else 1

    @property
    def price_field(self) -> Field:
        """The bar field fills are priced from."""
        return Field.CLOSE if self.timing is FillTiming.CLOSE else Field.OPEN

    def check(self, panel: BarPanel) -> None:
        """Fail before the run if the data lacks the price field fills need."""
        panel.require(self.price_field, needed_by=f"execution={self.timing.value}")

    def open(self, panel: BarPanel) -> SimulatedVenue:
        """A venue that fills orders over ``panel`` with this timing, slippage and costs."""
        return SimulatedVenue(self, panel)

    def fill(self, orders: OrderBatch, t: int, panel: BarPanel) -> FillBatch:
        """Fill ``orders`` at bar ``t``'s price; cancel those whose asset has no price there."""
        reference = panel.fields[self.price_field][t, orders.assets]
        ok = np.isfinite(reference)
        quantities = orders.quantities
        filled = np.where(ok, self.slippage.adjust(quantities, np.where(ok, reference, 0.0)), 0.0)
        fees = np.where(ok, self.costs.fees(quantities, filled), 0.0)
        status = np.where(ok, OrderStatus.FILLED.value, OrderStatus.CANCELLED.value)
        reasons = np.where(ok, "", f"no {self.price_field.value} price at the fill bar")
        return FillBatch(orders, t, status, filled, fees, reasons)


def expire(orders: OrderBatch, reason: str) -> FillBatch:
    """Every order of the batch CANCELLED with ``reason`` (e.g. no bar left to fill on)."""
    n = len(orders)
    return FillBatch(
        orders, orders.decided_at, np.full(n, OrderStatus.CANCELLED.value), np.zeros(n), np.zeros(n), np.full(n, reason)
    )


class SimulatedVenue:
    """The simulator as an execution venue over one panel: fills at close now, or at the next bar's open."""

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
