"""End to end: every portfolio= option, risk=conservative and strategy=multi run from the CLI on the bundled data."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from qt.config.paths import conf_dir

pytestmark = pytest.mark.slow
PORTFOLIOS = sorted(p.stem for p in (conf_dir() / "portfolio").glob("*.yaml"))


@pytest.mark.parametrize("portfolio", PORTFOLIOS)
def test_every_portfolio_option_runs_on_the_bundled_data(qt_cli, tmp_path, portfolio):
    out = qt_cli("run", "strategy=xmom", f"portfolio={portfolio}", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    decisions = pd.read_parquet(tmp_path / "decisions.parquet")
    assert len(decisions) > 300 and decisions.gross.max() == pytest.approx(1.0, abs=1e-6)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n_trades"] > 0 and "var" in metrics and "stress" in metrics
    assert json.loads((tmp_path / "stress.json").read_text())["scenarios"]


def test_conservative_risk_clips_positions_and_records_reasons(qt_cli, tmp_path):
    out = qt_cli("run", "strategy=xmom", "risk=conservative", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    orders = pd.read_parquet(tmp_path / "orders.parquet")
    assert orders.reason.str.startswith("clipped: position weight").any()
    weights = pd.read_parquet(tmp_path / "weights.parquet")
    assert weights.target_weight.max() == pytest.approx(1.0 / 4)  # the optimizer's book; the limit clips the orders
    equity = pd.read_parquet(tmp_path / "equity.parquet")
    traded = equity[equity.turnover > 0]
    assert traded.gross_exposure.max() <= 0.4 + 1e-9  # right after trading: 4 names x the 10% cap


def test_multi_strategy_with_two_sleeves(qt_cli, tmp_path):
    out = qt_cli("run", "strategy=multi", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    weights = pd.read_parquet(tmp_path / "weights.parquet")
    assert weights.groupby("timestamp").symbol.count().max() > 4  # both sleeves' names are held


def test_bad_portfolio_config_fails_before_the_run(qt_cli, tmp_path):
    out = qt_cli("run", "portfolio=meanvar", "portfolio.risk_aversion=-1", f"hydra.run.dir={tmp_path}")
    assert out.returncode != 0 and "portfolio.risk_aversion" in out.stderr + out.stdout
    out = qt_cli(
        "run", "portfolio=minvar", "constraints.max_weight=0.1", "constraints.max_names=5", f"hydra.run.dir={tmp_path}"
    )
    assert out.returncode != 0 and "max_names 5 x max_weight 0.1 < net 1.0" in out.stderr + out.stdout
    assert not (tmp_path / "equity.parquet").exists()


def test_a_meanvar_rerun_is_byte_identical(qt_cli, tmp_path):
    runs = [tmp_path / "a", tmp_path / "b"]
    for run_dir in runs:
        out = qt_cli("run", "strategy=xmom", "portfolio=meanvar", "risk=conservative", f"hydra.run.dir={run_dir}")
        assert out.returncode == 0, out.stderr
    for name in (
        "weights.parquet",
        "orders.parquet",
        "decisions.parquet",
        "events.parquet",
        "metrics.json",
        "stress.json",
    ):
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name
