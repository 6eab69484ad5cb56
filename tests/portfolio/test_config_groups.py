"""Every risk_model and constraints option composes into every risk-based portfolio; equal never imports cvxpy."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from qt.config.paths import conf_dir
from qt.engine.components import build_components
from qt.portfolio.constraints import Constraints
from qt.portfolio.risk_models import RiskModel


def options(group):
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


def compose_run(overrides):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


@pytest.mark.parametrize("risk_model", options("risk_model"))
@pytest.mark.parametrize("constraints", options("constraints"))
def test_risk_model_and_constraints_reach_the_optimizer(risk_model, constraints):
    cfg = compose_run(["portfolio=meanvar", f"risk_model={risk_model}", f"constraints={constraints}"])
    portfolio = build_components(cfg).portfolio
    assert isinstance(portfolio.risk_model, RiskModel) and isinstance(portfolio.constraints, Constraints)


def test_constraint_overrides_from_the_command_line():
    cfg = compose_run(["portfolio=meanvar", "constraints=long_only_capped", "constraints.max_weight=0.05"])
    assert build_components(cfg).portfolio.constraints.max_weight == 0.05


def test_conservative_risk_builds_limits_stops_var_and_stress():
    parts = build_components(compose_run(["risk=conservative"]))
    assert set(parts.optional) == {"risk.limits", "risk.post_trade", "risk.var", "risk.stress"}
    assert parts.sizer.cash_buffer == 0.02


def test_equal_weight_runs_never_import_cvxpy():
    code = (
        "import sys\n"
        "from qt.backtest.engine import BacktestEngine\n"
        "from qt.execution.simulator import ExecutionSimulator\n"
        "from qt.engine.components import build_components\n"
        "from qt.data.sources.synthetic import SyntheticData\n"
        "from qt.portfolio.optimizers import EqualWeight\n"
        "from qt.risk.models import ValueAtRisk\n"
        "from qt.risk.sizing import Sizer\n"
        "from qt.strategies.equal_weight import EqualWeightStrategy\n"
        "panel = SyntheticData(n_assets=5, n_days=60).load()\n"
        "s = EqualWeightStrategy()\n"
        "e = BacktestEngine(strategy=s, portfolio=EqualWeight(), sizer=Sizer(), execution=ExecutionSimulator(),"
        " capital=1e6, var=ValueAtRisk())\n"
        "e.run(panel, s.scores(panel))\n"
        "print('cvxpy' in sys.modules, 'scipy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
