"""The session: one bar's step over one state, the same for the backtest and live.

``step`` does, in order: collect the venue's fills -> close delisted positions -> mark ->
decide when the schedule fires and trading is ACTIVE -> submit -> post-trade stops -> record
NAV. The backtest drives it with a loop over a panel; live drives it from a feed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from qt.context import DecisionContext
from qt.data.panel import BarPanel
from qt.engine.ledger import Ledger
from qt.engine.pipeline import Decision, DecisionOutcome, DecisionPipeline
from qt.engine.venue import ExecutionVenue
from qt.enums import OrderStatus, TradingState
from qt.errors import QtError
from qt.risk.stops import BookMarks, PostTradeStop, RiskEvent
from qt.types import FillBatch, OrderBatch

DELISTED = "delisted: closed at its last price"


class NonFiniteBookError(QtError):
    """NAV, cash or a position value stopped being a finite number."""


@dataclass
class SessionState:
    """What the step changes: the book, NAV's running peak and last value, and whether trading is allowed."""

    ledger: Ledger
    peak: float
    previous: float
    trading: TradingState = TradingState.ACTIVE
    resume_at: int | None = None  # the bar a halt ends at (None: it lasts)
    last_target: np.ndarray | None = None  # the last decision's target weights (for drift rules)

    @classmethod
    def start(cls, capital: float, n_assets: int) -> SessionState:
        """All cash, no positions, ACTIVE."""
        return cls(Ledger(cash=capital, n_assets=n_assets), float(capital), float(capital))


@dataclass(frozen=True)
class StepResult:
    """One bar's outcome: the marked book, the notional traded, and what happened."""

    t: int
    nav: float
    cash: float
    gross: float
    net: float
    traded: float
    decision: Decision | None = None
    fills: list[FillBatch] = field(default_factory=list)
    events: list[RiskEvent] = field(default_factory=list)


class Session:
    """Steps one book through bars: fills, marks, decisions, stops.

    Examples
    --------
    >>> from qt.backtest.venue import SimulatedVenue
    >>> from qt.execution.simulator import ExecutionSimulator
    >>> from qt.data.sources.synthetic import SyntheticData
    >>> from qt.portfolio.optimizers import EqualWeight
    >>> from qt.risk.sizing import Sizer
    >>> from qt.strategies.equal_weight import EqualWeightStrategy
    >>> panel = SyntheticData(n_assets=3, n_days=5).load()
    >>> pipeline = DecisionPipeline(strategy=EqualWeightStrategy(), portfolio=EqualWeight(), sizer=Sizer())
    >>> session = Session(pipeline=pipeline, venue=SimulatedVenue(ExecutionSimulator(), panel),
    ...                   state=SessionState.start(1e6, 3))
    >>> session.step(0, panel, np.ones(3), scheduled=True).traded
    1000000.0
    """

    def __init__(
        self,
        *,
        pipeline: DecisionPipeline,
        venue: ExecutionVenue,
        state: SessionState,
        stops: Sequence[PostTradeStop] = (),
        drift_threshold: float | None = None,
        on_decision: Callable[[DecisionOutcome], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.venue = venue
        self.state = state
        self.stops = tuple(stops)
        self.drift_threshold = drift_threshold
        self.on_decision = on_decision  # live records each decision durably before its orders are sent

    def step(
        self,
        t: int,
        panel: BarPanel,
        scores: np.ndarray,
        *,
        scheduled: bool,
        forced: bool = False,
        delisted: np.ndarray | None = None,
        decided: DecisionOutcome | None = None,
    ) -> StepResult:
        """Advance the book through bar ``t`` of ``panel`` (rows after t are never read).

        ``scores`` is the strategy's score row at t; ``scheduled``: the rebalance rule fires at t
        (``forced``: it decides whatever the drift); ``delisted``: assets whose last price was at t - 1;
        ``decided``: a decision already made at t (live, after a restart): its orders are re-submitted
        (the venue sends only what never left) instead of deciding again.
        """
        state, ledger = self.state, self.state.ledger
        marks = panel.mark_prices[t]
        fills: list[FillBatch] = []
        events: list[RiskEvent] = []
        traded = self._book(self.venue.poll(t), fills)
        if delisted is not None:
            traded += self._book([c for c in [_close_delisted(ledger, delisted, t, marks)] if c is not None], fills)
        if state.trading is TradingState.HALTED and state.resume_at is not None and t >= state.resume_at:
            events.append(self._resume(t, marks))
        decision = None
        if decided is not None or (
            scheduled and state.trading is TradingState.ACTIVE and (forced or self._drifted(marks))
        ):
            decision, outcome = self._decide(t, panel, scores, marks, decided)
            traded += self._book(outcome, fills)
        if self.stops and state.trading is not TradingState.HALTED:
            hits = self._check_stops(t, ledger.nav(marks))
            if hits:
                events.extend(hits)
                traded += self._book(self._act_on(hits, t, panel.tradable[t]), fills)
        held = ledger.positions * marks
        nav = ledger.cash + float(held.sum())
        if not math.isfinite(nav):
            raise _non_finite(panel, t, ledger, held)
        state.previous = nav
        return StepResult(
            t, nav, ledger.cash, float(np.abs(held).sum()), float(held.sum()), traded, decision, fills, events
        )

    def _book(self, batches: list[FillBatch], fills: list[FillBatch]) -> float:
        """Apply ``batches`` to the ledger and record them; the notional traded."""
        traded = 0.0
        for batch in batches:
            traded += self.state.ledger.apply(batch)
            fills.append(batch)
        return traded

    def _drifted(self, marks: np.ndarray) -> bool:
        """Without a drift rule: always. With one: before the first decision, or when a weight moved past it."""
        last = self.state.last_target
        if self.drift_threshold is None or last is None:
            return True
        ledger = self.state.ledger
        now = ledger.weights(marks, ledger.nav(marks))
        return bool(np.abs(now - last).max(initial=0.0) > self.drift_threshold)

    def _decide(
        self, t: int, panel: BarPanel, scores: np.ndarray, marks: np.ndarray, decided: DecisionOutcome | None
    ) -> tuple[Decision, list[FillBatch]]:
        """Run the pipeline (unless ``decided``), submit its orders; the decision, the refusals, the venue's news."""
        ledger = self.state.ledger
        if decided is None:
            nav = ledger.nav(marks)
            ctx = DecisionContext(t, panel.timestamps[t], nav, ledger.weights(marks, nav), panel)
            out = self.pipeline.decide(ctx, scores, ledger.positions)
            if self.on_decision is not None:
                self.on_decision(out)
        else:
            out = decided
        self.state.last_target = out.decision.target
        self.venue.submit(out.orders, t, out.notes)
        refused = [out.refused] if out.refused is not None else []
        return out.decision, refused + self.venue.poll(t)

    def _check_stops(self, t: int, nav: float) -> list[RiskEvent]:
        """The stops' events at this bar (NAV's running peak updated first)."""
        state = self.state
        state.peak = max(state.peak, nav)
        marks = BookMarks(t, nav=nav, peak=state.peak, previous=state.previous)
        return [e for e in (stop.check(marks) for stop in self.stops) if e is not None]

    def _act_on(self, hits: list[RiskEvent], t: int, tradable: np.ndarray) -> list[FillBatch]:
        """Cancel waiting orders, halt if a stop says so, and scale the book to the smallest scale."""
        first = hits[0]
        halting = [e for e in hits if e.halt]
        if halting:
            self.state.trading = TradingState.HALTED
            after = halting[0].resume_after
            self.state.resume_at = t + after if after is not None else None
        cancelled = self.venue.cancel_open(t, "superseded by " + first.kind)
        stop = _scale_book(self.state.ledger, min(e.scale for e in hits), t, tradable)
        self.venue.submit(stop, t, np.full(len(stop), first.kind, dtype=object))
        return cancelled + self.venue.poll(t)

    def _resume(self, t: int, marks: np.ndarray) -> RiskEvent:
        """End a halt: trading ACTIVE again, the drawdown measured from NAV now."""
        state = self.state
        bars = t - (state.resume_at or t)
        state.trading, state.resume_at = TradingState.ACTIVE, None
        state.peak = state.ledger.nav(marks)
        return RiskEvent(t, "resume", f"trading resumes{f' ({bars} bars late)' if bars else ''}", 1.0, False)


def _close_delisted(ledger: Ledger, assets: np.ndarray, t: int, marks: np.ndarray) -> FillBatch | None:
    """Fill that closes held positions in ``assets`` at their last price, without fees."""
    held = assets[ledger.positions[assets] != 0]
    if held.size == 0:
        return None
    orders = OrderBatch(t, held, -ledger.positions[held])
    n = held.size
    return FillBatch(orders, t, np.full(n, OrderStatus.FILLED.value), marks[held], np.zeros(n), np.full(n, DELISTED))


def _scale_book(ledger: Ledger, scale: float, t: int, tradable: np.ndarray) -> OrderBatch:
    """Orders that scale every tradable position to ``scale`` of its size (0 = flatten)."""
    assets = np.flatnonzero((ledger.positions != 0) & tradable)
    return OrderBatch(t, assets, ledger.positions[assets] * (scale - 1.0))


def _non_finite(panel: BarPanel, t: int, ledger: Ledger, held: np.ndarray) -> NonFiniteBookError:
    """Name the bar, the symbol and the value that made the book non-finite."""
    when = str(np.datetime_as_string(panel.timestamps[t], unit="s")).removesuffix("T00:00:00")
    bad = np.flatnonzero(~np.isfinite(held))
    if bad.size:
        a = int(bad[0])
        return NonFiniteBookError(
            f"bar {when}: the position in {panel.symbols[a]} is worth {held[a]} "
            f"({ledger.positions[a]:g} shares at {panel.mark_prices[t, a]:g}); check that symbol's prices in the data"
        )
    return NonFiniteBookError(
        f"bar {when}: cash became {ledger.cash}; a fill at a non-finite or absurd price - check the prices of that bar"
    )
