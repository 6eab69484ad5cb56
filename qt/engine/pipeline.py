"""The decision pipeline: strategy -> portfolio -> sizing -> pre-trade limits -> VaR, as one object.

``decide(ctx, scores, positions)`` is the one verb: from what is known at a decision bar and
the current book, it returns the decision, the orders to send (with why any was clipped) and
the orders refused with their reasons. The backtest session and live's driver call the same
object, so a strategy that ran in a backtest runs unchanged live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qt.context import DecisionContext
from qt.data.panel import BarPanel
from qt.enums import Field, OrderStatus
from qt.portfolio.base import PortfolioConstructor
from qt.risk.limits import PreTradeLimit, Proposal, check_limits
from qt.risk.models import ValueAtRisk
from qt.risk.sizing import Sizer
from qt.strategies.base import Strategy
from qt.types import FillBatch, OrderBatch, SolveReport


@dataclass(frozen=True)
class Decision:
    """One decision: the weights held before trading and the target after portfolio construction."""

    t: int
    before: np.ndarray
    target: np.ndarray
    report: SolveReport | None = None
    risk: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DecisionOutcome:
    """A decision, the orders to send (``notes``: why each was clipped, "" if not) and the refused orders."""

    decision: Decision
    orders: OrderBatch
    notes: np.ndarray
    refused: FillBatch | None


class DecisionPipeline:
    """Strategy -> portfolio -> sizing -> pre-trade limits -> VaR at one decision bar.

    Examples
    --------
    >>> from qt.data.sources.synthetic import SyntheticData
    >>> from qt.portfolio.optimizers import EqualWeight
    >>> from qt.strategies.equal_weight import EqualWeightStrategy
    >>> panel = SyntheticData(n_assets=4, n_days=30).load()
    >>> pipeline = DecisionPipeline(strategy=EqualWeightStrategy(), portfolio=EqualWeight(), sizer=Sizer())
    >>> ctx = DecisionContext(29, panel.timestamps[29], 1e6, np.zeros(4), panel)
    >>> out = pipeline.decide(ctx, np.ones(4), np.zeros(4))
    >>> out.decision.target.tolist(), len(out.orders)
    ([0.25, 0.25, 0.25, 0.25], 4)
    """

    def __init__(
        self,
        *,
        strategy: Strategy,
        portfolio: PortfolioConstructor,
        sizer: Sizer,
        limits: Sequence[PreTradeLimit] = (),
        var: ValueAtRisk | None = None,
    ) -> None:
        self.strategy = strategy
        self.portfolio = portfolio
        self.sizer = sizer
        self.limits = tuple(limits)
        self.var = var

    def check(self, panel: BarPanel) -> None:
        """Fail before the run if a limit needs a bar field the data lacks (e.g. volume)."""
        for i, limit in enumerate(self.limits):
            for needed in limit.needs:
                panel.require(needed, needed_by=f"risk.limits[{i}] ({type(limit).__name__})")

    def decide(self, ctx: DecisionContext, scores: np.ndarray, positions: np.ndarray) -> DecisionOutcome:
        """The decision at ``ctx.t`` from this bar's ``scores`` and the book's ``positions`` (shares)."""
        t, nav, before = ctx.t, ctx.nav, ctx.weights
        target = self.strategy.target(ctx, scores)
        if target is None:
            empty = OrderBatch(t, np.zeros(0, dtype=np.intp), np.zeros(0))
            return DecisionOutcome(Decision(t, before, before), empty, np.zeros(0, dtype=object), None)
        chosen = self.portfolio.weights(target, ctx)
        weights = chosen.weights
        risk = self.var.measure(weights, ctx) if self.var is not None else {}
        decision = Decision(t, before, weights, chosen.report, risk)
        close = ctx.history(Field.CLOSE, 1)[-1]
        sized = self.sizer.size(weights, nav, positions, close, ctx.tradable, t)
        proposal = Proposal(sized.orders, nav=nav, positions=positions, prices=close, symbols=ctx.symbols, ctx=ctx)
        checked = check_limits(self.limits, proposal)
        refused = _refused(t, [sized.dropped, checked.rejected], [sized.reasons, checked.reasons])
        return DecisionOutcome(decision, checked.orders, checked.notes, refused)


def _refused(t: int, batches: list[OrderBatch], reasons: list[np.ndarray]) -> FillBatch | None:
    """One FillBatch of REJECTED orders with their reasons, or None."""
    assets = np.concatenate([b.assets for b in batches])
    if assets.size == 0:
        return None
    quantities = np.concatenate([b.quantities for b in batches])
    n = assets.size
    status = np.full(n, OrderStatus.REJECTED.value)
    return FillBatch(OrderBatch(t, assets, quantities), t, status, np.zeros(n), np.zeros(n), np.concatenate(reasons))
