"""The fill model: when orders fill (timing), at what price (slippage) and for what fees (costs).

``ExecutionSimulator`` is the one fill model of qt. The backtest's simulated venue
(``qt.backtest.venue``) and the paper broker (``qt.live.paper``) both price their fills with
``fill_at``, so a paper replay fills exactly as its backtest does; neither re-derives a price.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, InstanceOf

from qt.data.panel import BarPanel
from qt.enums import Field, FillTiming, OrderStatus
from qt.execution.costs import CostModel, NoCosts
from qt.execution.slippage import NoSlippage, SlippageModel
from qt.types import FillBatch, OrderBatch


class ExecutionSimulator(BaseModel):
    """Fill at the decision bar's close (``timing=close``) or the next bar's open (``next_open``).

    An order whose fill bar has no price for its asset is CANCELLED with ``no_price_reason``.

    Examples
    --------
    >>> from qt.execution.costs import BpsCosts
    >>> from qt.execution.slippage import FixedBps
    >>> model = ExecutionSimulator(timing="next_open", slippage=FixedBps(bps=10), costs=BpsCosts(bps=10))
    >>> model.fill_lag
    1
    >>> ok, prices, fees = model.fill_at(np.array([10.0, -5.0]), np.array([100.0, np.nan]))
    >>> ok.tolist(), prices.tolist(), fees.round(9).tolist()
    ([True, False], [100.1, 0.0], [1.001, 0.0])
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

    @property
    def no_price_reason(self) -> str:
        """Why an order whose asset has no price at the fill bar is cancelled."""
        return f"no {self.price_field.value} price at the fill bar"

    def check(self, panel: BarPanel) -> None:
        """Fail before the run if the data lacks the price field fills need."""
        panel.require(self.price_field, needed_by=f"execution={self.timing.value}")

    def fill_at(self, quantities: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(filled mask, execution prices, fees) for signed ``quantities`` at the fill bar's ``reference`` prices.

        An order fills where its reference price is finite: at the slipped price, paying the costs'
        fees; elsewhere its price and fees are 0 (it is cancelled with ``no_price_reason``).
        """
        ok = np.isfinite(reference)
        prices = np.where(ok, self.slippage.adjust(quantities, np.where(ok, reference, 0.0)), 0.0)
        fees = np.where(ok, self.costs.fees(quantities, prices), 0.0)
        return ok, prices, fees

    def fill(self, orders: OrderBatch, t: int, panel: BarPanel) -> FillBatch:
        """Fill ``orders`` at bar ``t``'s price; cancel those whose asset has no price there."""
        ok, prices, fees = self.fill_at(orders.quantities, panel.fields[self.price_field][t, orders.assets])
        status = np.where(ok, OrderStatus.FILLED.value, OrderStatus.CANCELLED.value)
        reasons = np.where(ok, "", self.no_price_reason)
        return FillBatch(orders, t, status, prices, fees, reasons)
