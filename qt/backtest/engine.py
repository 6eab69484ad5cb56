"""The backtest engine: one loop over time, numpy across assets.

Every bar is marked; strategy -> portfolio -> sizing run only at decision bars. Fills
happen at the decision bar's close or the next bar's open (the execution component
says which). An asset that stops trading is closed at its last price on the bar after.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qt.backtest.execution_sim import ExecutionSimulator
from qt.backtest.portfolio import Ledger
from qt.data.panel import BarPanel
from qt.enums import OrderStatus
from qt.portfolio.base import PortfolioConstructor
from qt.risk.sizing import Sizer
from qt.strategies.base import DecisionContext, Strategy
from qt.types import FillBatch, OrderBatch

DELISTED = "delisted: closed at its last price"


@dataclass(frozen=True)
class Decision:
    """One decision: the weights held before trading and the target after portfolio construction."""

    t: int
    before: np.ndarray
    target: np.ndarray


@dataclass(frozen=True)
class BacktestResult:
    """Per-bar accounting series [T], the decisions, and every order's outcome."""

    panel: BarPanel
    capital: float
    nav: np.ndarray
    cash: np.ndarray
    gross_exposure: np.ndarray
    net_exposure: np.ndarray
    turnover: np.ndarray
    decisions: list[Decision] = field(default_factory=list)
    fills: list[FillBatch] = field(default_factory=list)

    @property
    def returns(self) -> np.ndarray:
        """Simple return per bar; the first is against the starting capital."""
        prev = np.r_[self.capital, self.nav[:-1]]
        return self.nav / prev - 1.0

    @property
    def n_trades(self) -> int:
        """Number of filled orders."""
        return int(sum(int(f.filled.sum()) for f in self.fills))


class BacktestEngine:
    """Runs a strategy over a panel with a portfolio constructor, a sizer and an execution model.

    Examples
    --------
    >>> from qt.data.sources.synthetic import SyntheticData
    >>> from qt.strategies.equal_weight import EqualWeightStrategy
    >>> from qt.portfolio.optimizers import EqualWeight
    >>> from qt.risk.sizing import Sizer
    >>> panel = SyntheticData(n_assets=5, n_days=60).load()
    >>> strategy = EqualWeightStrategy()
    >>> engine = BacktestEngine(strategy=strategy, portfolio=EqualWeight(), sizer=Sizer(),
    ...                         execution=ExecutionSimulator(), capital=1e6)
    >>> float(engine.run(panel, strategy.scores(panel)).nav[0])
    1000000.0
    """

    def __init__(
        self,
        *,
        strategy: Strategy,
        portfolio: PortfolioConstructor,
        sizer: Sizer,
        execution: ExecutionSimulator,
        capital: float,
    ) -> None:
        self.strategy = strategy
        self.portfolio = portfolio
        self.sizer = sizer
        self.execution = execution
        self.capital = capital

    def run(self, panel: BarPanel, scores: np.ndarray) -> BacktestResult:
        """Simulate every bar of ``panel`` given the strategy's precomputed ``scores`` [T x N]."""
        self.execution.check(panel)
        n_bars, n_assets = panel.n_bars, panel.n_assets
        marks, close, tradable, stamps = panel.mark_prices, panel.close, panel.tradable, panel.timestamps
        decide = self.strategy.rebalance.schedule(stamps)
        delistings = _delistings(panel)
        ledger = Ledger(cash=self.capital, n_assets=n_assets)
        nav, cash, gross, net, turnover = (np.zeros(n_bars) for _ in range(5))
        decisions: list[Decision] = []
        fills: list[FillBatch] = []
        pending: OrderBatch | None = None

        for t in range(n_bars):
            traded = 0.0
            if pending is not None:
                batch = self.execution.fill(pending, t, panel)
                traded += ledger.apply(batch)
                fills.append(batch)
                pending = None
            closing = _close_delisted(ledger, delistings[t], t, marks[t]) if t in delistings else None
            if closing is not None:
                traded += ledger.apply(closing)
                fills.append(closing)
            if decide[t]:
                orders, decision = self._decide(t, ledger, panel, scores[t], marks[t], close[t], tradable[t])
                decisions.append(decision)
                if len(orders) and self.execution.fill_lag == 0:
                    batch = self.execution.fill(orders, t, panel)
                    traded += ledger.apply(batch)
                    fills.append(batch)
                elif len(orders) and t + 1 < n_bars:
                    pending = orders
                elif len(orders):
                    fills.append(self.execution.expire(orders, "no bar after the decision to fill on"))
            held = ledger.positions * marks[t]
            cash[t] = ledger.cash
            nav[t] = ledger.cash + held.sum()
            gross[t] = np.abs(held).sum()
            net[t] = held.sum()
            turnover[t] = traded
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(nav > 0, 1.0 / nav, np.nan)
        return BacktestResult(
            panel, self.capital, nav, cash, gross * scale, net * scale, turnover * scale, decisions, fills
        )

    def _decide(
        self,
        t: int,
        ledger: Ledger,
        panel: BarPanel,
        scores: np.ndarray,
        marks: np.ndarray,
        close: np.ndarray,
        tradable: np.ndarray,
    ) -> tuple[OrderBatch, Decision]:
        """Strategy -> portfolio -> sizing at decision bar t."""
        nav = ledger.nav(marks)
        before = ledger.weights(marks, nav)
        ctx = DecisionContext(t, panel.timestamps[t], nav, before, panel)
        target = self.strategy.target(ctx, scores)
        if target is None:
            return OrderBatch(t, np.zeros(0, dtype=np.intp), np.zeros(0)), Decision(t, before, before)
        weights = self.portfolio.weights(target, ctx).weights
        orders = self.sizer.orders(weights, nav, ledger.positions, close, tradable, t)
        return orders, Decision(t, before, weights)


def _delistings(panel: BarPanel) -> dict[int, np.ndarray]:
    """Bar -> assets whose last price was on the bar before (they stop trading there)."""
    after = panel.last_valid + 1
    stops = np.flatnonzero((panel.last_valid >= 0) & (after < panel.n_bars))
    out: dict[int, list[int]] = {}
    for a in stops:
        out.setdefault(int(after[a]), []).append(int(a))
    return {t: np.asarray(v, dtype=np.intp) for t, v in out.items()}


def _close_delisted(ledger: Ledger, assets: np.ndarray, t: int, marks: np.ndarray) -> FillBatch | None:
    """Fill that closes held positions in ``assets`` at their last price, without fees."""
    held = assets[ledger.positions[assets] != 0]
    if held.size == 0:
        return None
    orders = OrderBatch(t, held, -ledger.positions[held])
    n = held.size
    return FillBatch(orders, t, np.full(n, OrderStatus.FILLED.value), marks[held], np.zeros(n), np.full(n, DELISTED))
