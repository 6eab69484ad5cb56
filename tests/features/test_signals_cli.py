"""`qt signals` lists built-ins, TA-Lib functions with their parameters, and plugins."""

from __future__ import annotations

import numpy as np
import pytest

from qt.commands.check import check_execution
from qt.commands.signals import catalog
from qt.data.sources.synthetic import SyntheticData
from qt.execution.simulator import ExecutionSimulator


def test_catalog_has_builtins_talib_and_plugins():
    rows = {(kind, name): params for kind, name, params, _ in catalog()}
    assert rows[("signal", "momentum")] == "lookback=252, skip=21"
    assert rows[("talib", "RSI")] == "timeperiod=14"
    assert ("plugin", "breakout") in rows
    assert sum(kind == "talib" for kind, _ in rows) > 150


def test_qt_signals_cli(qt_cli):
    result = qt_cli("signals", "MACD")
    assert result.returncode == 0
    assert "fastperiod=12, slowperiod=26, signalperiod=9" in result.stdout and "macdhist" in result.stdout
    unknown = qt_cli("signals", "momentm")
    assert unknown.returncode == 1 and "did you mean" in unknown.stdout
    listing = qt_cli("signals", "--no-talib")
    assert "breakout" in listing.stdout and "RSI " not in listing.stdout


class SameBarOpen(ExecutionSimulator):
    """Fills at the decision bar's open: a price from before the decision."""

    @property
    def fill_lag(self) -> int:
        return 0


@pytest.mark.parametrize(
    ("execution", "ok"),
    [
        (ExecutionSimulator(), True),
        (ExecutionSimulator(timing="next_open"), True),
        (SameBarOpen(timing="next_open"), False),
    ],
)
def test_execution_prices_must_come_after_the_decision(execution, ok):
    from qt.config.settings import RunSettings
    from qt.engine.components import Components
    from qt.portfolio.optimizers import EqualWeight
    from qt.risk.sizing import Sizer
    from qt.strategies.equal_weight import EqualWeightStrategy

    panel = SyntheticData(n_assets=3, n_days=80, seed=1).load()
    parts = Components(
        data=SyntheticData(n_assets=3, n_days=80, seed=1),
        strategy=EqualWeightStrategy(),
        portfolio=EqualWeight(),
        sizer=Sizer(),
        execution=execution,
        settings=RunSettings(capital=1e6),
    )
    problem = check_execution(parts, panel)
    assert (problem is None) is ok
    if not ok:
        assert "before the decision's information" in problem
    assert np.isfinite(panel.close).all()
