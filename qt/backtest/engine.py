"""The backtest engine: one loop over time, numpy across assets.

Every bar is marked; strategy -> portfolio -> sizing run only at decision bars. Fills
happen at the decision bar's close or the next bar's open (the execution component
says which). An asset that stops trading is closed at its last price on the bar after.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from qt.backtest.execution_sim import ExecutionSimulator
from qt.backtest.portfolio import Ledger
from qt.context import DecisionContext
from qt.data.panel import BarPanel
from qt.enums import Field, OrderStatus
from qt.portfolio.base import PortfolioConstructor, SolveReport, solve_report
from qt.rebalancing import drift_rule
from qt.risk.limits import PreTradeLimits
from qt.risk.models import ValueAtRisk
from qt.risk.sizing import Sizer
from qt.risk.stops import PostTradeLimits, RiskEvent
from qt.strategies.base import Strategy
from qt.types import FillBatch, OrderBatch

DELISTED = "delisted: closed at its last price"


@dataclass(frozen=True)
class Decision:
    """One decision: the weights held before trading and the target after portfolio construction."""

    t: int
    before: np.ndarray
    target: np.ndarray
    report: SolveReport | None = None
    risk: dict[str, float] = field(default_factory=dict)


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
    events: list[RiskEvent] = field(default_factory=list)

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
        limits: PreTradeLimits | None = None,
        post_trade: PostTradeLimits | None = None,
        var: ValueAtRisk | None = None,
    ) -> None:
        self.strategy = strategy
        self.portfolio = portfolio
        self.sizer = sizer
        self.execution = execution
        self.capital = capital
        self.limits = limits
        self.post_trade = post_trade
        self.var = var

    def run(self, panel: BarPanel, scores: np.ndarray) -> BacktestResult:
        """Simulate every bar of ``panel`` given the strategy's precomputed ``scores`` [T x N]."""
        self.execution.check(panel)
        if self.limits is not None and self.limits.max_participation is not None:
            panel.require(Field.VOLUME, needed_by="risk.limits.max_participation")
        n_bars, n_assets = panel.n_bars, panel.n_assets
        marks, close, tradable, stamps = panel.mark_prices, panel.close, panel.tradable, panel.timestamps
        decide = self.strategy.rebalance.schedule(stamps)
        drift = drift_rule(self.strategy.rebalance)
        forced = drift.forced(stamps) if drift is not None else decide
        delistings = _delistings(panel)
        ledger = Ledger(cash=self.capital, n_assets=n_assets)
        nav, cash, gross, net, turnover = (np.zeros(n_bars) for _ in range(5))
        decisions: list[Decision] = []
        fills: list[FillBatch] = []
        events: list[RiskEvent] = []
        pending: OrderBatch | None = None
        notes: np.ndarray | None = None  # per pending order: why it was clipped
        halted, peak, previous = False, self.capital, self.capital

        for t in range(n_bars):
            traded = 0.0
            if pending is not None:
                batch = _annotate(self.execution.fill(pending, t, panel), notes)
                traded += ledger.apply(batch)
                fills.append(batch)
                pending, notes = None, None
            closing = _close_delisted(ledger, delistings[t], t, marks[t]) if t in delistings else None
            if closing is not None:
                traded += ledger.apply(closing)
                fills.append(closing)
            if (
                decide[t]
                and not halted
                and (drift is None or forced[t] or _drifted(drift.threshold, decisions, ledger, marks[t]))
            ):
                orders, order_notes, rejected, decision = self._decide(
                    t, ledger, panel, scores[t], marks[t], close[t], tradable[t]
                )
                decisions.append(decision)
                if rejected is not None:
                    fills.append(rejected)
                if len(orders) and self.execution.fill_lag == 0:
                    batch = _annotate(self.execution.fill(orders, t, panel), order_notes)
                    traded += ledger.apply(batch)
                    fills.append(batch)
                elif len(orders) and t + 1 < n_bars:
                    pending, notes = orders, order_notes
                elif len(orders):
                    fills.append(self.execution.expire(orders, "no bar after the decision to fill on"))
            if self.post_trade is not None and not halted:
                value = ledger.nav(marks[t])
                peak = max(peak, value)
                hits = self.post_trade.check(t, nav=value, peak=peak, previous=previous)
                if hits:
                    events.extend(hits)
                    halted = any(e.halt for e in hits)
                    if pending is not None:  # the stop replaces orders still waiting for the next bar
                        fills.append(self.execution.expire(pending, "superseded by " + hits[0].kind))
                    pending, notes, stopped = self._stop(hits, ledger, panel, t, fills)
                    traded += stopped
            held = ledger.positions * marks[t]
            cash[t] = ledger.cash
            nav[t] = ledger.cash + held.sum()
            gross[t] = np.abs(held).sum()
            net[t] = held.sum()
            turnover[t] = traded
            previous = nav[t]
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(nav > 0, 1.0 / nav, np.nan)
        return BacktestResult(
            panel, self.capital, nav, cash, gross * scale, net * scale, turnover * scale, decisions, fills, events
        )

    def _stop(
        self, hits: list[RiskEvent], ledger: Ledger, panel: BarPanel, t: int, fills: list[FillBatch]
    ) -> tuple[OrderBatch | None, np.ndarray | None, float]:
        """Scale the book as the events say: fill now (at close) or leave pending; returns pending, notes, traded."""
        stop = _scale_book(ledger, min(e.scale for e in hits), t, panel.tradable[t])
        notes = np.full(len(stop), hits[0].kind, dtype=object)
        if len(stop) and self.execution.fill_lag == 0:
            batch = _annotate(self.execution.fill(stop, t, panel), notes)
            fills.append(batch)
            return None, None, ledger.apply(batch)
        if len(stop) and t + 1 < panel.n_bars:
            return stop, notes, 0.0
        return None, None, 0.0

    def _decide(
        self,
        t: int,
        ledger: Ledger,
        panel: BarPanel,
        scores: np.ndarray,
        marks: np.ndarray,
        close: np.ndarray,
        tradable: np.ndarray,
    ) -> tuple[OrderBatch, np.ndarray | None, FillBatch | None, Decision]:
        """Strategy -> portfolio -> sizing -> pre-trade limits at decision bar t.

        Returns the orders to send, why each was clipped (or None), the rejected orders, the decision.
        """
        nav = ledger.nav(marks)
        before = ledger.weights(marks, nav)
        ctx = DecisionContext(t, panel.timestamps[t], nav, before, panel)
        target = self.strategy.target(ctx, scores)
        if target is None:
            return OrderBatch(t, np.zeros(0, dtype=np.intp), np.zeros(0)), None, None, Decision(t, before, before)
        weights = self.portfolio.weights(target, ctx).weights
        report = solve_report(self.portfolio)
        risk = self.var.measure(weights, ctx) if self.var is not None else {}
        decision = Decision(t, before, weights, report, risk)
        if self.limits is None and not self.sizer.min_trade_notional:
            return self.sizer.orders(weights, nav, ledger.positions, close, tradable, t), None, None, decision
        sized = self.sizer.size(weights, nav, ledger.positions, close, tradable, t)
        orders, order_notes = sized.orders, None
        dropped, reasons = [sized.dropped], [sized.reasons]
        if self.limits is not None:
            adv = None
            if self.limits.max_participation is not None:
                volume = ctx.history(Field.VOLUME, self.limits.adv_window)
                adv = np.nanmean(np.where(np.isfinite(volume), volume, np.nan), axis=0)
            checked = self.limits.check(
                orders, nav=nav, positions=ledger.positions, prices=close, symbols=panel.symbols, adv=adv
            )
            orders, order_notes = checked.orders, checked.notes
            dropped.append(checked.rejected)
            reasons.append(checked.reasons)
        return orders, order_notes, _rejected(t, dropped, reasons), decision


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


def _annotate(batch: FillBatch, notes: np.ndarray | None) -> FillBatch:
    """Add each order's clip note to its reason."""
    if notes is None or not (notes != "").any():
        return batch
    reasons = np.array([f"{r}; {n}" if r and n else (r or n) for r, n in zip(batch.reasons, notes, strict=True)])
    return replace(batch, reasons=reasons)


def _rejected(t: int, batches: list[OrderBatch], reasons: list[np.ndarray]) -> FillBatch | None:
    """One FillBatch of REJECTED orders with their reasons, or None."""
    assets = np.concatenate([b.assets for b in batches])
    if assets.size == 0:
        return None
    quantities = np.concatenate([b.quantities for b in batches])
    n = assets.size
    status = np.full(n, OrderStatus.REJECTED.value)
    return FillBatch(OrderBatch(t, assets, quantities), t, status, np.zeros(n), np.zeros(n), np.concatenate(reasons))


def _drifted(threshold: float, decisions: list[Decision], ledger: Ledger, marks: np.ndarray) -> bool:
    """True before the first decision, or when a weight moved more than ``threshold`` from its last target."""
    if not decisions:
        return True
    now = ledger.weights(marks, ledger.nav(marks))
    return bool(np.abs(now - decisions[-1].target).max(initial=0.0) > threshold)


def _scale_book(ledger: Ledger, scale: float, t: int, tradable: np.ndarray) -> OrderBatch:
    """Orders that scale every tradable position to ``scale`` of its size (0 = flatten)."""
    assets = np.flatnonzero((ledger.positions != 0) & tradable)
    return OrderBatch(t, assets, ledger.positions[assets] * (scale - 1.0))
