"""The backtest engine: the session stepped over every bar of a panel, numpy across assets.

Every bar is marked; strategy -> portfolio -> sizing -> limits run only at decision bars
(the ``DecisionPipeline``). Fills happen at the decision bar's close or the next bar's open
(the simulated venue). An asset that stops trading is closed at its last price on the bar after.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from qt.backtest.venue import SimulatedVenue
from qt.data.panel import BarPanel
from qt.engine.components import Components
from qt.engine.pipeline import Decision, DecisionPipeline
from qt.engine.session import DELISTED, Session, SessionState
from qt.execution.simulator import ExecutionSimulator
from qt.portfolio.base import PortfolioConstructor
from qt.rebalancing import drift_rule
from qt.results.result import RunResult
from qt.risk.limits import PreTradeLimit
from qt.risk.models import ValueAtRisk
from qt.risk.sizing import Sizer
from qt.risk.stops import PostTradeStop, RiskEvent
from qt.strategies.base import Strategy
from qt.types import FillBatch

__all__ = ["DELISTED", "BacktestEngine", "Decision", "RunResult"]


class BacktestEngine:
    """Runs a strategy over a panel with a portfolio constructor, a sizer and an execution model.

    Examples
    --------
    >>> from qt.data.sources.synthetic import SyntheticData
    >>> from qt.strategies.equal_weight import EqualWeightStrategy
    >>> from qt.portfolio.optimizers import EqualWeight
    >>> panel = SyntheticData(n_assets=5, n_days=60).load()
    >>> strategy = EqualWeightStrategy()
    >>> engine = BacktestEngine(strategy=strategy, portfolio=EqualWeight(), sizer=Sizer(),
    ...                         execution=ExecutionSimulator(), capital=1e6)
    >>> float(engine.run(panel, strategy.scores(panel)).nav[0])
    1000000.0
    """

    @classmethod
    def from_components(cls, parts: Components) -> BacktestEngine:
        """The engine a run's component graph describes (limits, stops and VaR included when configured)."""
        return cls(
            strategy=parts.strategy,
            portfolio=parts.portfolio,
            sizer=parts.sizer,
            execution=parts.execution,
            capital=parts.settings.capital,
            limits=parts.optional.get("risk.limits"),
            post_trade=parts.optional.get("risk.post_trade"),
            var=parts.optional.get("risk.var"),
        )

    def __init__(
        self,
        *,
        strategy: Strategy,
        portfolio: PortfolioConstructor,
        sizer: Sizer,
        execution: ExecutionSimulator,
        capital: float,
        limits: Sequence[PreTradeLimit] | None = None,
        post_trade: Sequence[PostTradeStop] | None = None,
        var: ValueAtRisk | None = None,
    ) -> None:
        self.pipeline = DecisionPipeline(
            strategy=strategy, portfolio=portfolio, sizer=sizer, limits=limits or (), var=var
        )
        self.execution = execution
        self.capital = capital
        self.post_trade = tuple(post_trade or ())

    @property
    def strategy(self) -> Strategy:
        """The pipeline's strategy."""
        return self.pipeline.strategy

    def session(self, panel: BarPanel, state: SessionState | None = None) -> Session:
        """A session over ``panel``: the simulated venue, this engine's pipeline and stops, a fresh book by default."""
        rule = drift_rule(self.strategy.rebalance)
        return Session(
            pipeline=self.pipeline,
            venue=SimulatedVenue(self.execution, panel),
            state=state or SessionState.start(self.capital, panel.n_assets),
            stops=self.post_trade,
            drift_threshold=rule.threshold if rule is not None else None,
        )

    def run(
        self,
        panel: BarPanel,
        scores: np.ndarray,
        *,
        state: SessionState | None = None,
        progress: Callable[[int, int], None] | None = None,
        start: int = 0,
    ) -> RunResult:
        """Simulate every bar of ``panel`` given the strategy's precomputed ``scores`` (first axis: bars).

        ``state`` starts from a book other than all cash (e.g. the last window's, in walk-forward);
        ``progress(done, total)`` is called after every bar. ``start``: the first bar traded, as
        ``live.start`` (earlier bars are history only: NAV stays at the starting capital).
        """
        self.pipeline.check(panel)
        session = self.session(panel, state)
        capital = session.state.ledger.nav(panel.mark_prices[0])
        stamps = panel.timestamps
        scheduled = self.strategy.rebalance.schedule(stamps)
        rule = drift_rule(self.strategy.rebalance)
        forced = rule.forced(stamps) if rule is not None else np.ones(len(stamps), dtype=bool)
        delistings = delisting_bars(panel)
        n = panel.n_bars
        nav, cash, gross, net, turnover = (np.zeros(n) for _ in range(5))
        decisions: list[Decision] = []
        fills: list[FillBatch] = []
        events: list[RiskEvent] = []
        nav[:start] = cash[:start] = capital
        for t in range(start, n):
            step = session.step(
                t, panel, scores[t], scheduled=bool(scheduled[t]), forced=bool(forced[t]), delisted=delistings.get(t)
            )
            nav[t], cash[t], gross[t], net[t], turnover[t] = step.nav, step.cash, step.gross, step.net, step.traded
            if step.decision is not None:
                decisions.append(step.decision)
            fills.extend(step.fills)
            events.extend(step.events)
            if progress is not None:
                progress(t + 1, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(nav > 0, 1.0 / nav, np.nan)
        return RunResult(
            panel, capital, nav, cash, gross * scale, net * scale, turnover * scale, decisions, fills, events
        )


def delisting_bars(panel: BarPanel) -> dict[int, np.ndarray]:
    """Bar -> assets whose last price was on the bar before (they stop trading there)."""
    after = panel.last_valid + 1
    stops = np.flatnonzero((panel.last_valid >= 0) & (after < panel.n_bars))
    out: dict[int, list[int]] = {}
    for a in stops:
        out.setdefault(int(after[a]), []).append(int(a))
    return {t: np.asarray(v, dtype=np.intp) for t, v in out.items()}
