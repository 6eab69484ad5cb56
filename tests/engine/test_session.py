"""The session stepped bar by bar by hand gives the backtest loop's NAV, orders and fills."""

from __future__ import annotations

import numpy as np
import pytest

from qt.backtest.engine import BacktestEngine, delisting_bars
from qt.data.sources.synthetic import SyntheticData
from qt.engine.session import NonFiniteBookError, SessionState
from qt.enums import TradingState
from qt.execution.simulator import ExecutionSimulator
from qt.portfolio.optimizers import EqualWeight
from qt.rebalancing import Calendar
from qt.results.writer import orders_table
from qt.risk.limits import MaxPositionWeight
from qt.risk.sizing import Sizer
from qt.risk.stops import DailyLossLimit, DrawdownStop
from qt.strategies.xmom_crosssec import CrossSectionalMomentum
from qt.testing.panels import daily_panel
from qt.types import TargetPositions


def engine(timing: str) -> BacktestEngine:
    return BacktestEngine(
        strategy=CrossSectionalMomentum(lookback=40, skip=5, quantile=0.3, rebalance=Calendar(frequency="weekly")),
        portfolio=EqualWeight(),
        sizer=Sizer(min_trade_notional=500.0),
        execution=ExecutionSimulator(timing=timing),
        capital=1e6,
        limits=[MaxPositionWeight(max_position_weight=0.2)],
        post_trade=[DailyLossLimit(max_loss=0.02)],
    )


@pytest.mark.parametrize("timing", ["close", "next_open"])
def test_stepping_the_session_by_hand_equals_the_backtest_loop(timing):
    panel = SyntheticData(n_assets=8, n_days=160, seed=3).load()
    eng = engine(timing)
    scores = eng.strategy.scores(panel)
    result = eng.run(panel, scores)

    session = eng.session(panel)
    scheduled = eng.strategy.rebalance.schedule(panel.timestamps)
    delisted = delisting_bars(panel)
    navs, fills, decisions, events = [], [], [], []
    for t in range(panel.n_bars):
        step = session.step(t, panel, scores[t], scheduled=bool(scheduled[t]), delisted=delisted.get(t))
        navs.append(step.nav)
        fills.extend(step.fills)
        events.extend(step.events)
        decisions += [step.decision] if step.decision else []

    np.testing.assert_array_equal(navs, result.nav)
    assert len(decisions) == len(result.decisions) > 10
    assert [e.t for e in events] == [e.t for e in result.events]
    by_hand = orders_table(
        type(result)(
            panel,
            1e6,
            result.nav,
            result.cash,
            result.gross_exposure,
            result.net_exposure,
            result.turnover,
            decisions,
            fills,
            events,
        )
    )
    assert by_hand.equals(orders_table(result))
    assert result.n_trades > 20


class AllIn:
    rebalance = Calendar(frequency="daily")

    def scores(self, panel):
        return np.ones(panel.close.shape)

    def target(self, ctx, scores):
        return TargetPositions(ctx.timestamp, np.ones(len(ctx.symbols)) / len(ctx.symbols), scores)


def run_stop(close, stop):
    panel = daily_panel(close)
    eng = BacktestEngine(
        strategy=AllIn(),
        portfolio=EqualWeight(),
        sizer=Sizer(),
        execution=ExecutionSimulator(),
        capital=1000.0,
        post_trade=[stop],
    )
    return eng, eng.run(panel, np.ones(panel.close.shape))


def test_a_halt_lasts_to_the_end_by_default_and_resume_after_ends_it():
    # one asset: 100 -> 80 (-20% drawdown, stop at 15%) then recovers to 120
    close = [[100.0], [80.0], [90.0], [100.0], [110.0], [120.0]]
    _, halted = run_stop(close, DrawdownStop(max_drawdown=0.15))
    assert [e.kind for e in halted.events] == ["drawdown_stop"]
    np.testing.assert_allclose(halted.nav, [1000, 800, 800, 800, 800, 800])  # flat in cash after the stop

    _, resumed = run_stop(close, DrawdownStop(max_drawdown=0.15, resume_after=2))
    assert [(e.t, e.kind) for e in resumed.events] == [(1, "drawdown_stop"), (3, "resume")]
    # back in at bar 3's close (100): 800 / 100 = 8 shares, then 110 and 120
    np.testing.assert_allclose(resumed.nav, [1000, 800, 800, 800, 880, 960])


def test_trading_state_is_an_enum_on_the_session_state():
    eng, _ = run_stop([[100.0], [80.0], [90.0]], DrawdownStop(max_drawdown=0.15))
    panel = daily_panel([[100.0], [80.0], [90.0]])
    session = eng.session(panel)
    assert session.state.trading is TradingState.ACTIVE
    session.step(0, panel, np.ones(1), scheduled=True)
    session.step(1, panel, np.ones(1), scheduled=True)
    assert session.state.trading is TradingState.HALTED


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_a_non_finite_book_stops_the_run_naming_bar_symbol_and_value():
    close = np.array([[10.0, 20.0], [10.0, 1e308], [10.0, np.inf]])
    panel = daily_panel(close, symbols=["AAA", "BBB"])
    eng = BacktestEngine(
        strategy=AllIn(), portfolio=EqualWeight(), sizer=Sizer(), execution=ExecutionSimulator(), capital=1000.0
    )
    # 25 shares of BBB bought at 20; marked at 1e308 the next bar, the position is worth 2.5e309 = inf
    with pytest.raises(
        NonFiniteBookError, match=r"^bar 2024-01-02: the position in BBB is worth inf \(25 shares at 1e\+308\)"
    ):
        eng.run(panel, np.ones(close.shape))


def test_a_carried_book_starts_where_the_last_run_ended():
    panel = daily_panel([[100.0], [110.0]])
    state = SessionState.start(0.0, 1)
    state.ledger.positions[:] = 10.0  # 10 shares, no cash
    eng = BacktestEngine(
        strategy=AllIn(), portfolio=EqualWeight(), sizer=Sizer(), execution=ExecutionSimulator(), capital=1.0
    )
    result = eng.run(panel, np.ones((2, 1)), state=state)
    assert result.capital == 1000.0 and result.nav.tolist() == [1000.0, 1100.0]
