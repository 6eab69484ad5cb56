"""What `qt run` leaves for evaluation: performance.json, benchmark.parquet, the tearsheet switch, bad benchmarks."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qt.evaluation.performance import analyze
from qt.evaluation.run_data import RunData

REPO = Path(__file__).resolve().parents[2]
SMALL = ("data=synthetic", "data.n_assets=25", "data.n_days=400", "strategy.params.lookback=63")


def qt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qt", *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
def test_benchmark_symbol_run_writes_relative_stats(tmp_path):
    out = qt("run", "strategy=xmom", "benchmark=KO", "start=2015-01-01", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    perf = json.loads((tmp_path / "performance.json").read_text())
    s = perf["summary"]
    assert s["benchmark"] == "KO"
    for key in ("alpha", "beta", "information_ratio", "tracking_error", "up_capture", "down_capture"):
        assert isinstance(s[key], float), key
    bench = pd.read_parquet(tmp_path / "benchmark.parquet")
    equity = pd.read_parquet(tmp_path / "equity.parquet")
    assert len(bench) == len(equity) and bench["return"].iloc[0] == 0.0
    prices = pd.read_parquet(REPO / "qt/data/sample/sp500_20_daily_close.parquet")
    ko = prices[prices["symbol"] == "KO"].set_index("date")["close"]
    ko = ko[ko.index >= "2015-01-01"]
    np.testing.assert_allclose(bench["return"].to_numpy()[1:], (ko.to_numpy()[1:] / ko.to_numpy()[:-1]) - 1, rtol=1e-12)
    assert "alpha" in out.stdout and "beta" in out.stdout
    assert len(perf["drawdowns"]) <= 5 and perf["annual_returns"]


@pytest.mark.slow
def test_tearsheet_can_be_turned_off(tmp_path):
    out = qt("run", *SMALL, "report.tearsheet=false", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "tearsheet.html").exists()
    assert (tmp_path / "performance.json").exists() and not (tmp_path / "benchmark.parquet").exists()
    assert "tearsheet:" not in out.stdout


@pytest.mark.slow
def test_unknown_benchmark_is_one_clear_error(tmp_path):
    out = qt("run", *SMALL, "benchmark=NOPE", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2
    assert "benchmark: 'NOPE' is neither a symbol of data set" in out.stderr and "Traceback" not in out.stderr
    # checked against the loaded data before the backtest: no result file of any kind
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hydra", "run.log"]


# weekly bars count 52 a year, daily ones 252 trading days, hourly bars 7 per 6.5 h session
@pytest.mark.parametrize(("step", "ppy"), [("7D", 52.0), ("1D", 252.0), ("1h", 252.0 * 7.0)])
def test_annualization_follows_the_bar_frequency(step, ppy):
    n = 400
    rng = np.random.default_rng(3)
    r = rng.normal(0.001, 0.01, n)
    stamps = (np.datetime64("2020-01-06T00:00") + np.arange(n) * pd.Timedelta(step).to_timedelta64()).astype(
        "datetime64[us]"
    )
    nav = 100.0 * np.cumprod(1 + r)
    run = RunData(
        run_dir=Path("/nonexistent"),
        timestamps=stamps,
        nav=nav,
        capital=100.0,
        gross=np.ones(n),
        net=np.ones(n),
        turnover=np.zeros(n),
        weights=pd.DataFrame(columns=["timestamp", "symbol", "weight_before", "target_weight"]),
        fills=pd.DataFrame({"fees": []}),
        metrics={},
        config={},
    )
    s = analyze(run).summary
    assert s["periods_per_year"] == ppy
    assert math.isclose(s["ann_vol"], float(np.std(r, ddof=1)) * math.sqrt(ppy), rel_tol=1e-9)
    assert math.isclose(s["sharpe"], float(np.mean(r) / np.std(r, ddof=1)) * math.sqrt(ppy), rel_tol=1e-9)
