"""Assets that list and delist inside the period: never traded without a price, closed at delisting."""

from __future__ import annotations

import numpy as np
import pytest

from qt.backtest.engine import DELISTED, BacktestEngine
from qt.data.sources.synthetic import SyntheticData
from qt.enums import OrderStatus
from qt.execution.simulator import ExecutionSimulator
from qt.portfolio.optimizers import EqualWeight
from qt.rebalancing import Calendar
from qt.risk.sizing import Sizer
from qt.strategies.equal_weight import EqualWeightStrategy
from qt.strategies.xmom_crosssec import CrossSectionalMomentum
from qt.testing.panels import daily_panel

NAN = np.nan


def engine(strategy, timing="close"):
    return BacktestEngine(
        strategy=strategy,
        portfolio=EqualWeight(),
        sizer=Sizer(),
        execution=ExecutionSimulator(timing=timing),
        capital=900.0,
    )


def test_delisted_position_is_closed_at_its_last_price():
    #         A     B     C
    close = [
        [10.0, 10.0, NAN],  # t0: C not listed yet
        [10.0, 20.0, 10.0],  # t1: all three listed
        [10.0, 30.0, 10.0],  # t2: B's last price
        [10.0, NAN, 20.0],  # t3: B delisted
        [10.0, NAN, 20.0],
    ]
    strategy = EqualWeightStrategy(rebalance=Calendar(frequency="daily"))
    result = engine(strategy).run(daily_panel(close), strategy.scores(daily_panel(close)))
    # t0: A, B at 450 each. t1: NAV 900 + 45 * 10 = 1350 -> 450 each in A, B, C
    # t2: B 20 -> 30: NAV 1350 + 22.5 * 10 = 1575 -> 525 each (B: 17.5 shares)
    # t3: B closed at 30 (its last price) -> 525 cash; C 10 -> 20: NAV 1575 + 52.5 * 10 = 2100
    np.testing.assert_allclose(result.nav, [900.0, 1350.0, 1575.0, 2100.0, 2100.0])
    closing = [b for b in result.fills if (b.reasons == DELISTED).any()]
    assert len(closing) == 1 and closing[0].filled_at == 3
    assert closing[0].orders.assets.tolist() == [1]
    assert closing[0].orders.quantities[0] == pytest.approx(-17.5)
    assert closing[0].prices[0] == 30.0


def test_no_trade_ever_happens_without_a_price():
    panel = SyntheticData(n_assets=40, n_days=900, seed=2, staggered=True).load()
    for timing in ("close", "next_open"):
        strategy = CrossSectionalMomentum(lookback=63, skip=5, rebalance=Calendar(frequency="weekly"))
        result = engine(strategy, timing).run(panel, strategy.scores(panel))
        assert np.isfinite(result.nav).all()
        for b in result.fills:
            ok = b.filled & (b.reasons != DELISTED)
            assert panel.tradable[b.filled_at, b.orders.assets[ok]].all()
            assert np.isfinite(b.prices).all()
        cancelled = sum(int((b.status == OrderStatus.CANCELLED.value).sum()) for b in result.fills)
        if timing == "close":
            assert cancelled == 0
