"""The execution simulator: fills orders at the configured bar price, with slippage and costs.

Backtest and live differ only here and at the data end: a broker adapter takes this
component's place in live mode.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, InstanceOf

from qt.backtest.costs import CostModel, NoCosts
from qt.backtest.slippage import NoSlippage, SlippageModel
from qt.data.panel import BarPanel
from qt.enums import Field, FillTiming, OrderStatus
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

    def fill(self, orders: OrderBatch, t: int, panel: BarPanel) -> FillBatch:
        """Fill ``orders`` at bar ``t``'s price; cancel those whose asset has no price there."""
        reference = panel.fields[self.price_field][t, orders.assets]
        ok = np.isfinite(reference)
        quantities = orders.quantities
        prices = np.where(ok, self.slippage.adjust(quantities, np.where(ok, reference, 0.0)), 0.0)
        fees = np.where(ok, self.costs.fees(quantities, prices), 0.0)
        status = np.where(ok, OrderStatus.FILLED.value, OrderStatus.CANCELLED.value)
        reasons = np.where(ok, "", f"no {self.price_field.value} price at the fill bar")
        return FillBatch(orders, t, status, prices, fees, reasons)

    def expire(self, orders: OrderBatch, reason: str) -> FillBatch:
        """Cancel every order of the batch with ``reason`` (e.g. no bar left to fill on)."""
        n = len(orders)
        return FillBatch(
            orders,
            orders.decided_at,
            np.full(n, OrderStatus.CANCELLED.value),
            np.zeros(n),
            np.zeros(n),
            np.full(n, reason),
        )
