"""Accounting invariants under random orders and prices (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qt.backtest.engine import BacktestEngine
from qt.engine.ledger import Ledger
from qt.enums import OrderStatus
from qt.execution.costs import BpsCosts
from qt.execution.simulator import ExecutionSimulator
from qt.execution.slippage import FixedBps
from qt.portfolio.optimizers import EqualWeight
from qt.rebalancing import Calendar
from qt.risk.sizing import Sizer
from qt.testing.panels import daily_panel
from qt.types import FillBatch, OrderBatch, TargetPositions

N = 4
prices = st.floats(0.5, 500.0, allow_nan=False)
quantities = st.floats(-1e4, 1e4, allow_nan=False)


@st.composite
def fill_batches(draw):
    assets = np.array(sorted(draw(st.sets(st.integers(0, N - 1), min_size=1, max_size=N))), dtype=np.intp)
    n = assets.size
    q = np.array(draw(st.lists(quantities, min_size=n, max_size=n)))
    p = np.array(draw(st.lists(prices, min_size=n, max_size=n)))
    fees = np.array(draw(st.lists(st.floats(0, 50), min_size=n, max_size=n)))
    filled = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    status = np.where(filled, OrderStatus.FILLED.value, OrderStatus.CANCELLED.value)
    return FillBatch(
        OrderBatch(0, assets, q),
        0,
        status,
        np.where(filled, p, 0.0),
        np.where(filled, fees, 0.0),
        np.where(filled, "", "cancelled"),
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(fill_batches(), min_size=1, max_size=8), arrays(np.float64, N, elements=prices), st.floats(0, 1e7))
def test_fills_conserve_value(batches, marks, capital):
    book = Ledger(cash=capital, n_assets=N)
    cash, positions = capital, np.zeros(N)
    for b in batches:
        m = b.filled
        before_nav = book.nav(marks)
        book.apply(b)
        # each fill moves cash by -q*p - fees and positions by q; nothing else changes
        cash += float(sum(-q * p - f for q, p, f in zip(b.orders.quantities[m], b.prices[m], b.fees[m], strict=True)))
        for a, q in zip(b.orders.assets[m], b.orders.quantities[m], strict=True):
            positions[a] += q
        np.testing.assert_allclose(book.cash, cash, rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(book.positions, positions, rtol=1e-12, atol=1e-9)
        # NAV at unchanged marks changes only by trading at prices other than the marks, and by fees
        slip = float(b.orders.quantities[m] @ (marks[b.orders.assets[m]] - b.prices[m]))
        np.testing.assert_allclose(book.nav(marks) - before_nav, slip - b.fees[m].sum(), rtol=1e-9, atol=1e-5)
    np.testing.assert_allclose(book.nav(marks), book.cash + book.positions @ marks, rtol=1e-12)


class RandomBook:
    """A test strategy: the raw weights of row t of a fixed random matrix."""

    def __init__(self, weights):
        self.weights = weights
        self.rebalance = Calendar(frequency="daily")

    def scores(self, panel):
        return np.ones(panel.close.shape)

    def target(self, ctx, scores):
        return TargetPositions(ctx.timestamp, self.weights[ctx.t], scores)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, (12, N), elements=st.floats(1.0, 200.0)),
    arrays(np.float64, (12, N), elements=st.floats(-1.0, 1.0)),
    st.sampled_from(["close", "next_open"]),
    st.floats(0, 30),
)
def test_engine_nav_is_cash_plus_positions_at_every_bar(close, weights, timing, bps):
    panel = daily_panel(close, open_=close * 1.01)
    execution = ExecutionSimulator(timing=timing, costs=BpsCosts(bps=bps), slippage=FixedBps(bps=bps / 2))
    engine = BacktestEngine(
        strategy=RandomBook(weights), portfolio=EqualWeight(), sizer=Sizer(), execution=execution, capital=1e5
    )
    result = engine.run(panel, np.ones(close.shape))
    # rebuild cash and positions from the fills alone
    cash = np.full(len(close), 1e5)
    positions = np.zeros((len(close), N))
    fees_paid = 0.0
    for b in result.fills:
        m = b.filled
        q, p, a = b.orders.quantities[m], b.prices[m], b.orders.assets[m]
        cash[b.filled_at :] += -(q @ p) - b.fees[m].sum()
        fees_paid += b.fees[m].sum()
        np.add.at(positions[b.filled_at :], (slice(None), a), q)
    nav = cash + (positions * close).sum(axis=1)
    np.testing.assert_allclose(result.cash, cash, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(result.nav, nav, rtol=1e-9, atol=1e-6)
    assert fees_paid >= 0
